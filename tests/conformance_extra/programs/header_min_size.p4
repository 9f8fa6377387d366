// header_min_size: the compile-time header size methods minSizeInBits() and
// minSizeInBytes() (P4-16 spec, operations on headers), on a header, on an
// invalid header (the size does not depend on validity) and on a stack
// element, used in arithmetic with run-time values.
//
// Packet: h = len:16 a:8 b:8 c:8, then payload. o is a 3-byte header that is
// never extracted. Out port 1.
#include <core.p4>
#include <v1model.p4>

header h_t { bit<16> len; bit<8> a; bit<8> b; bit<8> c; }
header o_t { bit<4> x; bit<20> y; }
header e_t { bit<8> v; }
struct headers_t { h_t h; o_t o; e_t[2] s; }
struct meta_t { }

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    apply {
        sm.egress_spec = 1;
        hdr.h.len = hdr.h.len + (bit<16>)hdr.h.minSizeInBytes();
        hdr.h.a = (bit<8>)hdr.h.minSizeInBits();
        hdr.h.b = (bit<8>)hdr.o.minSizeInBytes();
        hdr.h.c = (bit<8>)hdr.s[1].minSizeInBits();
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
