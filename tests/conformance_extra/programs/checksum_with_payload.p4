// checksum_with_payload: verify_checksum_with_payload / update_checksum_with_payload
// (csum16) over two header fields followed by the packet payload. In BMv2
// the payload is the part of the packet after the parsed headers (the
// checksum is updated at the start of deparsing, before headers are
// prepended); an odd-length payload is padded with a zero byte.
//
// Packet: r = err:8, u = a:16 b:16 csum:16, payload. Ingress writes
// checksum_error into r.err and increments u.a. Out port 1.
#include <core.p4>
#include <v1model.p4>

header r_t { bit<8> err; }
header u_t { bit<16> a; bit<16> b; bit<16> csum; }
struct headers_t { r_t r; u_t u; }
struct meta_t { }

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.r); pkt.extract(hdr.u); transition accept; }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) {
    apply {
        verify_checksum_with_payload(true, { hdr.u.a, hdr.u.b }, hdr.u.csum,
                                     HashAlgorithm.csum16);
    }
}
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    apply {
        sm.egress_spec = 1;
        hdr.r.err = (bit<8>)sm.checksum_error;
        hdr.u.a = hdr.u.a + 1;
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) { apply { } }
control MyCompute(inout headers_t hdr, inout meta_t meta) {
    apply {
        update_checksum_with_payload(true, { hdr.u.a, hdr.u.b }, hdr.u.csum,
                                     HashAlgorithm.csum16);
    }
}
control MyDeparser(packet_out pkt, in headers_t hdr) {
    apply { pkt.emit(hdr.r); pkt.emit(hdr.u); }
}
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(),
         MyDeparser()) main;
