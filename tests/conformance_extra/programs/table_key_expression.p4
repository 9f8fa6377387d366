// table_key_expression: table keys that are computed expressions (a
// concatenation and a sum). p4c's SimplifyKey midend pass
// (midend/simplifyKey.cpp) moves such keys into temporaries computed just
// before the apply; const entries avoid any dependence on key names.
#include <core.p4>
#include <v1model.p4>
header h_t { bit<8> a; bit<8> b; bit<8> r1; bit<8> r2; }
struct headers_t { h_t h; }
struct meta_t { }
parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action s1(bit<8> v) { hdr.h.r1 = v; }
    action s2(bit<8> v) { hdr.h.r2 = v; }
    table tc {
        key = { hdr.h.a ++ hdr.h.b : exact @name("ab"); }
        actions = { s1; NoAction; }
        const entries = { 0x0102 : s1(0x12); 0x0201 : s1(0x21); }
        default_action = NoAction();
    }
    table ts {
        key = { hdr.h.a + 1 : exact @name("a_plus_1"); }
        actions = { s2; NoAction; }
        const entries = { 0x00 : s2(0xf0); 0x02 : s2(0x02); }
        default_action = NoAction();
    }
    apply {
        sm.egress_spec = 1;
        tc.apply();
        ts.apply();
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control MyCompute(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyDeparser(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); } }
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(), MyDeparser()) main;
