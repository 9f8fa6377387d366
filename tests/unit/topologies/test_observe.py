"""topologies.observe: flow slots, signatures and features as din.p4 computes them; the
steering service's view as din_status shows it.

A flow's frames go through din.p4 on p4lite's switch core with a clock the
test sets; the register slot ``FlowKey.slot`` names must hold the flow under
``FlowKey.signature``, and ``FlowState.features`` on those registers must be
the models layer's ``flow_features`` of the same packets (the definition the
classifier was trained on).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from controller.models.features import flow_features
from topologies import deployment, model
from topologies.observe import (
    FLOW_REGISTERS,
    FLOW_TABLE_SIZE,
    REGISTER_PREFIX,
    FlowKey,
    flow_state,
    steering_lines,
)
from traffic.frames import PROTO_TCP, PROTO_UDP, Endpoints, frame_of_size

core = pytest.importorskip("p4lite.switch.core")

if TYPE_CHECKING:
    from tests.conftest import Din

REPO = Path(__file__).resolve().parents[3]
ROUTE_MAC = 0x0000_0A00_0201


@pytest.fixture(scope="module")
def program(din: Din) -> str:
    """din.p4's BMv2 JSON (compiled once for the session)."""
    return din.json.read_text()


class Clocked:
    """din.p4 on the switch core, with a route for 10.0.2.0/24 and a settable clock (us)."""

    def __init__(self, program: str) -> None:
        self.now = 5_000_000
        self.sw = core.Switch.from_json(
            program, core.SwitchOptions(cpu_port=255, clock_us=lambda: self.now)
        )
        self.sw.add_entry(
            "MyIngress.ipv4_lpm",
            [core.LpmMatch(0x0A000200, 24)],
            core.ActionCall("MyIngress.ipv4_forward", (ROUTE_MAC, ROUTE_MAC + 1, 2)),
        )

    def registers(self, slot: int) -> dict[str, int]:
        return {r: self.sw.register_read(REGISTER_PREFIX + r, slot) for r in FLOW_REGISTERS}


@pytest.mark.parametrize("proto", [PROTO_TCP, PROTO_UDP])
def test_registers_give_the_models_features_of_the_last_packet(program: str, proto: int) -> None:
    sw = Clocked(program)
    ep = Endpoints("08:00:00:01:01:11", "08:00:00:01:fe:00", "10.0.1.1", "10.0.2.250", 41234, 443)
    key = FlowKey(ep.src_ip, ep.dst_ip, proto, ep.src_port, ep.dst_port)
    sizes, gaps = [120, 1514, 60, 700, 900, 64], [0, 150, 9_000, 35, 120_000, 2]
    flags = 0x18 if proto == PROTO_TCP else 0
    packets = []
    previous = 0
    for size, gap in zip(sizes, gaps, strict=True):
        previous = sw.now
        sw.now += gap
        assert sw.sw.process(1, frame_of_size(ep, size, proto)), "the frame was not forwarded"
        packets.append((sw.now, size - 14, flags))
    state = flow_state(sw.registers(key.slot))
    assert 0 <= key.slot < FLOW_TABLE_SIZE
    assert state.sig == key.signature
    assert state.pkts == len(sizes)
    assert state.features(sizes[-1] - 14, 443, previous) == flow_features(packets, 443)
    # The slot holds the flow's class once the classifier has said something (here: nothing).
    assert state.flow_class == 0


def test_a_flow_after_an_idle_gap_starts_afresh(program: str) -> None:
    sw = Clocked(program)
    ep = Endpoints("08:00:00:01:01:11", "08:00:00:01:fe:00", "10.0.1.1", "10.0.2.250", 40000, 5683)
    key = FlowKey(ep.src_ip, ep.dst_ip, PROTO_UDP, 40000, 5683)
    sw.sw.process(1, frame_of_size(ep, 100, PROTO_UDP))
    sw.now += 10_000_001  # FLOW_IDLE_US + 1
    sw.sw.process(1, frame_of_size(ep, 80, PROTO_UDP))
    state = flow_state(sw.registers(key.slot))
    assert state.pkts == 1
    assert state.features(66, 5683, 0) == flow_features([(sw.now, 66, 0)], 5683)


def test_flow_key_text() -> None:
    assert str(FlowKey("10.0.1.1", "10.0.2.250", 6, 40000, 443)) == (
        "tcp 10.0.1.1:40000 -> 10.0.2.250:443"
    )


def test_the_steering_view_names_nodes_by_host() -> None:
    topo = model.load(REPO / "topologies" / "enterprise.json")
    dep = deployment.plan(topo, None)
    dep = dataclasses.replace(dep, nodes=deployment.inference_nodes(topo))
    status = {
        "instances": [
            {"instance_id": 1, "addr": "10.0.2.1", "queue_len": 0, "utilisation": 3,
             "req_rate": 35, "capacity": 4000, "age_s": 0.012},
            {"instance_id": 2, "addr": "10.0.3.1", "queue_len": 2, "utilisation": 40.5,
             "req_rate": 120, "capacity": 300, "age_s": 0.03},
        ],
        "switches": {
            "s1": {
                "services": [{"model_id": 1, "weights": {"1": 9, "2": 7}}],
                "instances": [{"instance_id": 1, "backup_id": 2},
                              {"instance_id": 2, "backup_id": 1},
                              {"instance_id": 3, "backup_id": 0}],
            },
            "s2": {"services": [], "instances": []},
        },
        "decisions": [
            {"time": 1.5, "switch": "", "kind": "expired", "detail": "instance 3"},
            {"time": 1.6, "switch": "s1", "kind": "program", "detail": "model1: removed [3]"},
        ],
    }  # fmt: skip
    lines = steering_lines(status, dep)
    assert lines[:3] == [
        "node e1 (instance 1): alive, last advertisement 12 ms ago; queue 0, 3% busy, "
        "35 req/s of 4000",
        "node c1 (instance 2): alive, last advertisement 30 ms ago; queue 2, 40.5% busy, "
        "120 req/s of 300",
        "node c2 (instance 3): not heard (expired)",
    ]
    assert lines[3] == "steering on s1: model 1 -> e1 9, c1 7; backups e1 -> c1, c1 -> e1"
    assert lines[4] == "recent steering decisions:"
    assert lines[5].endswith(".500 - expired: instance 3")
    assert lines[6].endswith(".600 s1 program: model1: removed [3]")
    assert steering_lines(status, dep, nodes=False, decisions=0) == [lines[3]]
