/* DIN data plane: parser, checksum controls and deparser for din.p4. */
#ifndef _DIN_PARSER_P4_
#define _DIN_PARSER_P4_

parser DinParser(packet_in pkt, out headers_t hdr, inout metadata_t meta,
                 inout standard_metadata_t sm) {
    state start {
        transition select(sm.ingress_port) {
            CPU_PORT : parse_packet_out;
            default  : parse_ethernet;
        }
    }

    state parse_packet_out {
        pkt.extract(hdr.packet_out);
        transition parse_ethernet;
    }

    state parse_ethernet {
        pkt.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) {
            ETHERTYPE_IPV4 : parse_ipv4;
            default        : accept;
        }
    }

    state parse_ipv4 {
        pkt.extract(hdr.ipv4);
        // No IPv4 options and no fragments past the first: only then is the
        // L4 header right behind the IPv4 header.
        transition select(hdr.ipv4.ihl, hdr.ipv4.frag_offset, hdr.ipv4.protocol) {
            (4w5, 13w0, IP_PROTO_TCP) : parse_tcp;
            (4w5, 13w0, IP_PROTO_UDP) : parse_udp;
            default                   : accept;
        }
    }

    state parse_tcp {
        pkt.extract(hdr.tcp);
        transition accept;
    }

    state parse_udp {
        pkt.extract(hdr.udp);
        // Requests go to the DIN port, switch answers come from it.
        transition select(hdr.udp.dst_port, hdr.udp.src_port) {
            (DIN_UDP_PORT, _) : parse_din;
            (_, DIN_UDP_PORT) : parse_din;
            default           : accept;
        }
    }

    state parse_din {
        pkt.extract(hdr.din);
        // An unknown version or type leaves din_vec and din_adv invalid;
        // ingress drops and counts such packets.
        transition select(hdr.din.version, hdr.din.msg_type) {
            (DIN_VERSION, DIN_TYPE_REQUEST)    : parse_din_vec;
            (DIN_VERSION, DIN_TYPE_RESPONSE)   : parse_din_vec;
            (DIN_VERSION, DIN_TYPE_ESCALATION) : parse_din_vec;
            (DIN_VERSION, DIN_TYPE_ADVERTISE)  : parse_din_adv;
            default                            : accept;
        }
    }

    state parse_din_vec {
        pkt.extract(hdr.din_vec);
        transition accept;
    }

    state parse_din_adv {
        pkt.extract(hdr.din_adv);
        transition accept;
    }
}

/* The IPv4 header checksum is verified and recomputed over the 20-byte base
 * header only when there are no options (ihl == 5): options are not parsed, so
 * they are not in the field list. A packet with options is not verified, and
 * ipv4_forward keeps its checksum right by the incremental update of RFC 1624. */
control DinVerifyChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply {
        verify_checksum(hdr.ipv4.isValid() && hdr.ipv4.ihl == 5,
            { hdr.ipv4.version, hdr.ipv4.ihl, hdr.ipv4.dscp, hdr.ipv4.ecn,
              hdr.ipv4.total_len, hdr.ipv4.identification,
              hdr.ipv4.flags, hdr.ipv4.frag_offset, hdr.ipv4.ttl,
              hdr.ipv4.protocol, hdr.ipv4.src_addr, hdr.ipv4.dst_addr },
            hdr.ipv4.hdr_checksum, HashAlgorithm.csum16);
    }
}

control DinComputeChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply {
        update_checksum(hdr.ipv4.isValid() && hdr.ipv4.ihl == 5,
            { hdr.ipv4.version, hdr.ipv4.ihl, hdr.ipv4.dscp, hdr.ipv4.ecn,
              hdr.ipv4.total_len, hdr.ipv4.identification,
              hdr.ipv4.flags, hdr.ipv4.frag_offset, hdr.ipv4.ttl,
              hdr.ipv4.protocol, hdr.ipv4.src_addr, hdr.ipv4.dst_addr },
            hdr.ipv4.hdr_checksum, HashAlgorithm.csum16);
    }
}

control DinDeparser(packet_out pkt, in headers_t hdr) {
    apply {
        pkt.emit(hdr.packet_in);
        pkt.emit(hdr.ethernet);
        pkt.emit(hdr.ipv4);
        pkt.emit(hdr.tcp);
        pkt.emit(hdr.udp);
        pkt.emit(hdr.din);
        pkt.emit(hdr.din_vec);
        pkt.emit(hdr.din_adv);
    }
}

#endif  /* _DIN_PARSER_P4_ */
