// multicast_egress_fields: multicast groups with several nodes, nodes with
// several ports, a node shared by two groups; egress reads egress_port,
// egress_rid, instance_type and packet_length, branches on egress_port, and
// drops one replica with mark_to_drop in egress.
//
// Packet: h = op:8 eport:8 rid:8 itype:8 len:8, then payload.
// op 1 -> mcast group 1, op 2 -> group 2, op 3 -> unicast port 3.
#include <core.p4>
#include <v1model.p4>

header h_t { bit<8> op; bit<8> eport; bit<8> rid; bit<8> itype; bit<8> len; }
struct headers_t { h_t h; }
struct meta_t { }

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    apply {
        if (hdr.h.op == 1) {
            sm.mcast_grp = 1;
        } else if (hdr.h.op == 2) {
            sm.mcast_grp = 2;
        } else {
            sm.egress_spec = 3;
        }
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) {
    apply {
        hdr.h.eport = (bit<8>)sm.egress_port;
        hdr.h.rid = (bit<8>)sm.egress_rid;
        hdr.h.itype = (bit<8>)sm.instance_type;
        hdr.h.len = (bit<8>)sm.packet_length;
        if (sm.egress_port == 3) {
            hdr.h.op = hdr.h.op | 0x80;
        }
        if (sm.egress_port == 2 && sm.egress_rid == 20) {
            mark_to_drop(sm);
        }
    }
}
control MyCompute(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyDeparser(packet_out pkt, in headers_t hdr) {
    apply { pkt.emit(hdr.h); }
}
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(),
         MyDeparser()) main;
