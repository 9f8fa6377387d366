// parser_select_concat_advance: a select on a tuple of a concatenation
// (masked keyset) and a lookahead (range keyset), advance by a run-time
// amount computed from a field (cast then shift), and metadata computed in
// the parser with widened operands.
//
// Packet: h = a:8 b:8 w:16, then payload. Out port 1.
#include <core.p4>
#include <v1model.p4>

header h_t { bit<8> a; bit<8> b; bit<16> w; }
struct headers_t { h_t h; }
struct meta_t { bit<16> m; }

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start {
        pkt.extract(hdr.h);
        meta.m = (bit<16>)hdr.h.a + (bit<16>)hdr.h.b;
        transition select(hdr.h.a ++ hdr.h.b, pkt.lookahead<bit<8>>()) {
            (0x0102 &&& 0xff0f, 0x00 .. 0x10): skip;
            default: accept;
        }
    }
    state skip {
        pkt.advance((bit<32>)hdr.h.b << 3);
        transition accept;
    }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    apply {
        sm.egress_spec = 1;
        hdr.h.w = meta.m;
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
