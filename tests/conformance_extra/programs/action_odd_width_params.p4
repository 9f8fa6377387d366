// action_odd_width_params: an action with parameters of odd and wide widths
// (bit<3>, bit<17>, bit<33>, bit<64>, bit<128>) written into one header whose
// fields are not byte aligned; the same action as a program default with
// constant arguments, replaced by setdefault in the second table.
#include <core.p4>
#include <v1model.p4>

header k_t { bit<8> k; }
header w_t {
    bit<3>   a;
    bit<17>  b;
    bit<33>  c;
    bit<64>  d;
    bit<128> e;
    bit<3>   pad;
}
struct headers_t { k_t k; w_t w; }
struct meta_t { }

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start {
        pkt.extract(hdr.k);
        pkt.extract(hdr.w);
        transition accept;
    }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    action set_all(bit<3> a, bit<17> b, bit<33> c, bit<64> d, bit<128> e) {
        hdr.w.a = a;
        hdr.w.b = b;
        hdr.w.c = c;
        hdr.w.d = d;
        hdr.w.e = e;
        hdr.w.pad = 7;
    }
    action add_all(bit<3> a, bit<17> b, bit<33> c) {
        hdr.w.a = hdr.w.a + a;
        hdr.w.b = hdr.w.b + b;
        hdr.w.c = hdr.w.c + c;
    }
    table t1 {
        key = { hdr.k.k : exact; }
        actions = { set_all; NoAction; }
        default_action = set_all(1, 2, 3, 4, 5);
    }
    table t2 {
        key = { hdr.k.k : exact; }
        actions = { add_all; NoAction; }
        default_action = NoAction();
    }
    apply {
        sm.egress_spec = 1;
        if (hdr.k.k[7:4] == 0) {
            t1.apply();
        } else {
            t2.apply();
        }
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) { apply { } }
control MyCompute(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyDeparser(packet_out pkt, in headers_t hdr) {
    apply { pkt.emit(hdr.k); pkt.emit(hdr.w); }
}
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(),
         MyDeparser()) main;
