// subcontrol_twice_registers: one control type instantiated twice in ingress;
// each instance has its own table (MyIngress.c1.t / MyIngress.c2.t) and its
// own register of bit<64> cells, indexed by a computed value. A bit<48>
// register in ingress is read-modify-written at index (a & 3) + 1.
//
// Packet: h = a:8 b:8 r1:8 r2:8 acc:64 ts:48. Out port 1.
#include <core.p4>
#include <v1model.p4>

header h_t {
    bit<8>  a;
    bit<8>  b;
    bit<8>  r1;
    bit<8>  r2;
    bit<64> acc;
    bit<48> ts;
}
struct headers_t { h_t h; }
struct meta_t { }

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }

control Sub(inout bit<8> k, inout bit<8> res, inout bit<64> acc) {
    register<bit<64>>(4) total;
    action setr(bit<8> v) { res = v; }
    table t {
        key = { k : exact; }
        actions = { setr; NoAction; }
        default_action = NoAction();
    }
    apply {
        t.apply();
        bit<64> cur;
        bit<8> k3 = k & 3;
        bit<32> idx = (bit<32>)k3;
        total.read(cur, idx);
        cur = cur + acc;
        total.write(idx, cur);
        acc = cur;
    }
}

control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    Sub() c1;
    Sub() c2;
    register<bit<48>>(8) stamp;
    apply {
        sm.egress_spec = 1;
        bit<64> acc1 = hdr.h.acc;
        c1.apply(hdr.h.a, hdr.h.r1, acc1);
        bit<64> acc2 = hdr.h.acc;
        c2.apply(hdr.h.b, hdr.h.r2, acc2);
        hdr.h.acc = acc1 ^ acc2;
        bit<48> old;
        bit<8> a3 = hdr.h.a & 3;
        bit<32> i = (bit<32>)a3 + 1;
        stamp.read(old, i);
        stamp.write(i, old + hdr.h.ts);
        hdr.h.ts = old;
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
