// std_metadata_time_queue: the standard_metadata fields the corpus does not
// read: ingress/egress global timestamps (microseconds since the switch
// started; egress is never earlier than ingress, and ingress's value is
// carried to egress unchanged), enq_timestamp, the queue depths and
// deq_timedelta (a lone packet finds its queue empty), egress_rid 0 for a
// unicast packet, and priority: simple_switch runs one queue per port by
// default, so a packet whose priority is 1 or more is dropped when it is
// enqueued ("Priority out of range").
//
// Packet: h = a:8 flags:8 qd:8 pr:8 rid:16. Out port 1.
#include <core.p4>
#include <v1model.p4>

header h_t { bit<8> a; bit<8> flags; bit<8> qd; bit<8> pr; bit<16> rid; }
struct headers_t { h_t h; }
struct meta_t { bit<48> its; }

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    apply {
        meta.its = sm.ingress_global_timestamp;
        hdr.h.pr = (bit<8>)sm.priority;
        if (hdr.h.a == 2) { sm.priority = 1; }
        sm.egress_spec = 1;
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) {
    apply {
        bit<1> f0 = sm.egress_global_timestamp >= sm.ingress_global_timestamp ? 1w1 : 1w0;
        bit<1> f1 = meta.its == sm.ingress_global_timestamp ? 1w1 : 1w0;
        bit<1> f2 = sm.ingress_global_timestamp != 0 ? 1w1 : 1w0;
        bit<1> f3 = (bit<48>)sm.enq_timestamp <= sm.egress_global_timestamp ? 1w1 : 1w0;
        hdr.h.flags = (bit<8>)(f0 ++ f1 ++ f2 ++ f3);
        hdr.h.qd = (bit<8>)(sm.enq_qdepth + sm.deq_qdepth) + (bit<8>)sm.deq_timedelta[31:24];
        hdr.h.rid = sm.egress_rid;
    }
}
control MyCompute(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyDeparser(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); } }
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(),
         MyDeparser()) main;
