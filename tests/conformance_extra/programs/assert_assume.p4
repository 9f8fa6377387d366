// assert_assume: v1model assert() and assume() as BMv2 runs them: a check
// that holds does nothing (in ingress, in an action, in egress); one that
// fails aborts BMv2 ("Assert error: ... failed"), so that packet never comes
// out (the STF's last packet; BMv2 itself would take no packet after it).
//
// Packet: h = a:8 b:8. Out port 1.
#include <core.p4>
#include <v1model.p4>

header h_t { bit<8> a; bit<8> b; }
struct headers_t { h_t h; }
struct meta_t { }

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    action checked(bit<8> v) {
        assume(v != 0);
        hdr.h.b = v;
    }
    table t {
        key = { hdr.h.a : exact; }
        actions = { checked; NoAction; }
        default_action = checked(1);
    }
    apply {
        assert(hdr.h.isValid());
        t.apply();
        assert(hdr.h.a != 0xff);
        sm.egress_spec = 1;
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) {
    apply { assume(sm.egress_port == 1); hdr.h.a = hdr.h.a + 1; }
}
control MyCompute(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyDeparser(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); } }
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(),
         MyDeparser()) main;
