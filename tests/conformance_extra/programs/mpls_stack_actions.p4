// mpls_stack_actions: an MPLS-like label stack (label:20 tc:3 bos:1 ttl:8)
// parsed until bos, with push/swap/pop done in table actions: push_front(1)
// plus setValid and a bos bit computed with ?: from the validity of the next
// element, pop_front(1), and an action that copies a stack element into
// another element.
//
// Packet: top = op:8, then labels, then payload. Out port 1.
#include <core.p4>
#include <v1model.p4>

header top_t { bit<8> op; }
header mpls_t { bit<20> label; bit<3> tc; bit<1> bos; bit<8> ttl; }
struct headers_t { top_t top; mpls_t[3] mpls; }
struct meta_t { }

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.top); transition parse_mpls; }
    state parse_mpls {
        pkt.extract(hdr.mpls.next);
        transition select(hdr.mpls.last.bos) {
            1: accept;
            default: parse_mpls;
        }
    }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    action push_label(bit<20> label) {
        hdr.mpls.push_front(1);
        hdr.mpls[0].setValid();
        hdr.mpls[0].label = label;
        hdr.mpls[0].ttl = 64;
        hdr.mpls[0].bos = hdr.mpls[1].isValid() ? 1w0 : 1w1;
    }
    action swap_label(bit<20> label) {
        hdr.mpls[0].label = label;
        hdr.mpls[0].ttl = hdr.mpls[0].ttl - 1;
    }
    action pop_label() {
        hdr.mpls.pop_front(1);
    }
    action dup_top() {
        hdr.mpls[2] = hdr.mpls[1];
        hdr.mpls[1] = hdr.mpls[0];
        hdr.mpls[1].bos = 0;
    }
    table t {
        key = { hdr.top.op : exact; }
        actions = { push_label; swap_label; pop_label; dup_top; NoAction; }
        default_action = NoAction();
    }
    apply {
        sm.egress_spec = 1;
        t.apply();
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) { apply { } }
control MyCompute(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyDeparser(packet_out pkt, in headers_t hdr) {
    apply { pkt.emit(hdr.top); pkt.emit(hdr.mpls); }
}
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(),
         MyDeparser()) main;
