// initializers: struct-valued expressions with named members in any order,
// '...' (every member not given gets its default: 0, or an invalid header)
// and '{#}' (an invalid header). The right-hand side is read before any
// member is written: 'g = { a = g.b, b = g.a }' swaps.
//
// Packet: h = a:8 b:8, u = x:8. Out on port 0: h, u (if valid), g.
// h = { b = 1, a = u.x }; u made invalid when x == 9; g = { b = 7, ... }
// with g.a = m2.m + m2.n where m2 = { n = 5, ... }; then g's fields swap.
#include <core.p4>
#include <v1model.p4>

header h_t { bit<8> a; bit<8> b; }
header u_t { bit<8> x; }
struct headers_t { h_t h; u_t u; h_t g; }
struct meta_t { bit<8> m; bit<8> n; }

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); pkt.extract(hdr.u); transition accept; }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    apply {
        hdr.h = { b = 8w1, a = hdr.u.x };
        if (hdr.u.x == 9) {
            hdr.u = {#};
        }
        h_t x = { b = 7, ... };
        hdr.g = x;
        meta_t m2 = { n = 5, ... };
        hdr.g.a = m2.m + m2.n;
        hdr.g = { a = hdr.g.b, b = hdr.g.a };
        sm.egress_spec = 0;
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) { apply { } }
control MyCompute(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyDeparser(packet_out pkt, in headers_t hdr) {
    apply { pkt.emit(hdr.h); pkt.emit(hdr.u); pkt.emit(hdr.g); }
}
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(), MyDeparser()) main;
