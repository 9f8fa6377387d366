// stack_control_ops: a 5-element header stack used in ingress: constant-index
// field reads/writes (hdr.s[1].v), push_front(3), pop_front(2), push_front of
// the whole size, pop then push, element-to-element assignment (validity is
// copied), isValid on an element, and .size.
//
// Packet: op(code:8, info:8), then three elements e(v:8) parsed with .next,
// then payload. Out port 1. The deparser emits op, then the whole stack
// (invalid elements are skipped).
#include <core.p4>
#include <v1model.p4>

header op_t { bit<8> code; bit<8> info; }
header e_t { bit<8> v; }
struct headers_t { op_t op; e_t[5] s; }
struct meta_t { }

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start {
        pkt.extract(hdr.op);
        pkt.extract(hdr.s.next);
        pkt.extract(hdr.s.next);
        pkt.extract(hdr.s.next);
        transition accept;
    }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    apply {
        sm.egress_spec = 1;
        if (hdr.op.code == 1) {
            hdr.s[1].v = hdr.s[0].v + hdr.s[2].v;
            hdr.op.info = (bit<8>)hdr.s.size;
        } else if (hdr.op.code == 2) {
            hdr.s.push_front(3);
            hdr.s[1].setValid();
            hdr.s[1].v = 0x77;
        } else if (hdr.op.code == 3) {
            hdr.s.pop_front(2);
            hdr.s[4].setValid();
            hdr.s[4].v = 0x44;
        } else if (hdr.op.code == 4) {
            hdr.s[0] = hdr.s[2];
            hdr.s[2].setInvalid();
            hdr.s[3] = hdr.s[1];
        } else if (hdr.op.code == 5) {
            hdr.s.push_front(5);
        } else if (hdr.op.code == 6) {
            hdr.s.pop_front(1);
            hdr.s.push_front(1);
        } else if (hdr.op.code == 7) {
            if (hdr.s[2].isValid()) {
                hdr.op.info = 1;
            } else {
                hdr.op.info = 2;
            }
        }
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) { apply { } }
control MyCompute(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyDeparser(packet_out pkt, in headers_t hdr) {
    apply { pkt.emit(hdr.op); pkt.emit(hdr.s); }
}
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(),
         MyDeparser()) main;
