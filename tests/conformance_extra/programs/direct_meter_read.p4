// direct_meter_read: direct meters (packets and bytes) bound to tables with
// `meters = ...`. On a hit BMv2 executes the entry's meter before the action
// runs and writes the colour to the field read() names (the JSON's
// result_target), whichever action runs; on a miss nothing is executed and
// the field keeps its value. An entry whose meter has no rates is GREEN.
//
// Packet: h = k:8 colour:8 seen:8 bcolour:8, then payload. Out port 1.
#include <core.p4>
#include <v1model.p4>

header h_t { bit<8> k; bit<8> colour; bit<8> seen; bit<8> bcolour; }
struct headers_t { h_t h; }
struct meta_t { bit<8> c; bit<2> b; }

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    direct_meter<bit<8>>(MeterType.packets) dm;
    direct_meter<bit<2>>(MeterType.bytes) bm;
    action mark(bit<8> tag) { dm.read(meta.c); hdr.h.seen = tag; }
    action plain() { hdr.h.seen = 0x55; }
    action bytes_mark() { bm.read(meta.b); }
    table t {
        key = { hdr.h.k : exact; }
        actions = { mark; plain; NoAction; }
        meters = dm;
        default_action = NoAction();
    }
    table tb {
        key = { hdr.h.k : exact; }
        actions = { bytes_mark; NoAction; }
        meters = bm;
        default_action = NoAction();
    }
    apply {
        meta.c = 0xee;
        meta.b = 3;
        t.apply();
        tb.apply();
        hdr.h.colour = meta.c;
        hdr.h.bcolour = (bit<8>)meta.b;
        sm.egress_spec = 1;
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) { apply { } }
control MyCompute(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyDeparser(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); } }
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(),
         MyDeparser()) main;
