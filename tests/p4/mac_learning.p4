/* A MAC-learning switch, the program for the P4Runtime tests that need a
 * controller: `smac` knows the source addresses seen and ages them
 * (support_timeout = true), an unknown source is sent to the controller as a
 * digest; `dmac` forwards by destination, to a port or to the CPU (a
 * PacketIn), and never ages (support_timeout = false). A PacketOut leaves on
 * the port its header names. CPU port 64. */
#include <core.p4>
#include <v1model.p4>

const bit<9> CPU_PORT = 64;

@controller_header("packet_in")
header packet_in_t {
    bit<9> ingress_port;
    bit<7> _pad;
}

@controller_header("packet_out")
header packet_out_t {
    bit<9> egress_port;
    bit<7> _pad;
}

header ethernet_t {
    bit<48> dst_addr;
    bit<48> src_addr;
    bit<16> ether_type;
}

struct headers_t {
    packet_in_t  packet_in;
    packet_out_t packet_out;
    ethernet_t   ethernet;
}

struct metadata_t { }

struct learn_t {
    bit<48> src_addr;
    bit<9>  ingress_port;
}

parser MyParser(packet_in pkt, out headers_t hdr, inout metadata_t meta,
                inout standard_metadata_t std_meta) {
    state start {
        transition select(std_meta.ingress_port) {
            CPU_PORT: parse_packet_out;
            default: parse_ethernet;
        }
    }
    state parse_packet_out {
        pkt.extract(hdr.packet_out);
        transition parse_ethernet;
    }
    state parse_ethernet {
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
    action unknown() {
        digest<learn_t>(1, {hdr.ethernet.src_addr, std_meta.ingress_port});
    }
    action forward(bit<9> port) {
        std_meta.egress_spec = port;
    }
    action to_cpu() {
        std_meta.egress_spec = CPU_PORT;
        hdr.packet_in.setValid();
        hdr.packet_in.ingress_port = std_meta.ingress_port;
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
        actions = { forward; to_cpu; drop; }
        default_action = drop();
        support_timeout = false;
    }

    apply {
        if (hdr.packet_out.isValid()) {
            std_meta.egress_spec = hdr.packet_out.egress_port;
            hdr.packet_out.setInvalid();
        } else {
            smac.apply();
            dmac.apply();
        }
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
        pkt.emit(hdr.packet_in);
        pkt.emit(hdr.ethernet);
    }
}

V1Switch(MyParser(), MyVerifyChecksum(), MyIngress(), MyEgress(),
         MyComputeChecksum(), MyDeparser()) main;
