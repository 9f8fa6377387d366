// switch_on_values: switch on a bit<8> expression and on a serializable enum
// (P4-16 1.2.2 switch on values): several labels sharing one body, a label
// with an empty body, default, a constant expression as a label, and a
// switch with no matching label and no default (nothing runs).
//
// Packet: h = a:8 b:8 r1:8 r2:8 r3:8. Out port 1.
#include <core.p4>
#include <v1model.p4>

enum bit<8> kind_t { SMALL = 1, LARGE = 2, HUGE = 3 }
const bit<8> SEVEN = 7;
header h_t { bit<8> a; kind_t b; bit<8> r1; bit<8> r2; bit<8> r3; }
struct headers_t { h_t h; }
struct meta_t { }

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    apply {
        switch (hdr.h.a + 1) {
            0: { hdr.h.r1 = 0x10; }  // 0xff + 1 wraps to 0
            2:
            3: { hdr.h.r1 = 0x23; }
            4: { }
            SEVEN + 1: { hdr.h.r1 = 0x80; }
            default: { hdr.h.r1 = 0xdd; }
        }
        switch (hdr.h.b) {
            kind_t.SMALL: { hdr.h.r2 = 0x51; }
            kind_t.LARGE:
            kind_t.HUGE: { hdr.h.r2 = 0x52; }
        }
        switch (hdr.h.a) {
            0: { hdr.h.r3 = 0xaa; }
        }
        sm.egress_spec = 1;
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) { apply { } }
control MyCompute(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyDeparser(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); } }
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(),
         MyDeparser()) main;
