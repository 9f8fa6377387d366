// parser_version_nibble: dispatch on the first 4 bits of the packet with
// lookahead<bit<4>>() (the IPv4/IPv6 version pattern), a select on a slice of
// a non-byte-aligned field, a select on a concatenation of two fields, and a
// counter incremented in ingress with a computed index (no visible effect).
//
// v4 = ver:4 x:12 (2 bytes); v6 = ver:4 y:20 (3 bytes); opt = o:8 (after v4
// when x[11:8] == 0xf); ext = e:8 (after v6 when ver ++ y[19:16] == 0x61).
#include <core.p4>
#include <v1model.p4>

header v4_t { bit<4> ver; bit<12> x; }
header v6_t { bit<4> ver; bit<20> y; }
header opt_t { bit<8> o; }
header ext_t { bit<8> e; }
header m_t { bit<8> kind; }
struct headers_t { m_t m; v4_t v4; v6_t v6; opt_t opt; ext_t ext; }
struct meta_t { }

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start {
        transition select(pkt.lookahead<bit<4>>()) {
            4: parse_v4;
            6: parse_v6;
            default: accept;
        }
    }
    state parse_v4 {
        pkt.extract(hdr.v4);
        transition select(hdr.v4.x[11:8]) {
            0xf: parse_opt;
            default: accept;
        }
    }
    state parse_opt { pkt.extract(hdr.opt); transition accept; }
    state parse_v6 {
        pkt.extract(hdr.v6);
        transition select(hdr.v6.ver ++ hdr.v6.y[19:16]) {
            0x61: parse_ext;
            default: accept;
        }
    }
    state parse_ext { pkt.extract(hdr.ext); transition accept; }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    counter(8, CounterType.packets_and_bytes) cnt;
    apply {
        sm.egress_spec = 1;
        hdr.m.setValid();
        if (hdr.v4.isValid()) {
            hdr.m.kind = 4;
            hdr.v4.x = hdr.v4.x + 1;
        } else if (hdr.v6.isValid()) {
            hdr.m.kind = 6;
            hdr.v6.y = hdr.v6.y + 1;
        } else {
            hdr.m.kind = 0;
        }
        if (hdr.opt.isValid()) { hdr.m.kind = hdr.m.kind | 0x10; }
        if (hdr.ext.isValid()) { hdr.m.kind = hdr.m.kind | 0x20; }
        bit<32> idx = (bit<32>)hdr.m.kind[2:0];
        cnt.count(idx);
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) { apply { } }
control MyCompute(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyDeparser(packet_out pkt, in headers_t hdr) {
    apply {
        pkt.emit(hdr.m);
        pkt.emit(hdr.v4);
        pkt.emit(hdr.v6);
        pkt.emit(hdr.opt);
        pkt.emit(hdr.ext);
    }
}
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(),
         MyDeparser()) main;
