// parser_counter_loop: a parser loop bounded by a count read from the packet
// and kept in metadata (decremented in each iteration, select on it), stack
// elements extracted with .next; select on the stack's .last field; an
// explicit constant-index extract into a second stack; metadata written in
// the parser and read in ingress; .lastIndex read in the parser.
//
// Packet: cnt:8, then cnt items i(v:8), then a 1-byte "tail" t(v:8) that is
// extracted into tl[1] when the last item's v is 0xff (else tl[0]).
#include <core.p4>
#include <v1model.p4>

header c_t { bit<8> cnt; bit<8> info; }
header i_t { bit<8> v; }
struct headers_t { c_t c; i_t[4] items; i_t[2] tl; }
struct meta_t { bit<8> left; bit<8> sum; bit<8> lastidx; }

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start {
        pkt.extract(hdr.c);
        meta.left = hdr.c.cnt;
        transition select(meta.left) {
            0: accept;
            default: item;
        }
    }
    state item {
        pkt.extract(hdr.items.next);
        meta.sum = meta.sum + hdr.items.last.v;
        meta.left = meta.left - 1;
        meta.lastidx = (bit<8>)hdr.items.lastIndex;
        transition select(meta.left) {
            0: tail;
            default: item;
        }
    }
    state tail {
        transition select(hdr.items.last.v) {
            0xff: tail1;
            default: tail0;
        }
    }
    state tail0 { pkt.extract(hdr.tl[0]); transition accept; }
    state tail1 { pkt.extract(hdr.tl[1]); transition accept; }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    apply {
        sm.egress_spec = 1;
        hdr.c.info = meta.sum ^ (meta.lastidx << 6);
        if (hdr.tl[1].isValid()) {
            hdr.tl[1].v = hdr.tl[1].v + 1;
        }
        if (sm.parser_error == error.StackOutOfBounds) {
            hdr.c.info = 0xee;
        }
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) { apply { } }
control MyCompute(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyDeparser(packet_out pkt, in headers_t hdr) {
    apply { pkt.emit(hdr.c); pkt.emit(hdr.items); pkt.emit(hdr.tl); }
}
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(),
         MyDeparser()) main;
