// meter_bytes_computed_index: a bytes meter executed inside an action at an
// index computed from a table action parameter plus a header field, so two
// different (kind, sub) pairs share one meter cell; a byte meter charges the
// received packet length, so a shorter packet can still pass a bucket that a
// longer one fails.
//
// Packet: h = kind:8 sub:8 color:8, then payload. Out port 1.
#include <core.p4>
#include <v1model.p4>

header h_t { bit<8> kind; bit<8> sub; bit<8> color; }
struct headers_t { h_t h; }
struct meta_t { bit<32> base; }

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    meter(8, MeterType.bytes) mb;
    action set_base(bit<32> b) { meta.base = b; }
    action do_meter() {
        bit<2> c;
        bit<32> idx = meta.base + (bit<32>)hdr.h.sub;
        mb.execute_meter(idx, c);
        hdr.h.color = (bit<8>)c;
    }
    table t {
        key = { hdr.h.kind : exact; }
        actions = { set_base; NoAction; }
        default_action = NoAction();
    }
    apply {
        sm.egress_spec = 1;
        t.apply();
        do_meter();
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) { apply { } }
control MyCompute(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyDeparser(packet_out pkt, in headers_t hdr) {
    apply { pkt.emit(hdr.h); }
}
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(),
         MyDeparser()) main;
