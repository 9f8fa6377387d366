// hash_identity_wide: identity over more than 8 bytes of input (BMv2's
// identity keeps only the first 8 bytes: bm_sim/calculations.cpp), crc32
// and crc32_custom (whose default parameters equal the standard CRC-32)
// truncated into a bit<16> result, and a 64-bit max.
//
// Packet: h = a:32 b:32 c:16, then r = i1:32 c1:16 c2:16 i2:64. Out port 1.
#include <core.p4>
#include <v1model.p4>

header h_t { bit<32> a; bit<32> b; bit<16> c; }
header r_t { bit<32> i1; bit<16> c1; bit<16> c2; bit<64> i2; }
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
        hash(hdr.r.i1, HashAlgorithm.identity, 32w0,
             { hdr.h.a, hdr.h.b, hdr.h.c }, 64w0x100000000);
        hash(hdr.r.c1, HashAlgorithm.crc32, 16w0,
             { hdr.h.a, hdr.h.c }, 64w0x100000000);
        hash(hdr.r.c2, HashAlgorithm.crc32_custom, 16w0,
             { hdr.h.a, hdr.h.c }, 64w0x100000000);
        hash(hdr.r.i2, HashAlgorithm.identity, 64w5,
             { hdr.h.c, hdr.h.a }, 64w0xffffffffffffffff);
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
