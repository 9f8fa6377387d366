// resubmit_field_list_select: metadata fields tagged with two different
// field-list indices; resubmit_preserving_field_list(2) keeps only the
// fields of list 2, the list-1 field and the untagged one are reset to 0.
// A later recirculation with list 1 keeps only the list-1 field.
//
// Packet: h = f1:8 f2:8 f0:8 pass:8 itype:8. Out port 1.
#include <core.p4>
#include <v1model.p4>

header h_t { bit<8> f1; bit<8> f2; bit<8> f0; bit<8> pass; bit<8> itype; }
struct headers_t { h_t h; }
struct meta_t {
    @field_list(1) bit<8> f1;
    @field_list(2) bit<8> f2;
    bit<8> f0;
    @field_list(1) bit<8> recirc;
}

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    apply {
        sm.egress_spec = 1;
        if (sm.instance_type == 0) {
            meta.f1 = 0x11;
            meta.f2 = 0x22;
            meta.f0 = 0x33;
            resubmit_preserving_field_list(2);
        } else if (sm.instance_type == 6) {
            hdr.h.f1 = meta.f1;
            hdr.h.f2 = meta.f2;
            hdr.h.f0 = meta.f0;
            hdr.h.pass = 6;
            meta.f1 = 0x44;
            meta.f2 = 0x55;
            meta.recirc = 1;
        } else {
            hdr.h.pass = hdr.h.pass + 0x40;
            hdr.h.itype = meta.f1 ^ meta.f2;
        }
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) {
    apply {
        if (meta.recirc == 1) {
            recirculate_preserving_field_list(1);
        }
    }
}
control MyCompute(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyDeparser(packet_out pkt, in headers_t hdr) {
    apply { pkt.emit(hdr.h); }
}
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(),
         MyDeparser()) main;
