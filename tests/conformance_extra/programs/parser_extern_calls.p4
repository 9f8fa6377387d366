// parser_extern_calls: extern functions called in a parser state (hash,
// random, log_msg) run there, in order with the state's assignments: BMv2
// takes them as 'primitive' parser ops. The second state reads what the
// first one computed.
//
// Packet: h = a:8 b:8 c:8 d:8. Out port 1.
#include <core.p4>
#include <v1model.p4>

header h_t { bit<8> a; bit<8> b; bit<8> c; bit<8> d; }
struct headers_t { h_t h; }
struct meta_t { bit<8> x; }

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start {
        pkt.extract(hdr.h);
        hash(hdr.h.b, HashAlgorithm.crc16, 8w0, { hdr.h.a }, 16w256);
        random(meta.x, 8w7, 8w7);
        log_msg("a={} b={}", { hdr.h.a, hdr.h.b });
        transition select(hdr.h.b) {
            0xc0: second;
            default: accept;
        }
    }
    state second {
        hdr.h.c = meta.x + 1;
        transition accept;
    }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    apply { hdr.h.d = meta.x; sm.egress_spec = 1; }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) { apply { } }
control MyCompute(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyDeparser(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); } }
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(),
         MyDeparser()) main;
