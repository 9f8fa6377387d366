// hash_mixed_widths: hash() with crc16_custom (BMv2's default crc16_custom
// parameters equal CRC-16/ARC), xor16 and csum16 over field lists whose
// fields are not byte aligned. BMv2 packs the listed fields bit by bit into a
// buffer (no per-field padding) and pads the last byte with zero bits
// (BufBuilder in bm_sim/calculations.cpp). Results use base + (hash mod max).
//
// Packet: h = a:4 b:12 c:8 d:16 x:3 y:6 z:7, then r = h1:16 h2:16 h3:16 h4:16.
// Out port 1.
#include <core.p4>
#include <v1model.p4>

header h_t {
    bit<4>  a;
    bit<12> b;
    bit<8>  c;
    bit<16> d;
    bit<3>  x;
    bit<6>  y;
    bit<7>  z;
}
header r_t { bit<16> h1; bit<16> h2; bit<16> h3; bit<16> h4; }
struct headers_t { h_t h; r_t r; }
struct meta_t { }

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); pkt.extract(hdr.r); transition accept; }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    apply {
        sm.egress_spec = 1;
        hash(hdr.r.h1, HashAlgorithm.crc16_custom, 16w0,
             { hdr.h.a, hdr.h.b, hdr.h.c }, 32w65536);
        hash(hdr.r.h2, HashAlgorithm.xor16, 16w0,
             { hdr.h.a, hdr.h.b, hdr.h.c, hdr.h.d }, 32w65536);
        hash(hdr.r.h3, HashAlgorithm.csum16, 16w0,
             { hdr.h.x, hdr.h.y }, 32w65536);
        hash(hdr.r.h4, HashAlgorithm.xor16, 16w7,
             { hdr.h.c, hdr.h.z, hdr.h.x }, 32w1000);
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
