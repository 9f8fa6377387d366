// struct_constants: constants of struct types (top level and local, nested,
// by name or by position), read member by member, copied whole into a
// struct, and used in other constant expressions.
//
// Packet: h = a:8 b:8 c:16. Out on port 0: a = K.f + K.g.x (7),
// b = L.f (7, a local constant), c = the copied K's g.x (2) + SZ (5).
#include <core.p4>
#include <v1model.p4>

header h_t { bit<8> a; bit<8> b; bit<16> c; }
struct headers_t { h_t h; }
struct meta_t { }
struct in_t { bit<8> x; }
struct k_t { bit<8> f; in_t g; }
struct holder_t { k_t k; }

const k_t K = { f = 5, g = { x = 2 } };
const bit<16> SZ = (bit<16>)K.f;

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    const k_t L = { 7, { 1 } };
    apply {
        hdr.h.a = K.f + K.g.x;
        hdr.h.b = L.f;
        holder_t m;
        m.k = K;
        hdr.h.c = (bit<16>)m.k.g.x + SZ;
        sm.egress_spec = 0;
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) { apply { } }
control MyCompute(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyDeparser(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); } }
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(), MyDeparser()) main;
