// table_key_notations: control-plane key spellings: lpm in binary with a
// prefix length that is not a multiple of 4 (/5, /11), ternary with '*'
// digits in the middle of a hex or binary value, an optional key next to a
// ternary one, and an exact bit<9> key written in decimal.
//
// Packet: h = p:16 q:8 r:8 s:8 o1:8 o2:8. Out port 1.
#include <core.p4>
#include <v1model.p4>

header h_t { bit<16> p; bit<8> q; bit<8> r; bit<8> s; bit<8> o1; bit<8> o2; }
struct headers_t { h_t h; }
struct meta_t { }

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    action s1(bit<8> v) { hdr.h.o1 = v; }
    action s2(bit<8> v) { hdr.h.o2 = v; }
    table tl {
        key = {
            hdr.h.p : lpm;
            sm.ingress_port : exact @name("port");
        }
        actions = { s1; NoAction; }
        default_action = NoAction();
    }
    table tt {
        key = {
            hdr.h.q : ternary;
            hdr.h.r : optional;
            hdr.h.s : ternary;
        }
        actions = { s2; NoAction; }
        default_action = NoAction();
    }
    apply {
        sm.egress_spec = 1;
        tl.apply();
        tt.apply();
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) { apply { } }
control MyCompute(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyDeparser(packet_out pkt, in headers_t hdr) {
    apply { pkt.emit(hdr.h); }
}
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(),
         MyDeparser()) main;
