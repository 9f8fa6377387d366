// local_constants: constants declared inside a parser or a control, and a
// control's constructor parameter, used where only compile-time values fit:
// register and counter sizes, a table's size, slice bounds (read and
// write), const entry keys (a mask and a range) and parser select keysets.
//
// Packet: h = t:8 a:8 b:8 c:8. Out port 1.
#include <core.p4>
#include <v1model.p4>

header h_t { bit<8> t; bit<8> a; bit<8> b; bit<8> c; }
struct headers_t { h_t h; }
struct meta_t { }

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    const bit<8> LOW = 0x10;
    const bit<8> HIGH = 0x1f;
    const bit<8> MASK = 0xf0;
    state start {
        pkt.extract(hdr.h);
        transition select(hdr.h.t) {
            LOW .. HIGH: in_range;
            0x40 &&& MASK: masked;
            default: accept;
        }
    }
    state in_range { hdr.h.c = 0x11; transition accept; }
    state masked { hdr.h.c = 0x22; transition accept; }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control Stage(inout headers_t hdr)(bit<32> cells) {
    register<bit<8>>(cells) r;
    apply {
        r.write(cells - 1, hdr.h.a);
        bit<8> back;
        r.read(back, cells - 1);
        hdr.h.b[3:0] = back[3:0];
    }
}
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    const bit<32> N = 4;
    const bit<8> TOP = 7;
    const bit<8> BOT = 4;
    const bit<8> KEY = 0x30;
    counter(N, CounterType.packets) c;
    Stage(8) stage;
    action set(bit<8> v) { hdr.h.a = v; }
    table t {
        key = { hdr.h.t : ternary; }
        actions = { set; NoAction; }
        const entries = {
            KEY &&& 0xf0 : set(0x33);
        }
        size = N;
        default_action = NoAction();
    }
    table r {
        key = { hdr.h.t : range; }
        actions = { set; NoAction; }
        const entries = {
            BOT .. TOP : set(0x44);
        }
        default_action = NoAction();
    }
    apply {
        c.count(N - 1);
        t.apply();
        r.apply();
        hdr.h.b[TOP:BOT] = hdr.h.t[3:0];
        stage.apply(hdr);
        sm.egress_spec = 1;
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) { apply { } }
control MyCompute(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyDeparser(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); } }
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(),
         MyDeparser()) main;
