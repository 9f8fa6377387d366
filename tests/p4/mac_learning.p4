/* MAC learning with idle timeout, the program for idle-timeout tests: `smac`
 * knows the source addresses seen and ages them (support_timeout = true), so
 * the controller hears of the hosts that went quiet; `dmac` forwards by
 * destination and never ages (support_timeout = false). */
#include <core.p4>
#include <v1model.p4>

header ethernet_t {
    bit<48> dst_addr;
    bit<48> src_addr;
    bit<16> ether_type;
}

struct headers_t {
    ethernet_t ethernet;
}

struct metadata_t { }

parser MyParser(packet_in pkt, out headers_t hdr, inout metadata_t meta,
                inout standard_metadata_t std_meta) {
    state start {
        pkt.extract(hdr.ethernet);
        transition accept;
    }
}

control MyVerifyChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply { }
}

control MyIngress(inout headers_t hdr, inout metadata_t meta,
                  inout standard_metadata_t std_meta) {
    action known() { }
    action unknown() { }
    action forward(bit<9> port) {
        std_meta.egress_spec = port;
    }
    action drop() {
        mark_to_drop(std_meta);
    }

    table smac {
        key = { hdr.ethernet.src_addr : exact; }
        actions = { known; unknown; }
        default_action = unknown();
        support_timeout = true;
    }

    table dmac {
        key = { hdr.ethernet.dst_addr : ternary; }
        actions = { forward; drop; }
        default_action = drop();
        support_timeout = false;
    }

    apply {
        smac.apply();
        dmac.apply();
    }
}

control MyEgress(inout headers_t hdr, inout metadata_t meta,
                 inout standard_metadata_t std_meta) {
    apply { }
}

control MyComputeChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply { }
}

control MyDeparser(packet_out pkt, in headers_t hdr) {
    apply {
        pkt.emit(hdr.ethernet);
    }
}

V1Switch(MyParser(), MyVerifyChecksum(), MyIngress(), MyEgress(),
         MyComputeChecksum(), MyDeparser()) main;
