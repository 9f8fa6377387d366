// compound_assign: the spec's compound assignments (a op= b is a = a op b): += on a
// header field, saturating |-|= and |+|=, <<=, ^=, and += in a for loop's update.
#include <core.p4>
#include <v1model.p4>
header h_t { bit<8> a; bit<8> b; bit<8> c; bit<8> d; }
struct headers_t { h_t h; }
struct meta_t { }
parser P(packet_in pkt, out headers_t hdr, inout meta_t m, inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control V(inout headers_t hdr, inout meta_t m) { apply { } }
control I(inout headers_t hdr, inout meta_t m, inout standard_metadata_t sm) {
    action sat(inout bit<8> s) {
        for (bit<8> i = 0; i < 4; i += 1) { s |+|= 100; }
    }
    apply {
        hdr.h.a += 3;
        hdr.h.b |-|= 10;
        hdr.h.c <<= 2;
        hdr.h.d ^= 0xff;
        bit<8> s = 0;
        sat(s);
        hdr.h.a = hdr.h.a + (s >> 4);
        sm.egress_spec = 1;
    }
}
control E(inout headers_t hdr, inout meta_t m, inout standard_metadata_t sm) { apply { } }
control C(inout headers_t hdr, inout meta_t m) { apply { } }
control D(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
