// field_list_nested: @field_list on fields of a struct nested in the user
// metadata and on a struct-typed member (all its fields), with the index
// written as a serializable enum member. resubmit_preserving_field_list keeps
// exactly those fields; every other metadata field is zero on the second pass.
//
// Packet: h = kept:8 lost:8 pa:8 pb:8 plain:8 pass:8. Out port 1.
#include <core.p4>
#include <v1model.p4>

enum bit<8> FieldLists { NONE = 0, KEEP = 3 }
header h_t { bit<8> kept; bit<8> lost; bit<8> pa; bit<8> pb; bit<8> plain; bit<8> pass; }
struct inner_t {
    @field_list(FieldLists.KEEP) bit<8> kept;
    bit<8> lost;
}
struct pair_t { bit<8> a; bit<8> b; }
struct headers_t { h_t h; }
struct meta_t {
    inner_t inner;
    @field_list(FieldLists.KEEP) pair_t pair;
    bit<8> plain;
}

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    apply {
        if (sm.instance_type == 0) {
            meta.inner.kept = 0x11;
            meta.inner.lost = 0x22;
            meta.pair.a = 0x33;
            meta.pair.b = 0x44;
            meta.plain = 0x55;
            resubmit_preserving_field_list(FieldLists.KEEP);
        } else {
            hdr.h.kept = meta.inner.kept;
            hdr.h.lost = meta.inner.lost;
            hdr.h.pa = meta.pair.a;
            hdr.h.pb = meta.pair.b;
            hdr.h.plain = meta.plain;
            hdr.h.pass = (bit<8>)sm.instance_type;
            sm.egress_spec = 1;
        }
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) { apply { } }
control MyCompute(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyDeparser(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); } }
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(),
         MyDeparser()) main;
