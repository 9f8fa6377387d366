// enum_param_nested_meta: a serializable enum used as an exact table key and
// as an action parameter (given as a number from the control plane), metadata
// made of nested structs (two levels, one inner struct type used twice),
// bool locals, ?: with side-effect-free operands, return inside an action and
// exit inside nested ifs.
//
// Packet: h = kind:8 v:8 o1:8 o2:8 o3:8. Out port 1.
#include <core.p4>
#include <v1model.p4>

enum bit<8> Kind_t { A = 1, B = 2, C = 3 }

header h_t { Kind_t kind; bit<8> v; bit<8> o1; bit<8> o2; bit<8> o3; }
struct headers_t { h_t h; }
struct pair_t { bit<8> x; bit<4> y; bool f; }
struct inner_t { pair_t p; pair_t q; Kind_t k; }
struct meta_t { inner_t inr; bit<8> z; }

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    action set_kind(Kind_t k, bit<4> y) {
        meta.inr.k = k;
        meta.inr.p.y = y;
        if (y == 0) {
            return;
        }
        meta.inr.q.y = y + 1;
    }
    table t {
        key = { hdr.h.kind : exact; }
        actions = { set_kind; NoAction; }
        default_action = NoAction();
    }
    apply {
        sm.egress_spec = 1;
        meta.inr.k = Kind_t.A;
        meta.inr.p.x = hdr.h.v;
        meta.inr.p.f = hdr.h.v > 0x7f;
        meta.inr.q = meta.inr.p;
        meta.inr.q.x = meta.inr.q.x + 1;
        t.apply();
        bool big = meta.inr.p.f;
        bool odd = hdr.h.v[0:0] == 1;
        hdr.h.o1 = (bit<8>)meta.inr.k;
        hdr.h.o2 = big ? meta.inr.q.x : meta.inr.p.x;
        hdr.h.o3 = meta.inr.p.y ++ meta.inr.q.y;
        if (meta.inr.k == Kind_t.C) {
            if (odd && !big) {
                hdr.h.o3 = 0xee;
                exit;
            } else if (big) {
                if (odd) {
                    mark_to_drop(sm);
                    exit;
                }
            }
            hdr.h.o1 = 0xcc;
        }
        hdr.h.v = odd ? 8w1 : 8w0;
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
