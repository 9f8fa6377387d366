// table_wide_keys: a 128-bit lpm key together with an exact key on a slice of
// a field (named with @name), and a second table with a 48-bit ternary key
// and a 64-bit exact key whose action writes a 128-bit parameter.
//
// Packet: h = dst:128 mac:48 id:64 flags:8 res:8. Out port = egress_spec
// (1 unless an action says otherwise).
#include <core.p4>
#include <v1model.p4>

header h_t {
    bit<128> dst;
    bit<48>  mac;
    bit<64>  id;
    bit<8>   flags;
    bit<8>   res;
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
    action route(bit<9> port, bit<8> r) { sm.egress_spec = port; hdr.h.res = r; }
    action rewrite(bit<128> d) { hdr.h.dst = d; }
    table t6 {
        key = {
            hdr.h.dst        : lpm;
            hdr.h.flags[7:4] : exact @name("fl_hi");
        }
        actions = { route; NoAction; }
        default_action = NoAction();
    }
    table tm {
        key = {
            hdr.h.mac : ternary;
            hdr.h.id  : exact;
        }
        actions = { rewrite; NoAction; }
        default_action = NoAction();
    }
    apply {
        sm.egress_spec = 1;
        t6.apply();
        tm.apply();
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
