// function_aggregate_args: functions taking a header or a struct holding a
// header as an 'in' parameter, given a header of the packet or a list
// expression ('{ { 3, 4 }, 10 }' makes a valid header inside a struct).
//
// Packet: h = a:8 b:8. Out on port 0: b = b + 1 (through a copy of h),
// a = a + 3 + 10.
#include <core.p4>
#include <v1model.p4>

header h_t { bit<8> a; bit<8> b; }
struct pair_t { h_t x; bit<8> k; }
struct headers_t { h_t h; }
struct meta_t { bit<8> m; }

bit<8> next_b(in h_t v) {
    return v.b + 1;
}

bit<8> from_pair(in pair_t p) {
    if (p.x.isValid()) {
        return p.x.a + p.k;
    }
    return 0xEE;
}

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    apply {
        hdr.h.b = next_b(hdr.h);
        meta.m = from_pair({ { 8w3, 8w4 }, 8w10 });
        hdr.h.a = hdr.h.a + meta.m;
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) { apply { } }
control MyCompute(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyDeparser(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); } }
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(), MyDeparser()) main;
