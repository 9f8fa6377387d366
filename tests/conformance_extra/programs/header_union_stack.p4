// header_union_stack: a stack of header unions, indexed by constants. The
// parser extracts one member of each element; setValid() on a member of an
// element invalidates its other member; isValid() of an element is true when
// a member is valid; emitting the stack emits the valid members in order.
//
// Packet: t = t0:8 t1:8, then us[0] (a:8 if t0 == 1, else b:16), then us[1]
// (a:8 if t1 == 1, else b:16). Out on port 0.
#include <core.p4>
#include <v1model.p4>

header A { bit<8> a; }
header B { bit<16> b; }
header_union U { A a; B b; }
header T { bit<8> t0; bit<8> t1; }
struct headers_t { T t; U[2] us; }
struct meta_t { }

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start {
        pkt.extract(hdr.t);
        transition select(hdr.t.t0) { 1: first_a; default: first_b; }
    }
    state first_a { pkt.extract(hdr.us[0].a); transition second; }
    state first_b { pkt.extract(hdr.us[0].b); transition second; }
    state second { transition select(hdr.t.t1) { 1: second_a; default: second_b; } }
    state second_a { pkt.extract(hdr.us[1].a); transition accept; }
    state second_b { pkt.extract(hdr.us[1].b); transition accept; }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    apply {
        if (hdr.us[1].b.isValid()) {
            hdr.us[1].a.setValid();
            hdr.us[1].a.a = 0xEE;
        }
        if (hdr.us[0].isValid()) {
            hdr.t.t1 = 0x77;
        }
        sm.egress_spec = 0;
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) { apply { } }
control MyCompute(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyDeparser(packet_out pkt, in headers_t hdr) {
    apply { pkt.emit(hdr.t); pkt.emit(hdr.us); }
}
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(), MyDeparser()) main;
