// parser_lookahead_verify_errors: a TLV-like parser that peeks at a 2-byte
// type/length header with lookahead<t_t>() in sub-states, custom errors raised
// by verify (the header extracted in the same state stays valid), a verify
// that always fails in a dedicated state, PacketTooShort from a lookahead, and
// parser_error tested in ingress.
//
// Packet: m = code:8 cnt:8, then options; a = type 1, len, val:16;
// b = type 2, len, x:8; type 0 ends the list. Out port 1.
#include <core.p4>
#include <v1model.p4>

error { BadLen, BadType }

header m_t { bit<8> code; bit<8> cnt; }
header t_t { bit<8> type; bit<8> len; }
header a_t { bit<8> type; bit<8> len; bit<16> val; }
header b_t { bit<8> type; bit<8> len; bit<8> x; }
struct headers_t { m_t m; a_t a; b_t b; }
struct meta_t { bit<8> seen; }

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start {
        pkt.extract(hdr.m);
        transition parse_opt;
    }
    state parse_opt {
        t_t look = pkt.lookahead<t_t>();
        meta.seen = meta.seen + 1;
        transition select(look.type) {
            0: accept;
            1: parse_a;
            2: parse_b;
            default: bad_type;
        }
    }
    state parse_a {
        pkt.extract(hdr.a);
        verify(hdr.a.len == 4, error.BadLen);
        transition select(pkt.lookahead<bit<8>>()) {
            2: parse_b;
            default: accept;
        }
    }
    state parse_b {
        pkt.extract(hdr.b);
        verify(hdr.b.len == 3, error.BadLen);
        transition parse_opt;
    }
    state bad_type {
        verify(false, error.BadType);
        transition accept;
    }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    apply {
        sm.egress_spec = 1;
        if (sm.parser_error == error.NoError) {
            hdr.m.code = 0;
        } else if (sm.parser_error == error.BadLen) {
            hdr.m.code = 1;
        } else if (sm.parser_error == error.BadType) {
            hdr.m.code = 2;
        } else if (sm.parser_error == error.PacketTooShort) {
            hdr.m.code = 3;
        } else {
            hdr.m.code = 4;
        }
        hdr.m.cnt = meta.seen;
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) { apply { } }
control MyCompute(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyDeparser(packet_out pkt, in headers_t hdr) {
    apply { pkt.emit(hdr.m); pkt.emit(hdr.a); pkt.emit(hdr.b); }
}
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(),
         MyDeparser()) main;
