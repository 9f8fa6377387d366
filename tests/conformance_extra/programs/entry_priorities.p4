// entry_priorities: initial (non-const) entries with P4 priorities. In t_large
// (largest_priority_wins, the default) the larger priority wins; an entry
// without one gets the previous one's minus priority_delta (1). In t_small
// (largest_priority_wins = false) the smaller wins; one without gets the
// previous one's plus priority_delta (2).
//
// Packet: h = a:8 r1:8 r2:8. r1 = t_large's choice, r2 = t_small's.
#include <core.p4>
#include <v1model.p4>

header h_t { bit<8> a; bit<8> r1; bit<8> r2; }
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
    table t_large {
        key = { hdr.h.a : ternary; }
        actions = { set1; NoAction; }
        entries = {
            priority = 5: 0x01 &&& 0xFF : set1(1);
            priority = 10: 0x00 &&& 0xF0 : set1(2);
            0x00 &&& 0x00 : set1(3);  // priority 9
        }
    }
    table t_small {
        key = { hdr.h.a : ternary; }
        actions = { set2; NoAction; }
        largest_priority_wins = false;
        priority_delta = 2;
        entries = {
            priority = 5: 0x01 &&& 0xFF : set2(1);
            priority = 10: 0x00 &&& 0xF0 : set2(2);
            const 0x00 &&& 0x00 : set2(3);  // priority 12
        }
    }
    apply {
        t_large.apply();
        t_small.apply();
        sm.egress_spec = 0;
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) { apply { } }
control MyCompute(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyDeparser(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); } }
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(), MyDeparser()) main;
