// expr_wide_arith: arithmetic on bit<64> and bit<128>: wrapping + and *, a
// widened subtraction that borrows across 64 bits, run-time and constant
// shifts of a 128-bit value by amounts above 64, unary minus, comparisons and
// a 128-bit XOR of concatenations.
//
// Packet: h = x:64 y:64 z:128 n:8; r (made valid) = sum:64 mul:64 sub:128
// shl:128 shr:128 neg:64 flags:8 xr:128. Out port 1.
#include <core.p4>
#include <v1model.p4>

header h_t { bit<64> x; bit<64> y; bit<128> z; bit<8> n; }
header r_t {
    bit<64>  sum;
    bit<64>  mul;
    bit<128> sub;
    bit<128> shl;
    bit<128> shr;
    bit<64>  neg;
    bit<8>   flags;
    bit<128> xr;
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
        hdr.r.sum = hdr.h.x + hdr.h.y;
        hdr.r.mul = hdr.h.x * hdr.h.y;
        hdr.r.sub = hdr.h.z - (bit<128>)hdr.h.x;
        hdr.r.shl = hdr.h.z << hdr.h.n;
        hdr.r.shr = hdr.h.z >> 65;
        hdr.r.neg = -hdr.h.x;
        bit<8> f = 0;
        if (hdr.h.x > hdr.h.y) { f = f | 1; }
        if (hdr.h.z >= (bit<128>)hdr.h.y) { f = f | 2; }
        if (hdr.h.z[127:64] == hdr.h.x) { f = f | 4; }
        hdr.r.flags = f;
        hdr.r.xr = (hdr.h.x ++ hdr.h.y) ^ hdr.h.z;
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
