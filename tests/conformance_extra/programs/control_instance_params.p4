// control_instance_params: a control instance passed to constructor
// parameters of a control type, applied from two controls; the instance and
// its counter are one (P4Info: a single 'MyIngress.Outer.inc.hits').
//
// Packet: h = x:16. Out on port 0: x = ((x << 1) + 1) * 8 + 1.
#include <core.p4>
#include <v1model.p4>

header h_t { bit<16> x; }
struct headers_t { h_t h; }
struct meta_t { }

control Step(inout bit<16> v);

control Inc(inout bit<16> v) {
    counter(32w4, CounterType.packets) hits;
    apply {
        v = v + 1;
        hits.count(32w0);
    }
}

control Double(inout bit<16> v)(Step next) {
    apply {
        v = v << 1;
        next.apply(v);
    }
}

control Times8(inout bit<16> v)(Step next) {
    apply {
        v = v << 3;
        next.apply(v);
    }
}

control Outer(inout bit<16> v) {
    Inc() inc;
    Double(inc) double;
    Times8(inc) times8;
    apply {
        double.apply(v);
        times8.apply(v);
    }
}

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    apply {
        Outer.apply(hdr.h.x);
        sm.egress_spec = 0;
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) { apply { } }
control MyCompute(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyDeparser(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); } }
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(), MyDeparser()) main;
