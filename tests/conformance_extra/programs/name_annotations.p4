// name_annotations: @name on actions and tables changes their control-plane
// names: a relative @name("x") is prefixed with the enclosing control's
// instance name (MyIngress.x); an absolute @name(".y") is used as is.
// The STF adds entries through the annotated names only.
//
// Packet: h = k:8 r1:8 r2:8. Out port = egress_spec.
#include <core.p4>
#include <v1model.p4>

header h_t { bit<8> k; bit<8> r1; bit<8> r2; }
struct headers_t { h_t h; }
struct meta_t { }

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    @name("set_first") action a1(bit<8> v) { hdr.h.r1 = v; }
    @name(".global_second") action a2(bit<8> v, bit<9> p) {
        hdr.h.r2 = v;
        sm.egress_spec = p;
    }
    @name("first_table") table t1 {
        key = { hdr.h.k : exact @name("kk"); }
        actions = { a1; NoAction; }
        default_action = NoAction();
    }
    @name(".second_table") table t2 {
        key = { hdr.h.r1 : exact; }
        actions = { a2; NoAction; }
        default_action = NoAction();
    }
    apply {
        sm.egress_spec = 1;
        t1.apply();
        t2.apply();
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
