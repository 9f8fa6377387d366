// apply_in_conditional_operand: a table applied in an operand that may not be
// evaluated (right of || and &&, a branch of ?:) runs only when that operand does.
#include <core.p4>
#include <v1model.p4>
header h_t { bit<8> a; bit<8> b; bit<16> c; bit<8> d; bit<8> e; bit<8> flag; }
struct headers_t { h_t h; }
struct meta_t { }
parser P(packet_in pkt, out headers_t hdr, inout meta_t m, inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control V(inout headers_t hdr, inout meta_t m) { apply { } }
control I(inout headers_t hdr, inout meta_t m, inout standard_metadata_t sm) {
    action set_b(bit<8> v) { hdr.h.b = v; }
    action bump() { hdr.h.c = hdr.h.c + 1; }
    table t1 { key = { hdr.h.a : exact; } actions = { set_b; NoAction; } default_action = NoAction; }
    table t2 { key = { hdr.h.a : exact; } actions = { bump; NoAction; } default_action = NoAction; }
    table t3 { key = { hdr.h.a : exact; } actions = { NoAction; } default_action = NoAction; }
    apply {
        bool first = hdr.h.a == 1 || t1.apply().hit;
        if (first) { hdr.h.flag = 1; } else { hdr.h.flag = 0; }
        if (hdr.h.a == 2 && t2.apply().hit) { hdr.h.d = 0xd2; }
        hdr.h.e = hdr.h.a == 3 ? (t3.apply().hit ? 8w7 : 8w8) : 8w9;
        sm.egress_spec = 1;
    }
}
control E(inout headers_t hdr, inout meta_t m, inout standard_metadata_t sm) { apply { } }
control C(inout headers_t hdr, inout meta_t m) { apply { } }
control D(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
