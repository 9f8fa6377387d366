"""p4src/din.p4 end to end on p4lite's compiler and switch core, driven by traffic frames.

Checks the behaviour p4src/README.md documents: the MLP layer's integer
arithmetic against the numpy reference, early exit, escalation, steering with
failover and policy, the flow classifier, forwarding and bad-input drops.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP
from scapy.layers.l2 import Ether
from scapy.packet import raw

core = pytest.importorskip("p4lite.switch.core")

if TYPE_CHECKING:
    from tests.conftest import Din

from traffic.build import advertisement  # noqa: E402
from traffic.frames import Endpoints, frame_of_size, parse_frame, udp_frame  # noqa: E402
from traffic.wire import DinAdvert, DinHeader, DinMessage, MsgType, decode, encode  # noqa: E402

MODEL, VERSION = 7, 2
CLIENT = Endpoints("00:00:0a:00:01:01", "00:00:0a:00:01:fe", "10.0.1.1", "10.0.9.9", 40000, 7350)
Ex, Act = core.ExactMatch, core.ActionCall


def _ip(addr: str) -> int:
    return int.from_bytes(bytes(int(x) for x in addr.split(".")), "big")


@pytest.fixture(scope="module")
def program(din: Din) -> str:
    """din.p4's BMv2 JSON (compiled once for the session)."""
    return din.json.read_text()


class Rig:
    """One switch with routes to three subnets and a controllable clock."""

    def __init__(self, program: str) -> None:
        self.now = 1_000_000
        self.sw = core.Switch.from_json(
            program, core.SwitchOptions(cpu_port=255, clock_us=lambda: self.now)
        )
        for net, port in (("10.0.1.0", 1), ("10.0.2.0", 2), ("10.0.3.0", 3)):
            mac = 0x00000A000000 | (port << 8)
            self.add(
                "MyIngress.ipv4_lpm",
                [core.LpmMatch(_ip(net), 24)],
                "MyIngress.ipv4_forward",
                mac | 1,
                mac | 0xFE,
                port,
            )

    def add(self, table: str, keys: list[object], action: str, *params: int) -> int:
        return int(self.sw.add_entry(table, keys, Act(action, tuple(params)), priority=1))

    def send(self, port: int, frame: bytes) -> list[tuple[int, bytes]]:
        return [(p, d[3:] if p == 255 else d) for p, d in self.sw.process(port, frame)]

    def din(self, port: int, frame: bytes) -> list[tuple[int, DinMessage, str]]:
        out = []
        for p, d in self.send(port, frame):
            info = parse_frame(d)
            out.append((p, decode(info.l4_payload), str(info.dst_ip)))
        return out


@pytest.fixture
def rig(program: str) -> Iterator[Rig]:
    yield Rig(program)


def _reference(x: np.ndarray, w: np.ndarray, b: np.ndarray, shift: int) -> np.ndarray:
    acc = b.astype(np.int64) + w.astype(np.int64) @ x.astype(np.int64)
    acc = ((acc + 2**31) % 2**32) - 2**31
    return np.where(acc < 0, 0, np.minimum(acc >> shift, 255)).astype(np.int64)


def _install_layer(
    rig: Rig, layer: int, w: np.ndarray, b: np.ndarray, shift: int, inputs: np.ndarray
) -> None:
    rig.add(
        "MyIngress.mlp.mlp_bias",
        [Ex(MODEL), Ex(VERSION), Ex(layer)],
        "MyIngress.mlp.set_bias",
        shift,
        *(int(v) & 0xFFFFFFFF for v in b),
    )
    for i in range(16):
        # Only the input values this test sends need entries (a miss adds 0).
        for v in sorted({int(inputs[i])} - {0}):
            rig.add(
                f"MyIngress.mlp.mlp_in_{i}",
                [Ex(MODEL), Ex(VERSION), Ex(layer), Ex(v)],
                "MyIngress.mlp.accumulate",
                *(int(v * w[j][i]) & 0xFFFFFFFF for j in range(16)),
            )


