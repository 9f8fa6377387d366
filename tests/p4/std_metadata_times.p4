/* Copies simple_switch's time and queue fields of standard_metadata into the
 * packet, for the switch tests that check their values and units:
 * h = ingress_global_timestamp:48 egress_global_timestamp:48
 *     enq_timestamp:32 deq_timedelta:32 enq_qdepth:24 deq_qdepth:24. */
#include <core.p4>
#include <v1model.p4>

header times_t {
    bit<48> ingress_ts;
    bit<48> egress_ts;
    bit<32> enq_ts;
    bit<32> deq_delta;
    bit<24> enq_qdepth;
    bit<24> deq_qdepth;
}

struct headers_t {
    times_t t;
}

struct metadata_t { }

parser MyParser(packet_in pkt, out headers_t hdr, inout metadata_t meta,
                inout standard_metadata_t sm) {
    state start {
        pkt.extract(hdr.t);
        transition accept;
    }
}

control MyVerify(inout headers_t hdr, inout metadata_t meta) { apply { } }

control MyIngress(inout headers_t hdr, inout metadata_t meta,
                  inout standard_metadata_t sm) {
    apply {
        hdr.t.ingress_ts = sm.ingress_global_timestamp;
        sm.egress_spec = 1;
    }
}

control MyEgress(inout headers_t hdr, inout metadata_t meta,
                 inout standard_metadata_t sm) {
    apply {
        hdr.t.egress_ts = sm.egress_global_timestamp;
        hdr.t.enq_ts = sm.enq_timestamp;
        hdr.t.deq_delta = sm.deq_timedelta;
        hdr.t.enq_qdepth = (bit<24>)sm.enq_qdepth;
        hdr.t.deq_qdepth = (bit<24>)sm.deq_qdepth;
    }
}

control MyCompute(inout headers_t hdr, inout metadata_t meta) { apply { } }

control MyDeparser(packet_out pkt, in headers_t hdr) {
    apply { pkt.emit(hdr.t); }
}

V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(), MyDeparser()) main;
