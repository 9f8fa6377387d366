// hash_check_values: every v1model hash algorithm BMv2 loads, over the
// catalogue check input "123456789" (nine bytes), against the published
// check values: CRC-16/ARC 0xbb3d (crc16, and crc16_custom with BMv2's
// default parameters), CRC-32 0xcbf43926 (crc32, crc32_custom), the
// Internet checksum 0xf62a (csum16), the XOR of big-endian 16-bit words
// with a zero-padded last byte 0x3908 (xor16) and the first eight bytes as
// a number (identity). Result = base + (hash mod max).
//
// Packet: d = data:72, then r = ten result fields. Out port 1.
#include <core.p4>
#include <v1model.p4>

header d_t { bit<72> data; }
header r_t {
    bit<16> crc16;
    bit<16> crc16c;
    bit<32> crc32;
    bit<32> crc32c;
    bit<16> csum;
    bit<16> xor;
    bit<32> ident;
    bit<32> based;
    bit<8>  small;
    bit<16> split;
}
struct headers_t { d_t d; r_t r; }
struct meta_t { }

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.d); pkt.extract(hdr.r); transition accept; }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    apply {
        sm.egress_spec = 1;
        hash(hdr.r.crc16, HashAlgorithm.crc16, 16w0, { hdr.d.data }, 32w65536);
        hash(hdr.r.crc16c, HashAlgorithm.crc16_custom, 16w0, { hdr.d.data }, 32w65536);
        hash(hdr.r.crc32, HashAlgorithm.crc32, 32w0, { hdr.d.data }, 64w0x100000000);
        hash(hdr.r.crc32c, HashAlgorithm.crc32_custom, 32w0, { hdr.d.data }, 64w0x100000000);
        hash(hdr.r.csum, HashAlgorithm.csum16, 16w0, { hdr.d.data }, 32w65536);
        hash(hdr.r.xor, HashAlgorithm.xor16, 16w0, { hdr.d.data }, 32w65536);
        hash(hdr.r.ident, HashAlgorithm.identity, 32w0, { hdr.d.data }, 64w0x100000000);
        hash(hdr.r.based, HashAlgorithm.crc32, 32w10, { hdr.d.data }, 32w1000);
        // the result is cut to the output's width after base + (hash mod max)
        hash(hdr.r.small, HashAlgorithm.crc16, 8w0, { hdr.d.data }, 32w65536);
        // the same bytes split over three fields hash the same
        hash(hdr.r.split, HashAlgorithm.crc16, 16w0,
             { hdr.d.data[71:64], hdr.d.data[63:32], hdr.d.data[31:0] }, 32w65536);
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) { apply { } }
control MyCompute(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyDeparser(packet_out pkt, in headers_t hdr) {
    apply { pkt.emit(hdr.d); pkt.emit(hdr.r); }
}
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(),
         MyDeparser()) main;
