/* din.p4: the Distributed Inference Network data plane (P4-16, v1model).
 *
 * One program for every switch; a switch's role (classifier, MLP layers,
 * early exit, steering, policy) comes only from its table entries.
 * Build: p4c --target bmv2 --arch v1model -o build \
 *            --p4runtime-files build/din.p4info.txtpb p4src/din.p4
 * Run simple_switch_grpc with --cpu-port 255.
 * Protocol, tables and arithmetic: p4src/README.md.
 */
#include <core.p4>
#include <v1model.p4>

#include "include/headers.p4"
#include "include/parser.p4"
#include "include/classifier.p4"
#include "include/mlp.p4"

control MyIngress(inout headers_t hdr, inout metadata_t meta,
                  inout standard_metadata_t sm) {
    FlowClassifier() classifier;
    MlpLayer() mlp;

    /* ------------------------------------------------------- telemetry */
    counter(NUM_FLOW_CLASSES, CounterType.packets_and_bytes) class_packets;
    counter(MAX_INSTANCES, CounterType.packets_and_bytes) instance_requests;
    counter(256, CounterType.packets) policy_drops;      // by sensitivity
    counter(NUM_EVENTS, CounterType.packets) din_events;  // EV_*
    counter(NUM_DROP_REASONS, CounterType.packets) drops; // DROP_*

    /* Node state from advertisements, indexed by instance id. */
    register<bit<48>>(MAX_INSTANCES) instance_last_seen;
    register<bit<16>>(MAX_INSTANCES) instance_queue_len;
    register<bit<8>>(MAX_INSTANCES)  instance_utilisation;
    register<bit<32>>(MAX_INSTANCES) instance_req_rate;
    register<bit<32>>(MAX_INSTANCES) instance_capacity;

    action drop() {
        mark_to_drop(sm);
    }

    /* ------------------------------------------------------ forwarding */
    action ipv4_forward(bit<48> dst_mac, bit<48> src_mac, bit<9> port) {
        hdr.ethernet.dst_addr = dst_mac;
        hdr.ethernet.src_addr = src_mac;
        hdr.ipv4.ttl = hdr.ipv4.ttl - 1;
        // RFC 1624: HC' = ~(~HC + ~m + m'), where the 16-bit word m = ttl:protocol
        // loses 0x0100, so ~m + m' = 0xfeff. DinComputeChecksum recomputes the
        // checksum of packets without options; this keeps the others right.
        bit<17> sum = (bit<17>)(~hdr.ipv4.hdr_checksum) + 17w0xfeff;
        hdr.ipv4.hdr_checksum = ~(sum[15:0] + (bit<16>)sum[16:16]);
        sm.egress_spec = port;
    }
    table ipv4_lpm {
        key = { hdr.ipv4.dst_addr : lpm; }
        actions = { ipv4_forward; drop; }
        default_action = drop();
        size = 1024;
    }

    /* Flow class -> DSCP. */
    action set_dscp(bit<6> dscp) {
        hdr.ipv4.dscp = dscp;
    }
    table class_qos {
        key = { meta.cls.flow_class : exact; }
        actions = { set_dscp; NoAction; }
        default_action = NoAction();
        size = 16;
    }

    /* -------------------------------------------------- partitioned MLP */
    /* Requests with model_version 0 take the model's active version here,
     * so every layer of one request uses the same version. */
    action set_model_version(bit<8> version) {
        hdr.din.model_version = version;
    }
    table active_model_version {
        key = { hdr.din.model_id : exact; }
        actions = { set_model_version; NoAction; }
        default_action = NoAction();
        size = 256;
    }

    /* This switch computes layer `stage` of the model; mode says what
     * follows (MLP_MODE_*). */
    action set_mlp_role(bit<8> mode, bit<8> head_layer, bit<8> num_classes) {
        meta.mlp.run = 1;
        meta.mlp.layer = hdr.din.stage;
        meta.mlp.mode = mode;
        meta.mlp.num_classes = num_classes;
        meta.head_layer = head_layer;
        meta.head_classes = num_classes;
    }
    table mlp_role {
        key = {
            hdr.din.model_id      : exact;
            hdr.din.model_version : exact;
            hdr.din.stage         : exact;
        }
        actions = { set_mlp_role; NoAction; }
        default_action = NoAction();
        size = 1024;
    }

    /* Per-class confidence a switch answer needs. */
    action set_exit_threshold(bit<8> min_confidence) {
        meta.exit_hit = 1;
        meta.exit_min_conf = min_confidence;
    }
    table exit_threshold {
        key = {
            hdr.din.model_id      : exact;
            hdr.din.model_version : exact;
            meta.exit_class       : exact;
        }
        actions = { set_exit_threshold; NoAction; }
        default_action = NoAction();
        size = 1024;
    }

    /* Answer the client from the switch: the response goes back the way
     * the request came (addresses and ports swapped, routed by ipv4_lpm). */
    action din_reply() {
        bit<32> addr = hdr.ipv4.src_addr;
        hdr.ipv4.src_addr = hdr.ipv4.dst_addr;
        hdr.ipv4.dst_addr = addr;
        bit<16> port = hdr.udp.src_port;
        hdr.udp.src_port = hdr.udp.dst_port;
        hdr.udp.dst_port = port;
        hdr.din.msg_type = DIN_TYPE_RESPONSE;
        hdr.din.stage = DIN_STAGE_DONE;
        hdr.din.flags = hdr.din.flags | DIN_FLAG_SWITCH_ANSWER;
    }

    /* -------------------------------------------------------- steering */
    // crc32, not crc16: the low bits of crc16 (CRC-16/ARC) over the client's
    // address and port take only 2 values across consecutive ports, so a
    // group of 2^k members would see only 2 of them.
    action_selector(HashAlgorithm.crc32, 32w1024, 32w16) instance_selector;

    action set_instance(bit<16> instance_id) {
        meta.steer.hit = 1;
        meta.steer.instance_id = instance_id;
    }
    /* Service (model, message type, next stage) -> instance; members and
     * weighted groups come from the node metrics; the client's address
     * and port give flow affinity. */
    table din_steer {
        key = {
            hdr.din.model_id    : exact;
            hdr.din.msg_type    : exact;
            hdr.din.stage       : exact;
            hdr.ipv4.src_addr   : selector;
            hdr.udp.src_port    : selector;
        }
        actions = { set_instance; NoAction; }
        implementation = instance_selector;
        size = 1024;
    }

    action set_instance_info(bit<32> addr, bit<16> backup_id,
                             bit<32> backup_addr, bit<48> stale_after_us) {
        meta.steer.instance_addr = addr;
        meta.steer.backup_id = backup_id;
        meta.steer.backup_addr = backup_addr;
        meta.steer.stale_after_us = stale_after_us;
    }
    action instance_unknown() {
        meta.steer.hit = 0;
    }
    table instance_info {
        key = { meta.steer.instance_id : exact; }
        actions = { set_instance_info; instance_unknown; }
        default_action = instance_unknown();
        size = 64;
    }

    /* ---------------------------------------------------------- policy */
    /* Instances a tenant's data may reach (bit i = instance i): `allowed`
     * for activations (stage >= 1), `allowed_raw` for raw inputs (stage 0). */
    action set_allowed(bit<64> allowed, bit<64> allowed_raw) {
        meta.steer.allowed = allowed;
        meta.steer.allowed_raw = allowed_raw;
    }
    table tenant_policy {
        key = {
            hdr.din.tenant_id   : exact;
            hdr.din.sensitivity : exact;
        }
        actions = { set_allowed; }
        default_action = set_allowed(64w0xffffffffffffffff, 64w0xffffffffffffffff);
        size = 1024;
    }

    /* Destination address -> instance, for the policy gate. */
    action set_dst_instance(bit<16> instance_id) {
        meta.steer.dst_known = 1;
        meta.steer.dst_instance = instance_id;
    }
    action dst_unknown() {
        meta.steer.dst_known = 0;
    }
    table instance_addr {
        key = { hdr.ipv4.dst_addr : exact; }
        actions = { set_dst_instance; dst_unknown; }
        default_action = dst_unknown();
        size = 64;
    }

    action policy_drop() {
        policy_drops.count((bit<32>)hdr.din.sensitivity);
        drops.count(DROP_POLICY);
        din_events.count(EV_POLICY_DROP);
        mark_to_drop(sm);
        meta.skip = 1;
    }

    apply {
        meta.orig_ingress_port = sm.ingress_port;
        meta.first_pass = (sm.instance_type == INSTANCE_RECIRC) ? 1w0 : 1w1;
        // Only the head-pass request of the previous pass sets head_pass.
        bit<8> head_now = meta.head_pass;
        meta.head_pass = 0;
        if (meta.first_pass == 1) {
            meta.now_us = sm.ingress_global_timestamp;
        }

        /* ------------------------------------------- controller packets */
        if (hdr.packet_out.isValid()) {
            if (hdr.packet_out.mode == PKT_OUT_PIPELINE) {
                meta.from_cpu = 1;
            } else {
                sm.egress_spec = hdr.packet_out.egress_port;
                meta.skip = 1;
            }
            hdr.packet_out.setInvalid();
        }

        /* ---------------------------------------------------- bad input */
        if (meta.skip == 0) {
            if (sm.parser_error != error.NoError) {
                drops.count(DROP_PARSER_ERROR);
                drop();
                meta.skip = 1;
            } else if (!hdr.ipv4.isValid()) {
                // No ARP here: hosts have static neighbours.
                drops.count(DROP_NOT_IPV4);
                drop();
                meta.skip = 1;
            } else if (sm.checksum_error == 1) {
                drops.count(DROP_CHECKSUM);
                drop();
                meta.skip = 1;
            } else if (hdr.din.isValid() && !hdr.din_vec.isValid()
                       && !hdr.din_adv.isValid()) {
                drops.count(DROP_BAD_DIN);
                drop();
                meta.skip = 1;
            }
        }

        /* ------------------------------------- flow features and classes */
        if (meta.skip == 0 && meta.first_pass == 1 && meta.from_cpu == 0) {
            classifier.apply(hdr, meta, sm);
            if (meta.cls.new_flow == 1) {
                din_events.count(EV_NEW_FLOW);
            }
            if (meta.cls.collision == 1) {
                din_events.count(EV_FLOW_COLLISION);
            }
            if (meta.cls.valid == 1) {
                class_packets.count((bit<32>)meta.cls.flow_class);
                // No DSCP rewrite under options: their checksum is updated
                // incrementally for the TTL only.
                if (hdr.ipv4.ihl == 5) {
                    class_qos.apply();
                }
            }
        }

        /* --------------------------------------------- advertisements */
        if (meta.skip == 0 && hdr.din_adv.isValid()
            && (bit<32>)hdr.din_adv.instance_id >= MAX_INSTANCES) {
            // Register indices must stay in range (BMv2 builds differ on
            // what an out-of-range access does).
            drops.count(DROP_BAD_DIN);
            drop();
            meta.skip = 1;
        }
        if (meta.skip == 0 && hdr.din_adv.isValid()) {
            bit<32> inst = (bit<32>)hdr.din_adv.instance_id;
            instance_last_seen.write(inst, meta.now_us);
            instance_queue_len.write(inst, hdr.din_adv.queue_len);
            instance_utilisation.write(inst, hdr.din_adv.utilisation);
            instance_req_rate.write(inst, hdr.din_adv.req_rate);
            instance_capacity.write(inst, hdr.din_adv.capacity);
            din_events.count(EV_ADVERTISEMENT);
            if (meta.from_cpu == 1) {
                // Relayed by the controller to refresh this switch only.
                drop();
                meta.skip = 1;
            } else {
                digest<advertisement_digest_t>(2, {
                    hdr.ipv4.src_addr, hdr.din_adv.instance_id,
                    hdr.din.model_id, hdr.din.model_version,
                    hdr.din_adv.layer_first, hdr.din_adv.layer_last,
                    hdr.din_adv.queue_len, hdr.din_adv.utilisation,
                    hdr.din_adv.req_rate, hdr.din_adv.capacity,
                    meta.now_us });
            }
        }

        /* ------------------------------------------------ DIN messages */
        if (meta.skip == 0 && hdr.din_vec.isValid()) {
            // Any change to the DIN header invalidates the UDP checksum;
            // 0 means "no checksum" for UDP over IPv4.
            hdr.udp.checksum = 0;
            if (meta.first_pass == 1) {
                hdr.din.hop_count = hdr.din.hop_count + 1;
                if (hdr.din.ingress_ts == 0) {
                    hdr.din.ingress_ts = meta.now_us;
                }
                if (hdr.din.msg_type == DIN_TYPE_REQUEST) {
                    din_events.count(EV_REQUEST);
                } else if (hdr.din.msg_type == DIN_TYPE_RESPONSE) {
                    din_events.count(EV_RESPONSE);
                }
            }
            if (hdr.din.model_version == 0) {
                active_model_version.apply();
            }
        }

        if (meta.skip == 0 && meta.from_cpu == 0 && hdr.din_vec.isValid()
            && hdr.din.msg_type == DIN_TYPE_REQUEST) {
            meta.mlp.run = 0;
            if (head_now == 1) {
                // Exit-head pass: the header holds the hidden activations.
                meta.mlp.run = 1;
                meta.mlp.layer = meta.head_layer;
                meta.mlp.num_classes = meta.head_classes;
                meta.mlp.mode = MLP_MODE_EXIT_HEAD;
                din_events.count(EV_HEAD_PASS);
            } else {
                mlp_role.apply();
            }
            if (meta.mlp.run == 1) {
                mlp.apply(hdr, meta, sm);
                if (meta.mlp.run == 0) {
                    // The role names a layer whose weights are not here:
                    // leave the request as it is for the next hop.
                    din_events.count(EV_NO_LAYER);
                }
            }
            if (meta.mlp.run == 1) {
                din_events.count(EV_LAYER);
                if (head_now == 1 || meta.mlp.mode == MLP_MODE_FINAL) {
                    meta.eval_head = 1;
                } else {
                    meta.write_back = 1;
                    hdr.din.stage = hdr.din.stage + 1;
                    if (meta.mlp.mode == MLP_MODE_NEXT_HERE) {
                        meta.do_recirc = 1;
                    } else if (meta.mlp.mode == MLP_MODE_EXIT_HEAD) {
                        meta.do_recirc = 1;
                        meta.head_pass = 1;
                    }
                }
            }

            if (meta.eval_head == 1) {
                // Argmax over the first num_classes outputs; ties go to the
                // lower index. Confidence = top1 - top2 (top2 = 0 if one class).
                bit<8> best = meta.mlp.y0;
                bit<8> second = 0;
                bit<8> cls = 0;
            if (meta.mlp.num_classes > 1) {
                if (meta.mlp.y1 > best) {
                    second = best;
                    best = meta.mlp.y1;
                    cls = 1;
                } else if (meta.mlp.y1 > second) {
                    second = meta.mlp.y1;
                }
            }
            if (meta.mlp.num_classes > 2) {
                if (meta.mlp.y2 > best) {
                    second = best;
                    best = meta.mlp.y2;
                    cls = 2;
                } else if (meta.mlp.y2 > second) {
                    second = meta.mlp.y2;
                }
            }
            if (meta.mlp.num_classes > 3) {
                if (meta.mlp.y3 > best) {
                    second = best;
                    best = meta.mlp.y3;
                    cls = 3;
                } else if (meta.mlp.y3 > second) {
                    second = meta.mlp.y3;
                }
            }
            if (meta.mlp.num_classes > 4) {
                if (meta.mlp.y4 > best) {
                    second = best;
                    best = meta.mlp.y4;
                    cls = 4;
                } else if (meta.mlp.y4 > second) {
                    second = meta.mlp.y4;
                }
            }
            if (meta.mlp.num_classes > 5) {
                if (meta.mlp.y5 > best) {
                    second = best;
                    best = meta.mlp.y5;
                    cls = 5;
                } else if (meta.mlp.y5 > second) {
                    second = meta.mlp.y5;
                }
            }
            if (meta.mlp.num_classes > 6) {
                if (meta.mlp.y6 > best) {
                    second = best;
                    best = meta.mlp.y6;
                    cls = 6;
                } else if (meta.mlp.y6 > second) {
                    second = meta.mlp.y6;
                }
            }
            if (meta.mlp.num_classes > 7) {
                if (meta.mlp.y7 > best) {
                    second = best;
                    best = meta.mlp.y7;
                    cls = 7;
                } else if (meta.mlp.y7 > second) {
                    second = meta.mlp.y7;
                }
            }
            if (meta.mlp.num_classes > 8) {
                if (meta.mlp.y8 > best) {
                    second = best;
                    best = meta.mlp.y8;
                    cls = 8;
                } else if (meta.mlp.y8 > second) {
                    second = meta.mlp.y8;
                }
            }
            if (meta.mlp.num_classes > 9) {
                if (meta.mlp.y9 > best) {
                    second = best;
                    best = meta.mlp.y9;
                    cls = 9;
                } else if (meta.mlp.y9 > second) {
                    second = meta.mlp.y9;
                }
            }
            if (meta.mlp.num_classes > 10) {
                if (meta.mlp.y10 > best) {
                    second = best;
                    best = meta.mlp.y10;
                    cls = 10;
                } else if (meta.mlp.y10 > second) {
                    second = meta.mlp.y10;
                }
            }
            if (meta.mlp.num_classes > 11) {
                if (meta.mlp.y11 > best) {
                    second = best;
                    best = meta.mlp.y11;
                    cls = 11;
                } else if (meta.mlp.y11 > second) {
                    second = meta.mlp.y11;
                }
            }
            if (meta.mlp.num_classes > 12) {
                if (meta.mlp.y12 > best) {
                    second = best;
                    best = meta.mlp.y12;
                    cls = 12;
                } else if (meta.mlp.y12 > second) {
                    second = meta.mlp.y12;
                }
            }
            if (meta.mlp.num_classes > 13) {
                if (meta.mlp.y13 > best) {
                    second = best;
                    best = meta.mlp.y13;
                    cls = 13;
                } else if (meta.mlp.y13 > second) {
                    second = meta.mlp.y13;
                }
            }
            if (meta.mlp.num_classes > 14) {
                if (meta.mlp.y14 > best) {
                    second = best;
                    best = meta.mlp.y14;
                    cls = 14;
                } else if (meta.mlp.y14 > second) {
                    second = meta.mlp.y14;
                }
            }
            if (meta.mlp.num_classes > 15) {
                if (meta.mlp.y15 > best) {
                    second = best;
                    best = meta.mlp.y15;
                    cls = 15;
                } else if (meta.mlp.y15 > second) {
                    second = meta.mlp.y15;
                }
            }
                meta.exit_class = cls;
                meta.exit_conf = best - second;
                exit_threshold.apply();
                if (meta.exit_hit == 1 && meta.exit_conf >= meta.exit_min_conf) {
                    meta.write_back = 1;
                    hdr.din.result_class = meta.exit_class;
                    hdr.din.confidence = meta.exit_conf;
                    din_reply();
                    din_events.count(EV_EARLY_EXIT);
                } else if (head_now == 0) {
                    // Last layer not confident enough: the large model
                    // takes the request, with the last layer's input.
                    hdr.din.msg_type = DIN_TYPE_ESCALATION;
                    hdr.din.result_class = meta.exit_class;
                    hdr.din.confidence = meta.exit_conf;
                    din_events.count(EV_ESCALATION);
                }
                // An exit head that is not confident: the request goes on
                // with the hidden activations already in the header.
            }
        }

        if (meta.write_back == 1) {
            hdr.din_vec.v0 = meta.mlp.y0;
            hdr.din_vec.v1 = meta.mlp.y1;
            hdr.din_vec.v2 = meta.mlp.y2;
            hdr.din_vec.v3 = meta.mlp.y3;
            hdr.din_vec.v4 = meta.mlp.y4;
            hdr.din_vec.v5 = meta.mlp.y5;
            hdr.din_vec.v6 = meta.mlp.y6;
            hdr.din_vec.v7 = meta.mlp.y7;
            hdr.din_vec.v8 = meta.mlp.y8;
            hdr.din_vec.v9 = meta.mlp.y9;
            hdr.din_vec.v10 = meta.mlp.y10;
            hdr.din_vec.v11 = meta.mlp.y11;
            hdr.din_vec.v12 = meta.mlp.y12;
            hdr.din_vec.v13 = meta.mlp.y13;
            hdr.din_vec.v14 = meta.mlp.y14;
            hdr.din_vec.v15 = meta.mlp.y15;
        }

        if (meta.do_recirc == 1) {
            if (meta.passes >= MAX_PASSES) {
                drops.count(DROP_PASSES);
                drop();
                meta.skip = 1;
                meta.do_recirc = 0;
            } else {
                meta.passes = meta.passes + 1;
                din_events.count(EV_RECIRCULATE);
            }
        }

        /* ------------------------------------------ steering and policy */
        if (meta.skip == 0 && meta.do_recirc == 0 && hdr.din_vec.isValid()
            && (hdr.din.msg_type == DIN_TYPE_REQUEST
                || hdr.din.msg_type == DIN_TYPE_ESCALATION)) {
            // The tenant's bitmap for what the packet carries now: stage 0 is
            // the raw inputs (a request no layer has touched, or an escalation
            // whose final layer was layer 0), any later stage activations.
            tenant_policy.apply();
            meta.steer.bitmap = meta.steer.allowed;
            if (hdr.din.stage == 0) {
                meta.steer.bitmap = meta.steer.allowed_raw;
            }
            if (hdr.din.instance_id == 0) {
                din_steer.apply();
                if (meta.steer.hit == 1) {
                    instance_info.apply();
                }
            }
            if (meta.steer.hit == 1) {
                bit<16> chosen = meta.steer.instance_id;
                bit<32> addr = meta.steer.instance_addr;
                bit<48> seen = 0;
                if ((bit<32>)chosen < MAX_INSTANCES) {
                    instance_last_seen.read(seen, (bit<32>)chosen);
                }
                if (meta.steer.stale_after_us != 0 && meta.steer.backup_id != 0
                    && meta.now_us - seen > meta.steer.stale_after_us) {
                    chosen = meta.steer.backup_id;
                    addr = meta.steer.backup_addr;
                    hdr.din.flags = hdr.din.flags | DIN_FLAG_FAILOVER;
                    din_events.count(EV_FAILOVER);
                }
                bit<64> allowed = meta.steer.bitmap;
                // Instances are 1..63: a larger id is never allowed.
                if ((bit<32>)chosen >= MAX_INSTANCES
                    || ((allowed >> (bit<8>)chosen) & 1) == 0) {
                    bit<16> backup = meta.steer.backup_id;
                    if (backup != 0 && backup != chosen
                        && (bit<32>)backup < MAX_INSTANCES
                        && ((allowed >> (bit<8>)backup) & 1) == 1) {
                        chosen = backup;
                        addr = meta.steer.backup_addr;
                        hdr.din.flags = hdr.din.flags | DIN_FLAG_POLICY;
                        din_events.count(EV_POLICY_RESTEER);
                    } else {
                        policy_drop();
                    }
                }
                if (meta.skip == 0) {
                    hdr.din.instance_id = chosen;
                    hdr.ipv4.dst_addr = addr;
                    if ((bit<32>)chosen < MAX_INSTANCES) {
                        instance_requests.count((bit<32>)chosen);
                    }
                    din_events.count(EV_STEERED);
                }
            } else if (meta.steer.bitmap != ALL_INSTANCES) {
                // Not steered here (instance_id already set, no din_steer
                // match, or an unknown instance): whatever destination it
                // carries must be an instance the tenant may reach. Checked
                // once the route is known; unrestricted tenants skip it.
                meta.steer.gate = 1;
            }
        }

        /* ------------------------------------------------ forwarding */
        if (meta.skip == 0) {
            if (meta.do_recirc == 1) {
                // Any port will do: egress recirculates instead of sending.
                sm.egress_spec = sm.ingress_port;
            } else if (hdr.ipv4.ttl <= 1) {
                drops.count(DROP_TTL);
                drop();
            } else if (!ipv4_lpm.apply().hit) {
                if (hdr.din_adv.isValid()) {
                    meta.punt_reason = PUNT_ADVERTISE;
                    sm.egress_spec = CPU_PORT;
                } else if (hdr.din_vec.isValid()
                           && hdr.din.msg_type != DIN_TYPE_RESPONSE) {
                    meta.punt_reason = PUNT_NO_ROUTE;
                    sm.egress_spec = CPU_PORT;
                } else {
                    drops.count(DROP_NO_ROUTE);
                }
            } else if (meta.steer.gate == 1 && sm.egress_spec != CPU_PORT) {
                // Policy gate: the destination must be a known instance that
                // the packet's bitmap allows (the controller is not gated).
                instance_addr.apply();
                if (meta.steer.dst_known == 0
                    || (bit<32>)meta.steer.dst_instance >= MAX_INSTANCES
                    || ((meta.steer.bitmap >> (bit<8>)meta.steer.dst_instance) & 1) == 0) {
                    policy_drop();
                }
            }
        }
    }
}

control MyEgress(inout headers_t hdr, inout metadata_t meta,
                 inout standard_metadata_t sm) {
    apply {
        if (meta.do_recirc == 1) {
            recirculate_preserving_field_list(1);
        } else if (sm.egress_port == CPU_PORT) {
            hdr.packet_in.setValid();
            hdr.packet_in.ingress_port = meta.orig_ingress_port;
            hdr.packet_in._pad = 0;
            hdr.packet_in.reason = meta.punt_reason;
        }
    }
}

V1Switch(DinParser(), DinVerifyChecksum(), MyIngress(), MyEgress(),
         DinComputeChecksum(), DinDeparser()) main;
