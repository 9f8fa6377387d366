/* DIN data plane: constants, header types and metadata shared by din.p4.
 *
 * Every field of the DIN header is documented in p4src/README.md; the
 * Python layers in traffic/din.py mirror this file byte for byte.
 */
#ifndef _DIN_HEADERS_P4_
#define _DIN_HEADERS_P4_

/* ---------------------------------------------------------------- constants */

const bit<16> ETHERTYPE_IPV4 = 0x0800;
const bit<8>  IP_PROTO_TCP   = 6;
const bit<8>  IP_PROTO_UDP   = 17;

/* UDP port of the DIN protocol (either source or destination port). */
const bit<16> DIN_UDP_PORT   = 7350;
const bit<4>  DIN_VERSION    = 1;

const bit<4>  DIN_TYPE_REQUEST     = 1;
const bit<4>  DIN_TYPE_RESPONSE    = 2;
const bit<4>  DIN_TYPE_ESCALATION  = 3;
const bit<4>  DIN_TYPE_ADVERTISE   = 4;

/* hdr.din.flags bits */
const bit<8>  DIN_FLAG_SWITCH_ANSWER = 0x01;  // answered by a switch (early exit)
const bit<8>  DIN_FLAG_FAILOVER      = 0x02;  // steered to a backup instance
const bit<8>  DIN_FLAG_POLICY        = 0x04;  // re-steered by tenant policy

/* hdr.din.stage once a switch has answered the request */
const bit<8>  DIN_STAGE_DONE = 0xff;

/* simple_switch_grpc must be started with --cpu-port 255. */
const bit<9>  CPU_PORT = 255;
const bit<8>  PKT_OUT_DIRECT   = 0;  // send the frame unchanged on egress_port
const bit<8>  PKT_OUT_PIPELINE = 1;  // process the frame like a received one
const bit<8>  PUNT_ADVERTISE   = 1;  // advertisement with no route onwards
const bit<8>  PUNT_NO_ROUTE    = 2;  // DIN request/escalation with no route

/* v1model standard_metadata.instance_type as set by simple_switch */
const bit<32> INSTANCE_RECIRC = 4;

/* Flow table: registers of FLOW_TABLE_SIZE slots, slot = crc32(5-tuple) mod size. */
const bit<32> FLOW_TABLE_SIZE = 4096;
/* A slot idle for longer than this (microseconds) starts a new flow. */
const bit<48> FLOW_IDLE_US    = 10000000;
/* EWMA of inter-arrival times: ewma += (iat >> S) - (ewma >> S). */
const bit<8>  IAT_EWMA_SHIFT  = 3;

/* Instances are numbered 1..63 (bit i of a policy bitmap = instance i). */
const bit<32> MAX_INSTANCES   = 64;
/* A tenant_policy bitmap that allows everything (the default): nothing to gate. */
const bit<64> ALL_INSTANCES   = 0xffffffffffffffff;
/* Longest chain of recirculations for one request at one switch. */
const bit<8>  MAX_PASSES      = 16;

/* Classifier: 4 trees, up to 8 classes. */
const bit<32> NUM_FLOW_CLASSES = 8;

/* Role modes (action data of MyIngress.mlp_role). */
const bit<8>  MLP_MODE_FORWARD   = 0;  // compute, advance, forward onwards
const bit<8>  MLP_MODE_NEXT_HERE = 1;  // compute, advance, recirculate for the next layer
const bit<8>  MLP_MODE_EXIT_HEAD = 2;  // compute, advance, recirculate to run the exit head
const bit<8>  MLP_MODE_FINAL     = 3;  // compute the last layer: answer or escalate

/* Indices of MyIngress.din_events (packet counter). */
const bit<32> EV_REQUEST        = 0;
const bit<32> EV_LAYER          = 1;
const bit<32> EV_EARLY_EXIT     = 2;
const bit<32> EV_ESCALATION     = 3;
const bit<32> EV_RECIRCULATE    = 4;
const bit<32> EV_FAILOVER       = 5;
const bit<32> EV_POLICY_RESTEER = 6;
const bit<32> EV_POLICY_DROP    = 7;
const bit<32> EV_ADVERTISEMENT  = 8;
const bit<32> EV_FLOW_COLLISION = 9;
const bit<32> EV_NEW_FLOW       = 10;
const bit<32> EV_RESPONSE       = 11;
const bit<32> EV_STEERED        = 12;
const bit<32> EV_HEAD_PASS      = 13;
const bit<32> EV_NO_LAYER       = 14;
const bit<32> NUM_EVENTS        = 16;

/* Indices of MyIngress.drops (packet counter). */
const bit<32> DROP_PARSER_ERROR = 0;
const bit<32> DROP_BAD_DIN      = 1;
const bit<32> DROP_TTL          = 2;
const bit<32> DROP_POLICY       = 3;
const bit<32> DROP_NO_ROUTE     = 4;
const bit<32> DROP_PASSES       = 5;
const bit<32> DROP_CHECKSUM     = 6;
const bit<32> DROP_NOT_IPV4     = 7;
const bit<32> NUM_DROP_REASONS  = 8;

