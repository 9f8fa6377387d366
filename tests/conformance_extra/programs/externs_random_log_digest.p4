// externs_random_log_digest: random() into a bit<8> and a bit<16> with
// bounds (results checked with wildcards: BMv2 draws uniformly in [lo, hi]),
// random with lo == hi, log_msg with and without data (a list, one value, a
// whole header, booleans, escaped braces; in the parser too), and digest of
// a struct with mixed widths. None of them changes anything else in the
// packet.
//
// Packet: h = a:8 r1:8 r2:16 r3:8. Out port 1.
#include <core.p4>
#include <v1model.p4>

header h_t { bit<8> a; bit<8> r1; bit<16> r2; bit<8> r3; }
struct headers_t { h_t h; }
struct meta_t { }
struct learn_t {
    bit<8>  a;
    bit<9>  port;
    bit<16> r2;
}

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start {
        pkt.extract(hdr.h);
        log_msg("parsed a={}", { hdr.h.a });
        transition accept;
    }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    apply {
        sm.egress_spec = 1;
        bit<8> r1;
        random(r1, 8w0, 8w15);
        hdr.h.r1 = r1;
        bit<16> r2;
        random(r2, 16w0x1200, 16w0x12ff);
        hdr.h.r2 = r2;
        bit<8> r3;
        random(r3, 8w0x42, 8w0x42);
        hdr.h.r3 = r3;
        log_msg("plain message");
        log_msg("a={} r1={}", { hdr.h.a, hdr.h.r1 });
        log_msg("one value {}", hdr.h.r3);
        log_msg("header {} {} {} {} {}", { hdr.h });
        log_msg("flags {} {}", { hdr.h.isValid(), hdr.h.a == 5 });
        log_msg("braces \{\} then {}", { hdr.h.a });
        digest<learn_t>(1, { hdr.h.a, sm.ingress_port, hdr.h.r2 });
        hdr.h.a = hdr.h.a + 1;
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
