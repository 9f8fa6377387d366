// table_lpm_exact_switch: a table with one lpm key and two exact keys (BMv2
// match_type lpm: exact keys must match, then the longest prefix wins), and
// a switch on action_run with five actions (one with a shared body, one
// default case, one action without a case); the miss runs the default action
// that the STF replaces with setdefault (with a parameter), so action_run is
// that action.
//
// Packet: h = dst:32 proto:8 port:16 tag:8 res:8. Out port = egress_spec.
#include <core.p4>
#include <v1model.p4>

header h_t {
    bit<32> dst;
    bit<8>  proto;
    bit<16> port;
    bit<8>  tag;
    bit<8>  res;
}
struct headers_t { h_t h; }
struct meta_t { }

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    action a1(bit<8> v) { hdr.h.tag = v; }
    action a2() { hdr.h.tag = 0x22; }
    action a3(bit<9> p) { sm.egress_spec = p; }
    action a4() { hdr.h.tag = 0x44; }
    action a5(bit<8> v) { hdr.h.tag = v; }
    action drop() { mark_to_drop(sm); }
    table t {
        key = {
            hdr.h.proto : exact;
            hdr.h.dst   : lpm;
            hdr.h.port  : exact;
        }
        actions = { a1; a2; a3; a4; a5; drop; }
        default_action = a4();
    }
    apply {
        sm.egress_spec = 1;
        switch (t.apply().action_run) {
            a1: { hdr.h.res = 0x01; }
            a2:
            a3: { hdr.h.res = 0x23; }
            a5: { hdr.h.res = hdr.h.tag + 1; }
            default: { hdr.h.res = 0xdd; }
        }
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
