// table_lpm_const_entries: const entries in an lpm table, written with
// value &&& prefix-mask, with the shorter prefixes listed first: the longest
// matching prefix must win whatever the order (BMv2 lpm table; p4c turns the
// mask into a prefix length). A second table mixes an lpm key with an exact
// key in const entries.
//
// Packet: h = dst:32 k:8 r1:8 r2:8. Out port 1.
#include <core.p4>
#include <v1model.p4>

header h_t { bit<32> dst; bit<8> k; bit<8> r1; bit<8> r2; }
struct headers_t { h_t h; }
struct meta_t { }

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    action s1(bit<8> v) { hdr.h.r1 = v; }
    action s2(bit<8> v) { hdr.h.r2 = v; }
    table t1 {
        key = { hdr.h.dst : lpm; }
        actions = { s1; NoAction; }
        const entries = {
            0x00000000 &&& 0x00000000 : s1(0x00);
            0x0a000000 &&& 0xff000000 : s1(0x08);
            0x0a010000 &&& 0xffff0000 : s1(0x10);
            0x0a010200 &&& 0xffffff00 : s1(0x18);
            0x0a010203 : s1(0x20);
        }
        default_action = NoAction();
    }
    table t2 {
        key = { hdr.h.k : exact; hdr.h.dst : lpm; }
        actions = { s2; NoAction; }
        const entries = {
            (1, 0x0a000000 &&& 0xff000000) : s2(0x18);
            (1, 0x0a010000 &&& 0xffff0000) : s2(0x1f);
            (2, 0x0a000000 &&& 0xfe000000) : s2(0x27);
        }
        default_action = s2(0xee);
    }
    apply {
        sm.egress_spec = 1;
        t1.apply();
        t2.apply();
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