def _two_layers(rig: Rig) -> tuple[np.ndarray, np.ndarray, np.ndarray, bytes]:
    """Layers 0 and 1 of a random model; returns input, hidden, output and a request frame."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=16)
    w0, b0 = rng.integers(-128, 128, size=(16, 16)), rng.integers(-3000, 3000, size=16)
    w1, b1 = rng.integers(-128, 128, size=(16, 16)), rng.integers(-3000, 3000, size=16)
    h = _reference(x, w0, b0, 9)
    y = _reference(h, w1, b1, 9)
    _install_layer(rig, 0, w0, b0, 9, x)
    _install_layer(rig, 1, w1, b1, 9, h)
    rig.add("MyIngress.active_model_version", [Ex(MODEL)], "MyIngress.set_model_version", VERSION)
    frame = udp_frame(CLIENT, encode(DinHeader(model_id=MODEL, request_id=42), x.tolist()))
    return x, h, y, frame


def _thresholds(rig: Rig, value: int) -> None:
    for c in range(4):
        rig.add(
            "MyIngress.exit_threshold",
            [Ex(MODEL), Ex(VERSION), Ex(c)],
            "MyIngress.set_exit_threshold",
            value,
        )


def _role(rig: Rig, stage: int, mode: int, head_layer: int = 0, classes: int = 4) -> None:
    rig.add(
        "MyIngress.mlp_role",
        [Ex(MODEL), Ex(VERSION), Ex(stage)],
        "MyIngress.set_mlp_role",
        mode,
        head_layer,
        classes,
    )


def test_two_layers_by_recirculation_answer_bit_exact(rig: Rig) -> None:
    _x, _h, y, frame = _two_layers(rig)
    _role(rig, 0, 1)  # NEXT_HERE
    _role(rig, 1, 3)  # FINAL
    _thresholds(rig, 0)
    [(port, msg, dst)] = rig.din(1, frame)
    top = sorted(y[:4].tolist(), reverse=True)
    assert (port, dst) == (1, "10.0.1.1")
    assert msg.header.msg_type == MsgType.RESPONSE
    assert list(msg.vector or ()) == y.tolist()
    assert msg.header.result_class == int(np.argmax(y[:4]))
    assert msg.header.confidence == top[0] - top[1]
    assert (msg.header.stage, msg.header.flags, msg.header.model_version) == (255, 1, VERSION)
    assert (msg.header.hop_count, msg.header.ingress_ts) == (1, 1_000_000)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    shift=st.integers(0, 20),
    bias_bits=st.sampled_from([8, 16, 24, 31]),
)
def test_one_layer_equals_the_numpy_reference_for_random_weights_and_inputs(
    program: str, seed: int, shift: int, bias_bits: int
) -> None:
    # One switch per example: entries of earlier examples must not linger.
    rig = Rig(program)
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=16)
    x[rng.random(16) < 0.2] = 0  # zero inputs need no entry (a miss adds nothing)
    w = rng.integers(-128, 128, size=(16, 16))
    b = rng.integers(-(2 ** (bias_bits - 1)), 2 ** (bias_bits - 1), size=16)
    _install_layer(rig, 0, w, b, shift, x)
    rig.add("MyIngress.active_model_version", [Ex(MODEL)], "MyIngress.set_model_version", VERSION)
    _role(rig, 0, 0)  # FORWARD: compute layer 0, write it back, route on
    frame = udp_frame(CLIENT, encode(DinHeader(model_id=MODEL, request_id=7), x.tolist()))
    [(port, msg, _dst)] = rig.din(1, frame)  # no route to 10.0.9.9: to the controller
    assert port == 255 and msg.header.msg_type == MsgType.REQUEST and msg.header.stage == 1
    assert list(msg.vector or ()) == _reference(x, w, b, shift).tolist()


def test_unconfident_last_layer_escalates_to_the_steered_instance(rig: Rig) -> None:
    _x, h, _y, frame = _two_layers(rig)
    _role(rig, 0, 1)
    _role(rig, 1, 3)
    _thresholds(rig, 255)
    rig.sw.add_member("MyIngress.instance_selector", 1, Act("MyIngress.set_instance", (5,)))
    rig.sw.add_group("MyIngress.instance_selector", 1, [1])
    rig.sw.add_entry("MyIngress.din_steer", [Ex(MODEL), Ex(3), Ex(1)], core.GroupRef(1))
    rig.add(
        "MyIngress.instance_info",
        [Ex(5)],
        "MyIngress.set_instance_info",
        _ip("10.0.3.5"),
        6,
        _ip("10.0.2.6"),
        500_000,
    )
    node = Endpoints("00:00:0a:00:03:05", "00:00:0a:00:03:fe", "10.0.3.5", "10.0.1.1", 7350, 7350)
    adv = advertisement(
        node, DinAdvert(5, 1, 255, 3, 40, 100, 500), model_id=MODEL, model_version=VERSION
    )
    assert [p for p, _ in rig.send(3, adv)] == [1]
    assert rig.sw.register_read("MyIngress.instance_last_seen", 5) == 1_000_000

    [(port, msg, dst)] = rig.din(1, frame)
    assert (port, dst, msg.header.instance_id) == (3, "10.0.3.5", 5)
    assert msg.header.msg_type == MsgType.ESCALATION
    assert msg.header.stage == 1
    assert list(msg.vector or ()) == h.tolist()

    rig.now += 1_000_000  # instance 5 has not advertised for 1 s > 0.5 s: failover
    [(port, msg, dst)] = rig.din(1, frame)
    assert (port, dst, msg.header.instance_id, msg.header.flags) == (2, "10.0.2.6", 6, 0x02)

    # The escalation carries activations (stage 1): the first bitmap is the one checked.
    policy = rig.add("MyIngress.tenant_policy", [Ex(0), Ex(0)], "MyIngress.set_allowed", 1 << 5, 0)
    assert rig.din(1, frame) == []  # the backup is not allowed either: dropped
    assert rig.sw.counter_read("MyIngress.policy_drops", 0).packets == 1

    rig.now -= 1_000_000
    allow_6 = Act("MyIngress.set_allowed", (1 << 6, 0))
    rig.sw.modify_entry("MyIngress.tenant_policy", policy, allow_6)
    [(port, msg, dst)] = rig.din(1, frame)
    assert (port, dst, msg.header.instance_id, msg.header.flags) == (2, "10.0.2.6", 6, 0x04)


# Tenant 7 at sensitivity 1: raw inputs to instance 2 (10.0.2.2, on premises) only,
# activations to 2 or 3 (10.0.3.3, the cloud).
PREMISES, CLOUD = "10.0.2.2", "10.0.3.3"


def _policy(rig: Rig) -> None:
    rig.add("MyIngress.instance_addr", [Ex(_ip(PREMISES))], "MyIngress.set_dst_instance", 2)
    rig.add("MyIngress.instance_addr", [Ex(_ip(CLOUD))], "MyIngress.set_dst_instance", 3)
    rig.add("MyIngress.tenant_policy", [Ex(7), Ex(1)], "MyIngress.set_allowed", 0b1100, 0b0100)


def _din_to(
    dst: str,
    *,
    tenant: int = 7,
    stage: int = 0,
    instance_id: int = 0,
    vector: list[int] | None = None,
) -> bytes:
    ep = Endpoints(CLIENT.src_mac, CLIENT.dst_mac, CLIENT.src_ip, dst, 40000, 7350)
    header = DinHeader(
        model_id=MODEL,
        model_version=VERSION,
        stage=stage,
        tenant_id=tenant,
        sensitivity=1,
        instance_id=instance_id,
        request_id=9,
    )
    return udp_frame(ep, encode(header, vector or [7] * 16))


def _policy_drops(rig: Rig) -> tuple[int, int, int]:
    """policy_drops[1], drops[DROP_POLICY], din_events[EV_POLICY_DROP]."""
    return (
        rig.sw.counter_read("MyIngress.policy_drops", 1).packets,
        rig.sw.counter_read("MyIngress.drops", 3).packets,
        rig.sw.counter_read("MyIngress.din_events", 7).packets,
    )


def test_raw_inputs_not_steered_here_never_reach_a_disallowed_instance(rig: Rig) -> None:
    _policy(rig)
    # instance_id forged by the client (or set upstream): not steered, gated.
    assert rig.din(1, _din_to(CLOUD, instance_id=3)) == []
    assert _policy_drops(rig) == (1, 1, 1)
    # No din_steer entry at all: gated the same way.
    assert rig.din(1, _din_to(CLOUD)) == []
    # Routed, but not an instance: unknown destination.
    assert rig.din(1, _din_to("10.0.2.77")) == []
    assert _policy_drops(rig) == (3, 3, 3)
    # The premises instance is allowed, whatever instance_id says.
    [(port, msg, dst)] = rig.din(1, _din_to(PREMISES, instance_id=3))
    assert (port, dst, msg.header.instance_id, msg.header.stage) == (2, PREMISES, 3, 0)
    assert _policy_drops(rig) == (3, 3, 3)
    assert rig.sw.counter_read("MyIngress.instance_requests", 2).packets == 0  # not steered


def test_activations_of_the_same_tenant_may_go_to_the_cloud(rig: Rig) -> None:
    _policy(rig)
    for instance_id in (0, 3):
        [(port, msg, dst)] = rig.din(1, _din_to(CLOUD, stage=1, instance_id=instance_id))
        assert (port, dst, msg.header.instance_id) == (3, CLOUD, instance_id)
    assert rig.din(1, _din_to("10.0.3.77", stage=1)) == []  # still a known instance only
    assert _policy_drops(rig) == (1, 1, 1)


def test_a_layer_computed_here_turns_raw_inputs_into_activations(rig: Rig) -> None:
    x, h, _y, _frame = _two_layers(rig)
    _policy(rig)
    _role(rig, 0, 0)  # FORWARD: layer 0 here, then on to the destination
    [(port, msg, dst)] = rig.din(1, _din_to(CLOUD, instance_id=3, vector=x.tolist()))
    assert (port, dst, msg.header.stage) == (3, CLOUD, 1)
    assert list(msg.vector or ()) == h.tolist()
    assert _policy_drops(rig) == (0, 0, 0)


def test_unrestricted_tenants_and_the_cpu_are_not_gated(rig: Rig) -> None:
    _policy(rig)
    unknown = rig.add("MyIngress.instance_addr", [Ex(_ip("10.0.3.9"))], "MyIngress.dst_unknown")
    # Tenant 0 has no row: all ones, so no instance_addr lookup (its hit count stays 0).
    [(port, _msg, dst)] = rig.din(1, _din_to("10.0.3.9", tenant=0, instance_id=9))
    assert (port, dst) == (3, "10.0.3.9")
    assert rig.sw.read_direct_counter("MyIngress.instance_addr", unknown).packets == 0
    assert rig.din(1, _din_to("10.0.3.9")) == []  # tenant 7: looked up, unknown, dropped
    assert rig.sw.read_direct_counter("MyIngress.instance_addr", unknown).packets == 1
    # No route: the request goes to the controller (packet-in reason 2), not gated.
    [(port, raw_in)] = rig.sw.process(1, _din_to("10.0.9.9"))
    assert port == 255 and raw_in[2] == 2
    # A route to the CPU port is not gated either.
    rig.add("MyIngress.ipv4_lpm", [core.LpmMatch(_ip("10.0.8.8"), 32)], "MyIngress.ipv4_forward",
            1, 2, 255)  # fmt: skip
    [(port, _)] = rig.sw.process(1, _din_to("10.0.8.8"))
    assert port == 255
    assert _policy_drops(rig) == (1, 1, 1)


def test_steering_checks_the_raw_bitmap_and_re_steers_to_an_allowed_backup(rig: Rig) -> None:
    _policy(rig)
    rig.sw.add_member("MyIngress.instance_selector", 1, Act("MyIngress.set_instance", (3,)))
    rig.sw.add_group("MyIngress.instance_selector", 1, [1])
    for stage in (0, 1):
        rig.sw.add_entry("MyIngress.din_steer", [Ex(MODEL), Ex(1), Ex(stage)], core.GroupRef(1))
    info = rig.add(
        "MyIngress.instance_info", [Ex(3)], "MyIngress.set_instance_info",
        _ip(CLOUD), 2, _ip(PREMISES), 0,
    )  # fmt: skip
    # Raw inputs: the cloud instance is not allowed, its premises backup is.
    [(port, msg, dst)] = rig.din(1, _din_to("10.0.0.1"))
    assert (port, dst, msg.header.instance_id, msg.header.flags) == (2, PREMISES, 2, 0x04)
    assert rig.sw.counter_read("MyIngress.din_events", 6).packets == 1  # EV_POLICY_RESTEER
    # Activations: the cloud instance is allowed.
    [(port, msg, dst)] = rig.din(1, _din_to("10.0.0.1", stage=1))
    assert (port, dst, msg.header.instance_id, msg.header.flags) == (3, CLOUD, 3, 0)
    # No backup: raw inputs are dropped and counted.
    no_backup = Act("MyIngress.set_instance_info", (_ip(CLOUD), 0, 0, 0))
    rig.sw.modify_entry("MyIngress.instance_info", info, no_backup)
    assert rig.din(1, _din_to("10.0.0.1")) == []
    assert _policy_drops(rig) == (1, 1, 1)
    assert rig.sw.counter_read("MyIngress.instance_requests", 2).packets == 1
    assert rig.sw.counter_read("MyIngress.instance_requests", 3).packets == 1


def test_exit_head_answers_when_confident_else_forwards_the_hidden_layer(rig: Rig) -> None:
    _x, h, y, frame = _two_layers(rig)
    _role(rig, 0, 2, head_layer=1, classes=4)  # EXIT_HEAD: layer 1 is the head
    _thresholds(rig, 0)
    [(_, msg, _)] = rig.din(1, frame)
    assert msg.header.msg_type == MsgType.RESPONSE
    assert list(msg.vector or ()) == y.tolist()
    for c in range(4):
        handle = rig.sw.find_entry("MyIngress.exit_threshold", [Ex(MODEL), Ex(VERSION), Ex(c)])
        rig.sw.modify_entry(
            "MyIngress.exit_threshold", handle, Act("MyIngress.set_exit_threshold", (255,))
        )
    [(_, msg, _)] = rig.din(1, frame)  # no route to 10.0.9.9 and no steering: packet-in
    assert (msg.header.msg_type, msg.header.stage) == (MsgType.REQUEST, 1)
    assert list(msg.vector or ()) == h.tolist()


def test_flow_classifier_reports_class_and_marks_dscp(rig: Rig) -> None:
    c = "MyIngress.classifier."
    rig.add(c + "classifier_phase", [core.RangeMatch(1, 2**32 - 1)], c + "set_classifier", 1)
    rig.add(c + "quant_pkt_len", [Ex(1), core.RangeMatch(500, 1514)], c + "set_bin_pkt_len", 2)
    rig.add(c + "code_pkt_len", [Ex(1), Ex(2)], c + "set_codes_pkt_len", 1, 0, 0, 0)
    keys = [Ex(1), core.TernaryMatch(1, 1)] + [core.TernaryMatch(0, 0)] * 11
    rig.add(c + "tree_0", keys, c + "tree_vote", 0, 0, 0, 200, 0, 0, 0, 0)
    rig.add("MyIngress.class_qos", [Ex(3)], "MyIngress.set_dscp", 46)
    flow = Endpoints(CLIENT.src_mac, CLIENT.dst_mac, "10.0.1.1", "10.0.2.2", 1000, 2000)
    dscps = []
    for size in (600, 600, 100):
        [(port, out)] = rig.send(1, frame_of_size(flow, size, 17))
        assert port == 2
        dscps.append(out[15] >> 2)
    assert dscps == [46, 46, 0]
    digests = [d for d in rig.sw.poll_digests() if d.name == "flow_class_digest_t"]
    # One report: the class did not change on the second packet.
    assert [d.values for d in digests] == [
        (_ip("10.0.1.1"), _ip("10.0.2.2"), 17, 1000, 2000, 1, 3, 50, 1)
    ]


def test_forwarding_rewrites_macs_ttl_and_checksum(rig: Rig) -> None:
    flow = Endpoints(CLIENT.src_mac, CLIENT.dst_mac, "10.0.1.1", "10.0.3.3", 1, 2)
    [(port, out)] = rig.send(1, udp_frame(flow, b"payload", ttl=9))
    pkt = Ether(out)
    assert port == 3
    assert (pkt.src, pkt.dst, pkt[IP].ttl) == ("00:00:0a:00:03:fe", "00:00:0a:00:03:01", 8)
    checksum = pkt[IP].chksum
    del pkt[IP].chksum
    assert Ether(raw(pkt))[IP].chksum == checksum


@pytest.mark.parametrize("ttl", [64, 2, 0x80])
def test_ipv4_options_are_forwarded_with_an_incrementally_updated_checksum(
    rig: Rig, ttl: int
) -> None:
    flow = Endpoints(CLIENT.src_mac, CLIENT.dst_mac, "10.0.1.1", "10.0.3.3", 1, 2)
    # IGMP with the router alert option (RFC 2113): ihl 6, options not parsed.
    pkt = Ether(src=flow.src_mac, dst=flow.dst_mac) / IP(
        src=flow.src_ip, dst=flow.dst_ip, ttl=ttl, proto=2, options=b"\x94\x04\x00\x00"
    )
    frame = raw(pkt / bytes.fromhex("1600fa04e0000001"))
    assert frame[14] == 0x46
    [(port, out)] = rig.send(1, frame)
    got = Ether(out)
    assert port == 3 and got[IP].ttl == ttl - 1
    assert out[34:] == frame[34:]  # options and payload as they came
    checksum = got[IP].chksum
    del got[IP].chksum
    assert Ether(raw(got))[IP].chksum == checksum  # right over all 24 bytes
    # Not verified (the options are not in the field list): a wrong one goes on.
    wrong = frame[:24] + bytes([frame[24] ^ 0xFF]) + frame[25:]
    [(port, _)] = rig.send(1, wrong)
    assert port == 3


def test_bad_input_is_dropped_and_counted(rig: Rig) -> None:
    bad_version = bytes([0x21]) + bytes(39)
    assert rig.send(1, udp_frame(CLIENT, bad_version)) == []
    assert rig.send(1, udp_frame(CLIENT, bytes([0x11]) + bytes(30))) == []  # truncated vector
    assert rig.send(1, bytes(60)) == []  # not IPv4
    counts = [rig.sw.counter_read("MyIngress.drops", i).packets for i in range(8)]
    assert counts[1] == 1 and counts[0] == 1 and counts[7] == 1


def test_flow_registers_follow_the_documented_features(rig: Rig) -> None:
    c = "MyIngress.classifier."
    flow = Endpoints(CLIENT.src_mac, CLIENT.dst_mac, "10.0.1.1", "10.0.2.2", 1000, 2000)
    sent = [(1_000_000, 100), (1_000_800, 300), (1_001_000, 200), (1_004_000, 60)]
    for now, size in sent:
        rig.now = now
        rig.send(1, frame_of_size(flow, size, 17))
    slots = [i for i in range(4096) if rig.sw.register_read(c + "flow_pkts", i)]
    assert len(slots) == 1
    (i,) = slots

    def reg(name: str) -> int:
        return int(rig.sw.register_read(c + name, i))

    ip_sizes = [s - 14 for _, s in sent]
    assert (reg("flow_pkts"), reg("flow_bytes")) == (4, sum(ip_sizes))
    assert (reg("flow_first_ts"), reg("flow_last_ts")) == (1_000_000, 1_004_000)
    assert (reg("flow_iat_min"), reg("flow_iat_max")) == (200, 3000)
    ewma = 800  # seeded by the second packet, then ewma - ewma/8 + iat/8
    for iat in (200, 3000):
        ewma = ewma - (ewma >> 3) + (iat >> 3)
    assert reg("flow_iat_ewma") == ewma
    assert (reg("flow_size_min"), reg("flow_size_max")) == (min(ip_sizes), max(ip_sizes))
    assert reg("flow_tcp_flags") == 0


def test_recirculation_is_bounded(rig: Rig) -> None:
    for layer in range(20):
        rig.add(
            "MyIngress.mlp.mlp_bias",
            [Ex(MODEL), Ex(VERSION), Ex(layer)],
            "MyIngress.mlp.set_bias",
            0,
            *([0] * 16),
        )
        _role(rig, layer, 1)  # NEXT_HERE for ever
    header = DinHeader(model_id=MODEL, model_version=VERSION, request_id=1)
    assert rig.send(1, udp_frame(CLIENT, encode(header, [1] * 16))) == []
    assert rig.sw.counter_read("MyIngress.drops", 5).packets == 1
    assert rig.sw.counter_read("MyIngress.din_events", 4).packets == 16


def test_advertisements_reach_the_cpu_and_relays_are_only_recorded(rig: Rig) -> None:
    node = Endpoints("00:00:0a:00:03:05", "00:00:0a:00:03:fe", "10.0.3.5", "10.9.9.9", 7350, 7350)
    adv = advertisement(node, DinAdvert(9, capacity=70), model_id=MODEL, model_version=VERSION)
    [(port, out)] = rig.sw.process(3, adv)
    assert port == 255
    assert out[:3] == bytes([0x01, 0x80, 0x01])  # ingress_port 3 (9 bits), reason 1
    assert out[3:] == adv
    rig.now = 5_000_000
    relay = bytes([0x00, 0x00, 0x01]) + adv  # packet_out: port 0, mode 1 (pipeline)
    assert rig.sw.process(255, relay) == []
    assert rig.sw.register_read("MyIngress.instance_last_seen", 9) == 5_000_000
    assert rig.sw.register_read("MyIngress.instance_capacity", 9) == 70
    names = [d.name for d in rig.sw.poll_digests()]
    assert names == ["advertisement_digest_t"]  # the relay sent none
    too_big = advertisement(node, DinAdvert(64), model_id=MODEL, model_version=VERSION)
    assert rig.sw.process(3, too_big) == []
    assert rig.sw.counter_read("MyIngress.drops", 1).packets == 1


def test_packet_out_direct_leaves_unchanged(rig: Rig) -> None:
    frame = udp_frame(CLIENT, b"raw")
    assert rig.sw.process(255, bytes([0x01, 0x00, 0x00]) + frame) == [(2, frame)]
