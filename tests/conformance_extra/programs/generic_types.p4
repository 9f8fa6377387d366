// generic_types: generic headers and structs, specialized by their type
// arguments (each specialization a type of its own, as p4c's
// SpecializeGenericTypes makes them), as packet headers, metadata and locals.
//
// Packet: g = f:8 k:8, w = f:16 k:8. Out on port 0: w.f = w.f + 1 (through
// metadata), g.k = g.f + 3 (through a local).
#include <core.p4>
#include <v1model.p4>

header G<T> { T f; bit<8> k; }
struct S<T> { T x; bit<8> y; }
struct headers_t { G<bit<8>> g; G<bit<16>> w; }
struct meta_t { S<bit<16>> s; }

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.g); pkt.extract(hdr.w); transition accept; }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    apply {
        S<bit<8>> loc = { x = hdr.g.f, y = 3 };
        meta.s.x = hdr.w.f + 1;
        hdr.w.f = meta.s.x;
        hdr.g.k = loc.x + loc.y;
        sm.egress_spec = 0;
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) { apply { } }
control MyCompute(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyDeparser(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr); } }
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(), MyDeparser()) main;
