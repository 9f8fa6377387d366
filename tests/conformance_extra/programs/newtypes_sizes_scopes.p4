// newtypes_sizes_scopes: `type` declarations (a new type over bit<W> and
// one over a typedef) as header fields, table keys and action parameters,
// with the casts they need; sizeInBits/sizeInBytes/minSizeInBytes of a
// header and of a struct folded to constants; and a table whose actions are
// @tableonly and @defaultonly (entries and the default each use their own).
//
// Packet: h = port:16 tag:8 sz:8 bytes:8 msz:8 tag2:8. Out port 1 (2 for
// port 0x0102).
#include <core.p4>
#include <v1model.p4>

typedef bit<16> raw16_t;
type raw16_t port_t;
type bit<8> tag_t;
header h_t { port_t port; tag_t tag; bit<8> sz; bit<8> bytes; bit<8> msz; tag_t tag2; }
struct pair_t { bit<12> a; bit<20> b; }
struct headers_t { h_t h; }
struct meta_t { pair_t p; }

parser MyParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control MyVerify(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t meta,
                  inout standard_metadata_t sm) {
    action retag(tag_t t) { hdr.h.tag = t; }
    action fallback(tag_t t) { hdr.h.tag = (tag_t)((bit<8>)t + 1); }
    table by_port {
        key = { hdr.h.port : exact; }
        actions = { @tableonly retag; @defaultonly fallback; }
        default_action = fallback((tag_t)0x10);
    }
    action retag2(tag_t t) { hdr.h.tag2 = t; }
    action fallback2(tag_t t) { hdr.h.tag2 = t; }
    table by_port2 {
        key = { hdr.h.port : exact; }
        actions = { @tableonly retag2; @defaultonly fallback2; }
        default_action = fallback2((tag_t)0x10);
    }
    apply {
        by_port.apply();
        by_port2.apply();
        hdr.h.sz = (bit<8>)sizeInBits(hdr.h);
        hdr.h.bytes = (bit<8>)sizeInBytes(meta.p);
        hdr.h.msz = (bit<8>)hdr.h.minSizeInBytes();
        if ((raw16_t)hdr.h.port == 16w0x0102) {
            sm.egress_spec = 2;
        } else {
            sm.egress_spec = 1;
        }
    }
}
control MyEgress(inout headers_t hdr, inout meta_t meta,
                 inout standard_metadata_t sm) { apply { } }
control MyCompute(inout headers_t hdr, inout meta_t meta) { apply { } }
control MyDeparser(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); } }
V1Switch(MyParser(), MyVerify(), MyIngress(), MyEgress(), MyCompute(),
         MyDeparser()) main;
