/* DIN data plane: per-flow features, quantization and the encoded forest.
 *
 * FlowClassifier is instantiated as MyIngress.classifier, so its objects
 * appear in P4Info as MyIngress.classifier.<name>.
 *
 * Pipeline: 5-tuple hash -> flow registers -> 12 features (meta.feat)
 * -> classifier_phase (range on the flow's packet count: per-packet model
 * or flow model, i.e. meta.cls.cls_model) -> quant_<f> (range: feature ->
 * bin) -> code_<f> (exact: bin -> one 16-bit code per tree) -> tree_<t>
 * (ternary over the tree's 12 codes: a leaf adds its per-class scores)
 * -> argmax over the 8 class sums -> class and confidence.
 */
#ifndef _DIN_CLASSIFIER_P4_
#define _DIN_CLASSIFIER_P4_

control FlowClassifier(inout headers_t hdr, inout metadata_t meta,
                       inout standard_metadata_t sm) {
    /* Flow table: one slot per crc32(5-tuple) mod FLOW_TABLE_SIZE. */
    register<bit<16>>(FLOW_TABLE_SIZE) flow_sig;
    register<bit<32>>(FLOW_TABLE_SIZE) flow_pkts;
    register<bit<32>>(FLOW_TABLE_SIZE) flow_bytes;
    register<bit<48>>(FLOW_TABLE_SIZE) flow_first_ts;
    register<bit<48>>(FLOW_TABLE_SIZE) flow_last_ts;
    register<bit<32>>(FLOW_TABLE_SIZE) flow_iat_min;
    register<bit<32>>(FLOW_TABLE_SIZE) flow_iat_max;
    register<bit<32>>(FLOW_TABLE_SIZE) flow_iat_ewma;
    register<bit<16>>(FLOW_TABLE_SIZE) flow_size_min;
    register<bit<16>>(FLOW_TABLE_SIZE) flow_size_max;
    register<bit<8>>(FLOW_TABLE_SIZE)  flow_tcp_flags;
    /* Last class reported for the flow, plus one (0: none yet). */
    register<bit<8>>(FLOW_TABLE_SIZE)  flow_class;

    action set_classifier(bit<8> cls_model) {
        meta.cls.enabled = 1;
        meta.cls.cls_model = cls_model;
    }
    action classifier_off() {
        meta.cls.enabled = 0;
        meta.cls.cls_model = 0;
    }
    /* Entries: [1 .. N-1] -> per-packet model, [N .. 2^32-1] -> flow model. */
    table classifier_phase {
        key = { meta.feat.pkts : range; }
        actions = { set_classifier; classifier_off; }
        default_action = classifier_off();
        size = 16;
    }

    /* A leaf of a tree: its score for each class (0..255). */
    action tree_vote(bit<8> s0, bit<8> s1, bit<8> s2, bit<8> s3,
                     bit<8> s4, bit<8> s5, bit<8> s6, bit<8> s7) {
        meta.cls.valid = 1;
        meta.cls.vote0 = meta.cls.vote0 + (bit<16>)s0;
        meta.cls.vote1 = meta.cls.vote1 + (bit<16>)s1;
        meta.cls.vote2 = meta.cls.vote2 + (bit<16>)s2;
        meta.cls.vote3 = meta.cls.vote3 + (bit<16>)s3;
        meta.cls.vote4 = meta.cls.vote4 + (bit<16>)s4;
        meta.cls.vote5 = meta.cls.vote5 + (bit<16>)s5;
        meta.cls.vote6 = meta.cls.vote6 + (bit<16>)s6;
        meta.cls.vote7 = meta.cls.vote7 + (bit<16>)s7;
    }

    action set_bin_pkt_len(bit<8> bin) {
        meta.bin.pkt_len = bin;
    }

    table quant_pkt_len {
        key = {
            meta.cls.cls_model : exact;
            meta.feat.pkt_len : range;
        }
        actions = { set_bin_pkt_len; }
        default_action = set_bin_pkt_len(0);
        size = 256;
    }

    action set_bin_service_port(bit<8> bin) {
        meta.bin.service_port = bin;
    }

    table quant_service_port {
        key = {
            meta.cls.cls_model : exact;
            meta.feat.service_port : range;
        }
        actions = { set_bin_service_port; }
        default_action = set_bin_service_port(0);
        size = 256;
    }

    action set_bin_iat(bit<8> bin) {
        meta.bin.iat = bin;
    }

    table quant_iat {
        key = {
            meta.cls.cls_model : exact;
            meta.feat.iat : range;
        }
        actions = { set_bin_iat; }
        default_action = set_bin_iat(0);
        size = 256;
    }

    action set_bin_pkts(bit<8> bin) {
        meta.bin.pkts = bin;
    }

    table quant_pkts {
        key = {
            meta.cls.cls_model : exact;
            meta.feat.pkts : range;
        }
        actions = { set_bin_pkts; }
        default_action = set_bin_pkts(0);
        size = 256;
    }

    action set_bin_bytes(bit<8> bin) {
        meta.bin.bytes = bin;
    }

    table quant_bytes {
        key = {
            meta.cls.cls_model : exact;
            meta.feat.bytes : range;
        }
        actions = { set_bin_bytes; }
        default_action = set_bin_bytes(0);
        size = 256;
    }

    action set_bin_duration(bit<8> bin) {
        meta.bin.duration = bin;
    }

    table quant_duration {
        key = {
            meta.cls.cls_model : exact;
            meta.feat.duration : range;
        }
        actions = { set_bin_duration; }
        default_action = set_bin_duration(0);
        size = 256;
    }

    action set_bin_iat_min(bit<8> bin) {
        meta.bin.iat_min = bin;
    }

    table quant_iat_min {
        key = {
            meta.cls.cls_model : exact;
            meta.feat.iat_min : range;
        }
        actions = { set_bin_iat_min; }
        default_action = set_bin_iat_min(0);
        size = 256;
    }

    action set_bin_iat_max(bit<8> bin) {
        meta.bin.iat_max = bin;
    }

    table quant_iat_max {
        key = {
            meta.cls.cls_model : exact;
            meta.feat.iat_max : range;
        }
        actions = { set_bin_iat_max; }
        default_action = set_bin_iat_max(0);
        size = 256;
    }

    action set_bin_iat_ewma(bit<8> bin) {
        meta.bin.iat_ewma = bin;
    }

    table quant_iat_ewma {
        key = {
            meta.cls.cls_model : exact;
            meta.feat.iat_ewma : range;
        }
        actions = { set_bin_iat_ewma; }
        default_action = set_bin_iat_ewma(0);
        size = 256;
    }

    action set_bin_size_min(bit<8> bin) {
        meta.bin.size_min = bin;
    }

    table quant_size_min {
        key = {
            meta.cls.cls_model : exact;
            meta.feat.size_min : range;
        }
        actions = { set_bin_size_min; }
        default_action = set_bin_size_min(0);
        size = 256;
    }

    action set_bin_size_max(bit<8> bin) {
        meta.bin.size_max = bin;
    }

    table quant_size_max {
        key = {
            meta.cls.cls_model : exact;
            meta.feat.size_max : range;
        }
        actions = { set_bin_size_max; }
        default_action = set_bin_size_max(0);
        size = 256;
    }

    action set_bin_tcp_flags(bit<8> bin) {
        meta.bin.tcp_flags = bin;
    }

    table quant_tcp_flags {
        key = {
            meta.cls.cls_model : exact;
            meta.feat.tcp_flags : range;
        }
        actions = { set_bin_tcp_flags; }
        default_action = set_bin_tcp_flags(0);
        size = 256;
    }

    action set_codes_pkt_len(bit<16> t0, bit<16> t1, bit<16> t2, bit<16> t3) {
        meta.c0.pkt_len = t0;
        meta.c1.pkt_len = t1;
        meta.c2.pkt_len = t2;
        meta.c3.pkt_len = t3;
    }

    table code_pkt_len {
        key = {
            meta.cls.cls_model : exact;
            meta.bin.pkt_len : exact;
        }
        actions = { set_codes_pkt_len; }
        default_action = set_codes_pkt_len(0, 0, 0, 0);
        size = 512;
    }

    action set_codes_service_port(bit<16> t0, bit<16> t1, bit<16> t2, bit<16> t3) {
        meta.c0.service_port = t0;
        meta.c1.service_port = t1;
        meta.c2.service_port = t2;
        meta.c3.service_port = t3;
    }

    table code_service_port {
        key = {
            meta.cls.cls_model : exact;
            meta.bin.service_port : exact;
        }
        actions = { set_codes_service_port; }
        default_action = set_codes_service_port(0, 0, 0, 0);
        size = 512;
    }

    action set_codes_iat(bit<16> t0, bit<16> t1, bit<16> t2, bit<16> t3) {
        meta.c0.iat = t0;
        meta.c1.iat = t1;
        meta.c2.iat = t2;
        meta.c3.iat = t3;
    }

    table code_iat {
        key = {
            meta.cls.cls_model : exact;
            meta.bin.iat : exact;
        }
        actions = { set_codes_iat; }
        default_action = set_codes_iat(0, 0, 0, 0);
        size = 512;
    }

    action set_codes_pkts(bit<16> t0, bit<16> t1, bit<16> t2, bit<16> t3) {
        meta.c0.pkts = t0;
        meta.c1.pkts = t1;
        meta.c2.pkts = t2;
        meta.c3.pkts = t3;
    }

    table code_pkts {
        key = {
            meta.cls.cls_model : exact;
            meta.bin.pkts : exact;
        }
        actions = { set_codes_pkts; }
        default_action = set_codes_pkts(0, 0, 0, 0);
        size = 512;
    }

    action set_codes_bytes(bit<16> t0, bit<16> t1, bit<16> t2, bit<16> t3) {
        meta.c0.bytes = t0;
        meta.c1.bytes = t1;
        meta.c2.bytes = t2;
        meta.c3.bytes = t3;
    }

    table code_bytes {
        key = {
            meta.cls.cls_model : exact;
            meta.bin.bytes : exact;
        }
        actions = { set_codes_bytes; }
        default_action = set_codes_bytes(0, 0, 0, 0);
        size = 512;
    }

    action set_codes_duration(bit<16> t0, bit<16> t1, bit<16> t2, bit<16> t3) {
        meta.c0.duration = t0;
        meta.c1.duration = t1;
        meta.c2.duration = t2;
        meta.c3.duration = t3;
    }

    table code_duration {
        key = {
            meta.cls.cls_model : exact;
            meta.bin.duration : exact;
        }
        actions = { set_codes_duration; }
        default_action = set_codes_duration(0, 0, 0, 0);
        size = 512;
    }

    action set_codes_iat_min(bit<16> t0, bit<16> t1, bit<16> t2, bit<16> t3) {
        meta.c0.iat_min = t0;
        meta.c1.iat_min = t1;
        meta.c2.iat_min = t2;
        meta.c3.iat_min = t3;
    }

    table code_iat_min {
        key = {
            meta.cls.cls_model : exact;
            meta.bin.iat_min : exact;
        }
        actions = { set_codes_iat_min; }
        default_action = set_codes_iat_min(0, 0, 0, 0);
        size = 512;
    }

    action set_codes_iat_max(bit<16> t0, bit<16> t1, bit<16> t2, bit<16> t3) {
        meta.c0.iat_max = t0;
        meta.c1.iat_max = t1;
        meta.c2.iat_max = t2;
        meta.c3.iat_max = t3;
    }

    table code_iat_max {
        key = {
            meta.cls.cls_model : exact;
            meta.bin.iat_max : exact;
        }
        actions = { set_codes_iat_max; }
        default_action = set_codes_iat_max(0, 0, 0, 0);
        size = 512;
    }

    action set_codes_iat_ewma(bit<16> t0, bit<16> t1, bit<16> t2, bit<16> t3) {
        meta.c0.iat_ewma = t0;
        meta.c1.iat_ewma = t1;
        meta.c2.iat_ewma = t2;
        meta.c3.iat_ewma = t3;
    }

    table code_iat_ewma {
        key = {
            meta.cls.cls_model : exact;
            meta.bin.iat_ewma : exact;
        }
        actions = { set_codes_iat_ewma; }
        default_action = set_codes_iat_ewma(0, 0, 0, 0);
        size = 512;
    }

    action set_codes_size_min(bit<16> t0, bit<16> t1, bit<16> t2, bit<16> t3) {
        meta.c0.size_min = t0;
        meta.c1.size_min = t1;
        meta.c2.size_min = t2;
        meta.c3.size_min = t3;
    }

    table code_size_min {
        key = {
            meta.cls.cls_model : exact;
            meta.bin.size_min : exact;
        }
        actions = { set_codes_size_min; }
        default_action = set_codes_size_min(0, 0, 0, 0);
        size = 512;
    }

    action set_codes_size_max(bit<16> t0, bit<16> t1, bit<16> t2, bit<16> t3) {
        meta.c0.size_max = t0;
        meta.c1.size_max = t1;
        meta.c2.size_max = t2;
        meta.c3.size_max = t3;
    }

    table code_size_max {
        key = {
            meta.cls.cls_model : exact;
            meta.bin.size_max : exact;
        }
        actions = { set_codes_size_max; }
        default_action = set_codes_size_max(0, 0, 0, 0);
        size = 512;
    }

    action set_codes_tcp_flags(bit<16> t0, bit<16> t1, bit<16> t2, bit<16> t3) {
        meta.c0.tcp_flags = t0;
        meta.c1.tcp_flags = t1;
        meta.c2.tcp_flags = t2;
        meta.c3.tcp_flags = t3;
    }

    table code_tcp_flags {
        key = {
            meta.cls.cls_model : exact;
            meta.bin.tcp_flags : exact;
        }
        actions = { set_codes_tcp_flags; }
        default_action = set_codes_tcp_flags(0, 0, 0, 0);
        size = 512;
    }

    table tree_0 {
        key = {
            meta.cls.cls_model : exact;
            meta.c0.pkt_len : ternary;
            meta.c0.service_port : ternary;
            meta.c0.iat : ternary;
            meta.c0.pkts : ternary;
            meta.c0.bytes : ternary;
            meta.c0.duration : ternary;
            meta.c0.iat_min : ternary;
            meta.c0.iat_max : ternary;
            meta.c0.iat_ewma : ternary;
            meta.c0.size_min : ternary;
            meta.c0.size_max : ternary;
            meta.c0.tcp_flags : ternary;
        }
        actions = { tree_vote; NoAction; }
        default_action = NoAction();
        size = 1024;
    }

    table tree_1 {
        key = {
            meta.cls.cls_model : exact;
            meta.c1.pkt_len : ternary;
            meta.c1.service_port : ternary;
            meta.c1.iat : ternary;
            meta.c1.pkts : ternary;
            meta.c1.bytes : ternary;
            meta.c1.duration : ternary;
            meta.c1.iat_min : ternary;
            meta.c1.iat_max : ternary;
            meta.c1.iat_ewma : ternary;
            meta.c1.size_min : ternary;
            meta.c1.size_max : ternary;
            meta.c1.tcp_flags : ternary;
        }
        actions = { tree_vote; NoAction; }
        default_action = NoAction();
        size = 1024;
    }

    table tree_2 {
        key = {
            meta.cls.cls_model : exact;
            meta.c2.pkt_len : ternary;
            meta.c2.service_port : ternary;
            meta.c2.iat : ternary;
            meta.c2.pkts : ternary;
            meta.c2.bytes : ternary;
            meta.c2.duration : ternary;
            meta.c2.iat_min : ternary;
            meta.c2.iat_max : ternary;
            meta.c2.iat_ewma : ternary;
            meta.c2.size_min : ternary;
            meta.c2.size_max : ternary;
            meta.c2.tcp_flags : ternary;
        }
        actions = { tree_vote; NoAction; }
        default_action = NoAction();
        size = 1024;
    }

    table tree_3 {
        key = {
            meta.cls.cls_model : exact;
            meta.c3.pkt_len : ternary;
            meta.c3.service_port : ternary;
            meta.c3.iat : ternary;
            meta.c3.pkts : ternary;
            meta.c3.bytes : ternary;
            meta.c3.duration : ternary;
            meta.c3.iat_min : ternary;
            meta.c3.iat_max : ternary;
            meta.c3.iat_ewma : ternary;
            meta.c3.size_min : ternary;
            meta.c3.size_max : ternary;
            meta.c3.tcp_flags : ternary;
        }
        actions = { tree_vote; NoAction; }
        default_action = NoAction();
        size = 1024;
    }

    apply {
        /* ------------------------------------------------ flow features */
        bit<16> sport = 0;
        bit<16> dport = 0;
        bit<8>  tflags = 0;
        if (hdr.tcp.isValid()) {
            sport = hdr.tcp.src_port;
            dport = hdr.tcp.dst_port;
            tflags = hdr.tcp.flags;
        } else if (hdr.udp.isValid()) {
            sport = hdr.udp.src_port;
            dport = hdr.udp.dst_port;
        }
        hash(meta.cls.flow_idx, HashAlgorithm.crc32, 32w0,
             { hdr.ipv4.src_addr, hdr.ipv4.dst_addr, hdr.ipv4.protocol,
               sport, dport },
             FLOW_TABLE_SIZE);
        // A second, different hash tells flows sharing a slot apart.
        hash(meta.cls.flow_sig, HashAlgorithm.crc16, 16w0,
             { hdr.ipv4.dst_addr, hdr.ipv4.src_addr, dport, sport,
               hdr.ipv4.protocol },
             32w65536);

        bit<32> idx = meta.cls.flow_idx;
        bit<48> now = sm.ingress_global_timestamp;
        bit<16> len = hdr.ipv4.total_len;

        bit<16> old_sig;
        bit<32> old_pkts;
        bit<48> old_last;
        flow_sig.read(old_sig, idx);
        flow_pkts.read(old_pkts, idx);
        flow_last_ts.read(old_last, idx);

        meta.cls.new_flow = 0;
        meta.cls.collision = 0;
        if (old_pkts == 0) {
            meta.cls.new_flow = 1;
        } else if (old_sig != meta.cls.flow_sig) {
            // Collision policy: the newer flow takes the slot over.
            meta.cls.new_flow = 1;
            meta.cls.collision = 1;
        } else if (now - old_last > FLOW_IDLE_US) {
            meta.cls.new_flow = 1;
        }

        meta.feat.pkt_len = len;
        meta.feat.service_port = (sport < dport) ? sport : dport;

        if (meta.cls.new_flow == 1) {
            meta.feat.iat = 0;
            meta.feat.pkts = 1;
            meta.feat.bytes = (bit<32>)len;
            meta.feat.duration = 0;
            meta.feat.iat_min = 0;
            meta.feat.iat_max = 0;
            meta.feat.iat_ewma = 0;
            meta.feat.size_min = len;
            meta.feat.size_max = len;
            meta.feat.tcp_flags = tflags;
            flow_sig.write(idx, meta.cls.flow_sig);
            flow_first_ts.write(idx, now);
        } else {
            bit<32> old_bytes;
            bit<48> first;
            bit<32> imin;
            bit<32> imax;
            bit<32> ewma;
            bit<16> smin;
            bit<16> smax;
            bit<8>  fl;
            flow_bytes.read(old_bytes, idx);
            flow_first_ts.read(first, idx);
            flow_iat_min.read(imin, idx);
            flow_iat_max.read(imax, idx);
            flow_iat_ewma.read(ewma, idx);
            flow_size_min.read(smin, idx);
            flow_size_max.read(smax, idx);
            flow_tcp_flags.read(fl, idx);

            // now - old_last <= FLOW_IDLE_US < 2^32 here, so 32 bits hold it.
            bit<48> gap = now - old_last;
            bit<32> iat = gap[31:0];
            meta.feat.iat = iat;
            meta.feat.pkts = old_pkts |+| 1;
            meta.feat.bytes = old_bytes |+| (bit<32>)len;
            bit<48> dur = now - first;
            if (dur > 48w0xffffffff) {
                meta.feat.duration = 32w0xffffffff;
            } else {
                meta.feat.duration = dur[31:0];
            }
            if (old_pkts == 1) {
                // Second packet: the first inter-arrival time seeds all three.
                meta.feat.iat_min = iat;
                meta.feat.iat_max = iat;
                meta.feat.iat_ewma = iat;
            } else {
                meta.feat.iat_min = (iat < imin) ? iat : imin;
                meta.feat.iat_max = (iat > imax) ? iat : imax;
                meta.feat.iat_ewma = ewma - (ewma >> IAT_EWMA_SHIFT)
                                     + (iat >> IAT_EWMA_SHIFT);
            }
            meta.feat.size_min = (len < smin) ? len : smin;
            meta.feat.size_max = (len > smax) ? len : smax;
            meta.feat.tcp_flags = fl | tflags;
        }
        flow_pkts.write(idx, meta.feat.pkts);
        flow_bytes.write(idx, meta.feat.bytes);
        flow_last_ts.write(idx, now);
        flow_iat_min.write(idx, meta.feat.iat_min);
        flow_iat_max.write(idx, meta.feat.iat_max);
        flow_iat_ewma.write(idx, meta.feat.iat_ewma);
        flow_size_min.write(idx, meta.feat.size_min);
        flow_size_max.write(idx, meta.feat.size_max);
        flow_tcp_flags.write(idx, meta.feat.tcp_flags);

        /* ------------------------------------------------ classification */
        classifier_phase.apply();
        if (meta.cls.enabled == 1) {
            quant_pkt_len.apply();
            quant_service_port.apply();
            quant_iat.apply();
            quant_pkts.apply();
            quant_bytes.apply();
            quant_duration.apply();
            quant_iat_min.apply();
            quant_iat_max.apply();
            quant_iat_ewma.apply();
            quant_size_min.apply();
            quant_size_max.apply();
            quant_tcp_flags.apply();
            code_pkt_len.apply();
            code_service_port.apply();
            code_iat.apply();
            code_pkts.apply();
            code_bytes.apply();
            code_duration.apply();
            code_iat_min.apply();
            code_iat_max.apply();
            code_iat_ewma.apply();
            code_size_min.apply();
            code_size_max.apply();
            code_tcp_flags.apply();
            tree_0.apply();
            tree_1.apply();
            tree_2.apply();
            tree_3.apply();

            // Argmax over the class sums; ties go to the lower class.
            bit<16> best = meta.cls.vote0;
            bit<8>  cls = 0;
            if (meta.cls.vote1 > best) { best = meta.cls.vote1; cls = 1; }
            if (meta.cls.vote2 > best) { best = meta.cls.vote2; cls = 2; }
            if (meta.cls.vote3 > best) { best = meta.cls.vote3; cls = 3; }
            if (meta.cls.vote4 > best) { best = meta.cls.vote4; cls = 4; }
            if (meta.cls.vote5 > best) { best = meta.cls.vote5; cls = 5; }
            if (meta.cls.vote6 > best) { best = meta.cls.vote6; cls = 6; }
            if (meta.cls.vote7 > best) { best = meta.cls.vote7; cls = 7; }
            meta.cls.flow_class = cls;
            // Four leaf scores of at most 255 each: best >> 2 fits 8 bits.
            meta.cls.confidence = (bit<8>)(best >> 2);
        }

        /* Report a flow's first classification and every change of class. */
        bit<8> stored = 0;
        if (meta.cls.new_flow == 0) {
            flow_class.read(stored, idx);
        }
        meta.cls.class_changed = 0;
        if (meta.cls.valid == 1) {
            bit<8> tagged = meta.cls.flow_class + 1;
            if (stored != tagged) {
                meta.cls.class_changed = 1;
                flow_class.write(idx, tagged);
                digest<flow_class_digest_t>(1, {
                    hdr.ipv4.src_addr, hdr.ipv4.dst_addr, hdr.ipv4.protocol,
                    sport, dport, meta.cls.cls_model, meta.cls.flow_class,
                    meta.cls.confidence, meta.feat.pkts });
            }
        } else if (meta.cls.new_flow == 1) {
            flow_class.write(idx, 0);
        }
    }
}

#endif  /* _DIN_CLASSIFIER_P4_ */
