// syntax_corners: forms p4c's front end accepts that the corpus does not
// write: '_' as an out and an inout argument (a temporary nobody reads), a
// structured annotation (@name[...]), an @atomic block, trailing commas in
// an enum and a list, an empty statement and nested blocks, and a function
// parameter with a default value.
//
// Packet: h = a:8 b:8 c:8 d:8. Out port 1.
#include <core.p4>
#include <v1model.p4>

enum mode_t { PLAIN, DOUBLE, }
header h_t { bit<8> a; bit<8> b; bit<8> c; bit<8> d; }
struct headers_t { h_t h; }
struct meta_t { }

bit<8> twice(in bit<8> x, out bit<8> lost, in bit<8> k = 2) {
    lost = x;
    return x * k;
}

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    register<bit<8>>(1) total;
    action split(out bit<8> low, inout bit<8> seen, bit<8> tag) {
        low = hdr.h.a & 0x0f;
        seen = seen + 1;
        hdr.h.b = tag;
    }
    action mark(bit<8> tag) { split(_, _, tag); }
    @my_note[owner = "tests", level = 2]
    table t {
        key = { hdr.h.a : exact; }
        actions = { mark; NoAction; }
        default_action = NoAction();
    }
    apply {
        t.apply();
        mode_t m = hdr.h.a == 1 ? mode_t.DOUBLE : mode_t.PLAIN;
        if (m == mode_t.DOUBLE) {
            hdr.h.c = twice(hdr.h.c, _);
        }
        @atomic {
            bit<8> sum;
            total.read(sum, 0);
            sum = sum + hdr.h.a;
            total.write(0, sum);
            hdr.h.d = sum;
        }
        { { ; } }
        bit<8> ignored;
        hash(ignored, HashAlgorithm.identity, 8w0, { hdr.h.a, }, 16w256);
        sm.egress_spec = 1;
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) { apply { } }
control MyCompute(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyDeparser(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); } }
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(),
         MyDeparser()) main;
