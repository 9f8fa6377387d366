// named_arguments: arguments passed by name, in any order: V1Switch's blocks,
// packet_in.extract / packet_out.emit, register read/write and
// update_checksum. Also a control type applied directly (Swap.apply, an
// implicit instance) and a header with a struct-typed field (flattened).
//
// Packet: h = a:8 b:8 ck:16, s = p.hi:4 p.lo:4 sum:8. Out on port 1.
// Ingress: b = r[1] (old), r[1] = a + old; Swap exchanges p.hi and p.lo;
// sum = hi + lo. ck = csum16 over a, b.
#include <core.p4>
#define V1MODEL_VERSION 20200408
#include <v1model.p4>

header h_t { bit<8> a; bit<8> b; bit<16> ck; }
struct pair_t { bit<4> hi; bit<4> lo; }
header s_t { pair_t p; bit<8> sum; }
struct headers_t { h_t h; s_t s; }
struct meta_t { }

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start {
        pkt.extract(hdr = hdr.h);
        pkt.extract(hdr = hdr.s);
        transition accept;
    }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control Swap(inout headers_t hdr) {
    apply {
        bit<4> t = hdr.s.p.hi;
        hdr.s.p.hi = hdr.s.p.lo;
        hdr.s.p.lo = t;
    }
}
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    register<bit<8>, bit<32>>(4) r;
    apply {
        bit<8> old;
        r.read(index = 1, result = old);
        r.write(value = hdr.h.a + old, index = 1);
        hdr.h.b = old;
        Swap.apply(hdr);
        hdr.s.sum = (bit<8>)hdr.s.p.hi + (bit<8>)hdr.s.p.lo;
        sm.egress_spec = 1;
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) { apply { } }
control MyCompute(inout headers_t hdr, inout meta_t meta) {
    apply {
        update_checksum(data = { hdr.h.a, hdr.h.b }, algo = HashAlgorithm.csum16,
                        checksum = hdr.h.ck, condition = hdr.h.isValid());
    }
}
control MyDeparser(packet_out pkt, in headers_t hdr) {
    apply { pkt.emit(hdr = hdr.h); pkt.emit(hdr.s); }
}
V1Switch(dep = MyDeparser(), ig = MyIngress(), p = MyParser(), eg = MyEgress(),
         vr = MyVerify(), ck = MyCompute()) main;
