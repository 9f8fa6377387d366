// expr_mixed_forms: expression shapes beyond the corpus: slices of a cast,
// of a sum and of a concatenation; a nested ?: chain; a widened sum in a
// comparison; a cast of a slice; a cast then shift (the shift happens at the
// new width); a product of widened operands; negation of a signed value;
// saturating + and - on bit<8>; comparison with an untyped literal wider
// than 8 bits.
//
// Packet: h = a:8 b:8 w:16; r (made valid here) = s1:8 s2:8 s3:8 n1:8 c1:8
// c2:16 sh:16 m:16 neg:16 sat:8 satm:8 cmp:8. Out port 1.
#include <core.p4>
#include <v1model.p4>

header h_t { bit<8> a; bit<8> b; bit<16> w; }
header r_t {
    bit<8>  s1;
    bit<8>  s2;
    bit<8>  s3;
    bit<8>  n1;
    bit<8>  c1;
    bit<16> c2;
    bit<16> sh;
    bit<16> m;
    bit<16> neg;
    bit<8>  sat;
    bit<8>  satm;
    bit<8>  cmp;
}
struct headers_t { h_t h; r_t r; }
struct meta_t { }

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    apply {
        sm.egress_spec = 1;
        hdr.r.setValid();
        hdr.r.s1 = ((bit<16>)hdr.h.b)[11:4];
        hdr.r.s2 = (hdr.h.w + 1)[15:8];
        hdr.r.s3 = (hdr.h.a ++ hdr.h.b)[11:4];
        hdr.r.n1 = hdr.h.a == 0 ? 8w1 : hdr.h.a == 1 ? 8w2 : 8w3;
        hdr.r.c1 = ((bit<16>)hdr.h.a + 16w300 > hdr.h.w) ? 8w1 : 8w0;
        hdr.r.c2 = (bit<16>)hdr.h.w[7:0];
        hdr.r.sh = (bit<16>)hdr.h.a << 4;
        hdr.r.m = (bit<16>)hdr.h.a * (bit<16>)hdr.h.b;
        int<16> s = -(int<16>)hdr.h.w;
        hdr.r.neg = (bit<16>)s;
        hdr.r.sat = hdr.h.a |+| hdr.h.b;
        hdr.r.satm = hdr.h.a |-| hdr.h.b;
        hdr.r.cmp = hdr.h.w > 300 ? 8w1 : 8w0;
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) { apply { } }
control MyCompute(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyDeparser(packet_out pkt, in headers_t hdr) {
    apply { pkt.emit(hdr.h); pkt.emit(hdr.r); }
}
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(),
         MyDeparser()) main;