/* ------------------------------------------------------------------ headers */

@controller_header("packet_in")
header packet_in_t {
    bit<9>  ingress_port;
    bit<7>  _pad;
    bit<8>  reason;
}

@controller_header("packet_out")
header packet_out_t {
    bit<9>  egress_port;
    bit<7>  _pad;
    bit<8>  mode;
}

header ethernet_t {
    bit<48> dst_addr;
    bit<48> src_addr;
    bit<16> ether_type;
}

header ipv4_t {
    bit<4>  version;
    bit<4>  ihl;
    bit<6>  dscp;
    bit<2>  ecn;
    bit<16> total_len;
    bit<16> identification;
    bit<3>  flags;
    bit<13> frag_offset;
    bit<8>  ttl;
    bit<8>  protocol;
    bit<16> hdr_checksum;
    bit<32> src_addr;
    bit<32> dst_addr;
}

header tcp_t {
    bit<16> src_port;
    bit<16> dst_port;
    bit<32> seq_no;
    bit<32> ack_no;
    bit<4>  data_offset;
    bit<4>  res;
    bit<8>  flags;
    bit<16> window;
    bit<16> checksum;
    bit<16> urgent_ptr;
}

header udp_t {
    bit<16> src_port;
    bit<16> dst_port;
    bit<16> length;
    bit<16> checksum;
}

/* DIN common header: 24 bytes, first after the UDP header. */
header din_t {
    bit<4>  version;
    bit<4>  msg_type;
    bit<8>  flags;
    bit<16> model_id;
    bit<8>  model_version;
    bit<8>  stage;
    bit<16> tenant_id;
    bit<8>  sensitivity;
    bit<8>  hop_count;
    bit<32> request_id;
    bit<8>  result_class;
    bit<8>  confidence;
    bit<16> instance_id;
    bit<48> ingress_ts;
}

/* Request / response / escalation payload: 16 unsigned 8-bit values. */
header din_vec_t {
    bit<8> v0;
    bit<8> v1;
    bit<8> v2;
    bit<8> v3;
    bit<8> v4;
    bit<8> v5;
    bit<8> v6;
    bit<8> v7;
    bit<8> v8;
    bit<8> v9;
    bit<8> v10;
    bit<8> v11;
    bit<8> v12;
    bit<8> v13;
    bit<8> v14;
    bit<8> v15;
}

/* Node advertisement (CATS metrics): 16 bytes after the common header. */
header din_adv_t {
    bit<16> instance_id;
    bit<8>  layer_first;
    bit<8>  layer_last;
    bit<16> queue_len;
    bit<8>  utilisation;
    bit<8>  _pad;
    bit<32> req_rate;
    bit<32> capacity;
}

struct headers_t {
    packet_out_t packet_out;
    packet_in_t  packet_in;
    ethernet_t   ethernet;
    ipv4_t       ipv4;
    tcp_t        tcp;
    udp_t        udp;
    din_t        din;
    din_vec_t    din_vec;
    din_adv_t    din_adv;
}

/* ----------------------------------------------------------------- metadata */

/* Flow features as computed for the current packet (inputs of quantization). */
struct flow_features_t {
    bit<16> pkt_len;       // IPv4 total length of this packet
    bit<16> service_port;  // min(src port, dst port)
    bit<32> iat;           // us since the previous packet of the flow (0 on the first)
    bit<32> pkts;          // packets of the flow, this one included
    bit<32> bytes;         // IPv4 bytes of the flow, this packet included
    bit<32> duration;      // us from the first packet to this one (saturates)
    bit<32> iat_min;
    bit<32> iat_max;
    bit<32> iat_ewma;
    bit<16> size_min;
    bit<16> size_max;
    bit<8>  tcp_flags;     // OR of the TCP flags seen (0 for UDP)
}

/* Quantization bins (outputs of the quant_* range tables). */
struct flow_bins_t {
    bit<8> pkt_len;
    bit<8> service_port;
    bit<8> iat;
    bit<8> pkts;
    bit<8> bytes;
    bit<8> duration;
    bit<8> iat_min;
    bit<8> iat_max;
    bit<8> iat_ewma;
    bit<8> size_min;
    bit<8> size_max;
    bit<8> tcp_flags;
}

/* Per-tree feature codes (outputs of the code_* tables; keys of tree_*). */
struct tree_codes_t {
    bit<16> pkt_len;
    bit<16> service_port;
    bit<16> iat;
    bit<16> pkts;
    bit<16> bytes;
    bit<16> duration;
    bit<16> iat_min;
    bit<16> iat_max;
    bit<16> iat_ewma;
    bit<16> size_min;
    bit<16> size_max;
    bit<16> tcp_flags;
}

