// slice_of_slice_write: an assignment to a slice of a slice writes the bits it
// names in the base field, on a header field and on a local, read back as well.
#include <core.p4>
#include <v1model.p4>
header h_t { bit<16> a; bit<8> b; bit<8> c; }
struct headers_t { h_t h; }
struct meta_t { }
parser P(packet_in pkt, out headers_t hdr, inout meta_t m, inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control V(inout headers_t hdr, inout meta_t m) { apply { } }
control I(inout headers_t hdr, inout meta_t m, inout standard_metadata_t sm) {
    apply {
        hdr.h.a[11:4][5:2] = 4w0;
        bit<8> n = 8w0xff;
        n[7:4][3:0][2:1] = 2w0;
        hdr.h.b = n;
        hdr.h.c = hdr.h.a[15:8][7:0];
        sm.egress_spec = 1;
    }
}
control E(inout headers_t hdr, inout meta_t m, inout standard_metadata_t sm) { apply { } }
control C(inout headers_t hdr, inout meta_t m) { apply { } }
control D(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
