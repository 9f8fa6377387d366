"""topologies.observe: flow slots, signatures and features as din.p4 computes them.

A flow's frames go through din.p4 on p4lite's switch core with a clock the
test sets; the register slot ``FlowKey.slot`` names must hold the flow under
``FlowKey.signature``, and ``FlowState.features`` on those registers must be
the models layer's ``flow_features`` of the same packets (the definition the
classifier was trained on).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from controller.models.features import flow_features
from topologies.observe import (
    FLOW_REGISTERS,
    FLOW_TABLE_SIZE,
    REGISTER_PREFIX,
    FlowKey,
    flow_state,
)
from traffic.frames import PROTO_TCP, PROTO_UDP, Endpoints, frame_of_size

core = pytest.importorskip("p4lite.switch.core")

REPO = Path(__file__).resolve().parents[3]
ROUTE_MAC = 0x0000_0A00_0201


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("din")
    subprocess.run(
        [sys.executable, "-m", "p4lite.compiler", "-o", str(out / "din.json"),
         "--p4runtime-files", str(out / "din.p4info.txtpb"), str(REPO / "p4src" / "din.p4")],
        check=True, capture_output=True, cwd=REPO,
    )  # fmt: skip
    return (out / "din.json").read_text()


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
