// resubmit_then_recirculate: one packet goes through three passes: the
// original (instance_type 0) resubmits with a field list; the resubmitted
// pass (instance_type 6) forwards to port 1 and egress recirculates with the
// same field list; the recirculated pass (instance_type 4) leaves on port 2.
// Field-list metadata (stage, trace) survives both; the other metadata field
// (scratch) is reset to 0 each time.
//
// Packet: h = a:8 b:8 c:8 d:8 e:8, then payload.
#include <core.p4>
#include <v1model.p4>

header h_t { bit<8> a; bit<8> b; bit<8> c; bit<8> d; bit<8> e; }
struct headers_t { h_t h; }
struct meta_t {
    @field_list(1) bit<8> stage;
    @field_list(1) bit<8> trace;
    bit<8> scratch;
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
            meta.stage = 1;
            meta.trace = 0x10;
            meta.scratch = 0x77;
            hdr.h.a = 0xff;
            sm.egress_spec = 2;
            resubmit_preserving_field_list(1);
        } else if (sm.instance_type == 6) {
            meta.stage = 2;
            hdr.h.a = meta.trace;
            hdr.h.e = meta.scratch;
            sm.egress_spec = 1;
            meta.scratch = 0x55;
        } else if (sm.instance_type == 4) {
            hdr.h.b = meta.trace;
            hdr.h.c = (bit<8>)sm.instance_type;
            hdr.h.e = hdr.h.e + meta.scratch;
            sm.egress_spec = 2;
        }
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) {
    apply {
        if (meta.stage == 2) {
            meta.stage = 3;
            meta.trace = meta.trace | 0x40;
            hdr.h.d = (bit<8>)sm.instance_type;
            recirculate_preserving_field_list(1);
        } else {
            hdr.h.d = hdr.h.d + 1;
        }
    }
}
control MyCompute(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyDeparser(packet_out pkt, in headers_t hdr) {
    apply { pkt.emit(hdr.h); }
}
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(),
         MyDeparser()) main;
