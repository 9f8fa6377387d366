// expr_int_wide: int<16> comparisons and wrapping arithmetic, sign extension
// through int<32>, arithmetic >> by a constant and by a run-time amount
// (including amounts >= the width), narrowing int<16> -> int<8>, a 64-bit
// concatenation shifted left at run time, slices of slices concatenated, and
// a constant shift that pushes bits out of a bit<48>.
//
// Input: h = x:16 y:16 s:8. The program makes o valid (zeroed by setValid) and
// fills it; output = h, o, payload. Out port 1.
#include <core.p4>
#include <v1model.p4>

header h_t { bit<16> x; bit<16> y; bit<8> s; }
header o_t {
    bit<8>  flags;
    bit<32> sext;
    bit<16> sra4;
    bit<16> sra_var;
    bit<16> mul;
    bit<8>  narrow;
    bit<64> cat;
    bit<64> cat_shl;
    bit<8>  sl;
    bit<48> shl40;
}
struct headers_t { h_t h; o_t o; }
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
        hdr.o.setValid();
        int<16> a = (int<16>)hdr.h.x;
        int<16> b = (int<16>)hdr.h.y;
        bit<8> f = 0;
        if (a < b) { f = f | 1; }
        if (hdr.h.x < hdr.h.y) { f = f | 2; }
        if (a > -100) { f = f | 4; }
        int<16> sum = a + b;
        if (sum < 0) { f = f | 8; }
        bool ge = a >= b;
        if (ge && a != 0) { f = f | 0x10; }
        hdr.o.flags = f;
        hdr.o.sext = (bit<32>)(int<32>)a;
        hdr.o.sra4 = (bit<16>)(a >> 4);
        hdr.o.sra_var = (bit<16>)(a >> hdr.h.s);
        int<16> prod = a * b;
        hdr.o.mul = (bit<16>)prod;
        hdr.o.narrow = (bit<8>)(int<8>)a;
        bit<64> w = hdr.h.x ++ hdr.h.y ++ hdr.h.y ++ hdr.h.x;
        hdr.o.cat = w;
        hdr.o.cat_shl = w << hdr.h.s;
        hdr.o.sl = hdr.h.x[11:0][7:4] ++ hdr.h.y[15:8][3:0];
        hdr.o.shl40 = ((bit<48>)hdr.h.x) << 40;
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) { apply { } }
control MyCompute(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyDeparser(packet_out pkt, in headers_t hdr) {
    apply { pkt.emit(hdr.h); pkt.emit(hdr.o); }
}
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(),
         MyDeparser()) main;