struct classifier_meta_t {
    bit<32> flow_idx;      // register slot
    bit<16> flow_sig;      // crc16 signature stored in the slot
    bit<1>  new_flow;
    bit<1>  collision;
    bit<1>  enabled;       // classifier_phase hit
    bit<8>  cls_model;     // model slot chosen by classifier_phase
    bit<1>  valid;         // at least one tree hit
    bit<8>  flow_class;
    bit<8>  confidence;
    bit<1>  class_changed;
    bit<16> vote0;
    bit<16> vote1;
    bit<16> vote2;
    bit<16> vote3;
    bit<16> vote4;
    bit<16> vote5;
    bit<16> vote6;
    bit<16> vote7;
}

struct mlp_meta_t {
    bit<1>  run;           // compute a layer in this pass
    bit<8>  layer;         // layer index used as table key
    bit<8>  mode;          // MLP_MODE_*
    bit<8>  num_classes;   // class scores for argmax (1..16)
    bit<8>  shift;         // requantization shift of the layer
    bit<32> acc0;
    bit<32> acc1;
    bit<32> acc2;
    bit<32> acc3;
    bit<32> acc4;
    bit<32> acc5;
    bit<32> acc6;
    bit<32> acc7;
    bit<32> acc8;
    bit<32> acc9;
    bit<32> acc10;
    bit<32> acc11;
    bit<32> acc12;
    bit<32> acc13;
    bit<32> acc14;
    bit<32> acc15;
    bit<8>  y0;
    bit<8>  y1;
    bit<8>  y2;
    bit<8>  y3;
    bit<8>  y4;
    bit<8>  y5;
    bit<8>  y6;
    bit<8>  y7;
    bit<8>  y8;
    bit<8>  y9;
    bit<8>  y10;
    bit<8>  y11;
    bit<8>  y12;
    bit<8>  y13;
    bit<8>  y14;
    bit<8>  y15;
}

struct steer_meta_t {
    bit<1>  hit;
    bit<16> instance_id;
    bit<32> instance_addr;
    bit<16> backup_id;
    bit<32> backup_addr;
    bit<48> stale_after_us;  // 0: never stale
    bit<64> allowed;         // tenant_policy: instances allowed for activations (bit i)
    bit<64> allowed_raw;     // tenant_policy: instances allowed for raw inputs (bit i)
    bit<64> bitmap;          // the one of the two that applies to this packet
    bit<1>  gate;            // not steered here and restricted: check the destination
    bit<1>  dst_known;       // instance_addr hit
    bit<16> dst_instance;    // the instance at hdr.ipv4.dst_addr
}

struct metadata_t {
    flow_features_t   feat;
    flow_bins_t       bin;
    tree_codes_t      c0;
    tree_codes_t      c1;
    tree_codes_t      c2;
    tree_codes_t      c3;
    classifier_meta_t cls;
    mlp_meta_t        mlp;
    steer_meta_t      steer;
    bit<1>  skip;            // nothing more to do in ingress (packet-out, drop)
    bit<1>  from_cpu;        // packet-out processed through the pipeline
    bit<1>  first_pass;      // not a recirculated packet
    bit<1>  eval_head;       // evaluate argmax + exit threshold in this pass
    bit<1>  write_back;      // copy mlp.y* into the DIN vector
    bit<1>  do_recirc;       // recirculate at the end of egress
    bit<1>  exit_hit;        // exit_threshold hit
    bit<8>  exit_min_conf;
    bit<8>  exit_class;
    bit<8>  exit_conf;
    bit<8>  punt_reason;
    bit<9>  orig_ingress_port;
    /* Preserved across recirculation (recirculate_preserving_field_list(1)). */
    @field_list(1)
    bit<8>  head_pass;       // 1: this pass evaluates the exit head
    @field_list(1)
    bit<8>  head_layer;
    @field_list(1)
    bit<8>  head_classes;
    @field_list(1)
    bit<8>  passes;          // recirculations so far
    /* ingress_global_timestamp of the first pass: simple_switch does not
     * set it again for a recirculated packet. */
    @field_list(1)
    bit<48> now_us;
}

/* ------------------------------------------------------------------ digests */

struct flow_class_digest_t {
    bit<32> src_addr;
    bit<32> dst_addr;
    bit<8>  protocol;
    bit<16> src_port;
    bit<16> dst_port;
    bit<8>  cls_model;
    bit<8>  flow_class;
    bit<8>  confidence;
    bit<32> pkts;
}

struct advertisement_digest_t {
    bit<32> src_addr;
    bit<16> instance_id;
    bit<16> model_id;
    bit<8>  model_version;
    bit<8>  layer_first;
    bit<8>  layer_last;
    bit<16> queue_len;
    bit<8>  utilisation;
    bit<32> req_rate;
    bit<32> capacity;
    bit<48> ts;
}

#endif  /* _DIN_HEADERS_P4_ */
