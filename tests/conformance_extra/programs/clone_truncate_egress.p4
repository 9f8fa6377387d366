// clone_truncate_egress: an I2E clone (session 5 -> port 2) with a field
// list; egress tells the clone from the original by instance_type and
// truncates only the clone. The clone is the received packet re-parsed
// (ingress header changes are absent) and only field-list metadata survives.
//
// Packet: h = a:8 itype:8 tag:8 other:8, then payload.
#include <core.p4>
#include <v1model.p4>

header h_t { bit<8> a; bit<8> itype; bit<8> tag; bit<8> other; }
struct headers_t { h_t h; }
struct meta_t {
    @field_list(1) bit<8> tag;
    bit<8> other;
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
        meta.tag = hdr.h.a + 1;
        meta.other = 0x33;
        hdr.h.a = 0x99;
        if (hdr.h.tag == 0) {
            clone_preserving_field_list(CloneType.I2E, 5, 1);
        }
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) {
    apply {
        hdr.h.itype = (bit<8>)sm.instance_type;
        hdr.h.tag = meta.tag;
        hdr.h.other = meta.other;
        if (sm.instance_type == 1) {
            truncate(3);
        }
    }
}
control MyCompute(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyDeparser(packet_out pkt, in headers_t hdr) {
    apply { pkt.emit(hdr.h); }
}
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(),
         MyDeparser()) main;
