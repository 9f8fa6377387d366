// tuple_locals: variables of tuple type (p4c turns them into structs with
// members f0, f1, ...): initialised from a list, assigned a list in an
// action, read and written by constant index, and passed whole as hash data
// (the same bytes as the list written in place).
//
// Packet: h = a:8 b:8 c:16 x:8 y:8 h1:16 h2:16. Out port 1.
#include <core.p4>
#include <v1model.p4>

header h_t { bit<8> a; bit<8> b; bit<16> c; bit<8> x; bit<8> y; bit<16> h1; bit<16> h2; }
struct headers_t { h_t h; }
struct meta_t { }

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    tuple<bit<8>, bit<16>> saved;
    action keep() {
        saved = { hdr.h.b, hdr.h.c };
        hash(hdr.h.h2, HashAlgorithm.crc16, 16w0, saved, 32w65536);
    }
    apply {
        tuple<bit<8>, bit<8>> t = { hdr.h.a, hdr.h.b };
        hdr.h.x = t[1];
        t[0] = t[0] + 1;
        hdr.h.y = t[0];
        keep();
        hash(hdr.h.h1, HashAlgorithm.crc16, 16w0, { hdr.h.b, hdr.h.c }, 32w65536);
        sm.egress_spec = 1;
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) { apply { } }
control MyCompute(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyDeparser(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); } }
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(),
         MyDeparser()) main;
