// egress_table_port_rid: an egress table keyed on standard_metadata
// egress_port and egress_rid (with @name key names) rewrites each multicast
// replica differently; an ingress table keyed on ingress_port selects the
// group; an egress action drops one replica with mark_to_drop.
//
// Packet: h = tag:8 val:8, then payload.
#include <core.p4>
#include <v1model.p4>

header h_t { bit<8> tag; bit<8> val; }
struct headers_t { h_t h; }
struct meta_t { }

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    action to_group(bit<16> g) { sm.mcast_grp = g; }
    action to_port(bit<9> p) { sm.egress_spec = p; }
    table in_t {
        key = { sm.ingress_port : exact @name("in_port"); }
        actions = { to_group; to_port; }
        default_action = to_port(3);
    }
    apply { in_t.apply(); }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) {
    action set_tag(bit<8> t) { hdr.h.tag = t; }
    action drop() { mark_to_drop(sm); }
    table out_t {
        key = {
            sm.egress_port : exact @name("eport");
            sm.egress_rid  : exact @name("rid");
        }
        actions = { set_tag; drop; NoAction; }
        default_action = set_tag(0xee);
    }
    apply {
        out_t.apply();
        hdr.h.val = hdr.h.val + 1;
    }
}
control MyCompute(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyDeparser(packet_out pkt, in headers_t hdr) {
    apply { pkt.emit(hdr.h); }
}
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(),
         MyDeparser()) main;
