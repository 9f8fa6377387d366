// table_const_ternary_range: const entries mixing ternary masks, range and
// don't-care keys (BMv2 match_type range, priorities from the entry order:
// the first listed matching entry wins), plus a ternary-only table filled
// from the STF with explicit priorities, where the larger priority wins and
// a later, more specific entry with a lower priority loses.
//
// Packet: h = proto:8 port:16 flags:8 r1:8 r2:8. Out port 1.
#include <core.p4>
#include <v1model.p4>

header h_t {
    bit<8>  proto;
    bit<16> port;
    bit<8>  flags;
    bit<8>  r1;
    bit<8>  r2;
}
struct headers_t { h_t h; }
struct meta_t { }

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    action set1(bit<8> v) { hdr.h.r1 = v; }
    action set2(bit<8> v) { hdr.h.r2 = v; }
    table tc {
        key = {
            hdr.h.proto : ternary;
            hdr.h.port  : range;
            hdr.h.flags : exact;
        }
        actions = { set1; NoAction; }
        const entries = {
            (0x06 &&& 0xff, 0 .. 1023, 1)   : set1(0x01);
            (0x06 &&& 0x0f, _, 1)           : set1(0x02);
            (_, 80 .. 80, 1)                : set1(0x03);
            (0x11, 53 .. 53, 2)             : set1(0x04);
            (_, 1024 .. 65535, 2)           : set1(0x05);
        }
        default_action = set1(0xee);
    }
    table tt {
        key = {
            hdr.h.proto : ternary;
            hdr.h.flags : ternary;
        }
        actions = { set2; NoAction; }
        default_action = NoAction();
    }
    apply {
        sm.egress_spec = 1;
        tc.apply();
        tt.apply();
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
