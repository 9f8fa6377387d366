"""A generated capture through din.p4 on p4lite's switch core: the flow registers hold what
``din_packets`` + ``flow_features`` say, and a forest installed as entries classifies every
packet as the quantized model and the table simulator do (the three-way check)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from controller.entries.classifier import forest_entries, phase_entries
from controller.entries.schema import ACTIONS, table
from controller.entries.simulator import TableSim, classify
from controller.entries.types import Exact, Range, TableEntry, Ternary
from controller.models.capture import DinPacket, FlowKey, din_packets
from controller.models.features import FEATURE_NAMES, FLOW_IDLE_US, flow_features
from controller.models.synthetic import flow_dataset
from controller.models.trees import predict_int, train_flow_classifier

core = pytest.importorskip("p4lite.switch.core")

if TYPE_CHECKING:
    from tests.conftest import Din
    from tests.unit.models.conftest import Kit, Pkt

CLS = "MyIngress.classifier."
BASE_US = 1_000_000
REGISTERS = ("pkts", "bytes", "iat_min", "iat_max", "iat_ewma", "size_min", "size_max")


@pytest.fixture(scope="module")
def din_json(din: Din) -> str:
    """din.p4's BMv2 JSON (compiled once for the session)."""
    return din.json.read_text()


def _capture(kit: type[Kit]) -> list[Pkt]:
    P, TCP, UDP = kit.Pkt, 6, 17
    a, b, c = "10.0.1.1", "10.0.2.2", "10.0.3.3"
    pkts = [
        # A TCP conversation: SYN, SYN-ACK, data both ways, FIN.
        P(0, a, b, TCP, 51000, 443, 0, 0x02),
        P(900, b, a, TCP, 443, 51000, 0, 0x12),
        P(1_700, a, b, TCP, 51000, 443, 300, 0x18),
        P(2_000, b, a, TCP, 443, 51000, 1200, 0x10),
        P(2_050, b, a, TCP, 443, 51000, 1200, 0x18),
        P(9_000, a, b, TCP, 51000, 443, 0, 0x11),
        # A periodic UDP sensor with one gap beyond the idle limit: a new flow there.
        *(P(5_000 + 250_000 * i, c, b, UDP, 52000, 1883, 40 + i) for i in range(5)),
        P(1_005_000 + FLOW_IDLE_US + 1, c, b, UDP, 52000, 1883, 44),
        P(1_005_000 + FLOW_IDLE_US + 30_001, c, b, UDP, 52000, 1883, 10),
        # Fragments and zero-sum options: ports 0 in din.p4's flow key.
        P(3_000, a, c, UDP, 53000, 53, 1000, frag=0x2000),
        P(3_100, a, c, UDP, 0, 0, 400, frag=185),
        P(3_200, a, c, UDP, 53001, 53, 20, options=b"\x00" * 4),
        # ICMP.
        P(4_000, c, a, 1, payload=56),
        P(4_500, c, a, 1, payload=56),
    ]
    return sorted(pkts, key=lambda p: p.ts_us)


def _send_all(sw: Any, clock: list[int], frames: list[bytes], packets: list[DinPacket]) -> None:
    for frame, packet in zip(frames, packets, strict=True):
        clock[0] = BASE_US + packet.ts_us
        sw.process(1, frame)


def _switch(din_json: str, clock: list[int]) -> Any:
    return core.Switch.from_json(
        din_json, core.SwitchOptions(cpu_port=255, clock_us=lambda: clock[0])
    )


def test_flow_registers_match_the_reference(din_json: str, kit: type[Kit], tmp_path: Path) -> None:
    pkts = _capture(kit)
    records = kit.frames(pkts)
    frames = [frame for _, frame in records]
    path = kit.write_pcap(tmp_path / "c.pcap", records)
    packets = list(din_packets(path))
    assert len(packets) == len(pkts)  # every packet updates a flow
    clock = [0]
    sw = _switch(din_json, clock)
    slots: dict[FlowKey, int] = {}
    seen: dict[FlowKey, list[tuple[int, int, int]]] = {}
    checked = 0
    for frame, packet in zip(frames, packets, strict=True):
        clock[0] = BASE_US + packet.ts_us
        sw.process(1, frame)
        seen.setdefault(packet.key, []).append((packet.ts_us, packet.length, packet.tcp_flags))
        if packet.key not in slots:
            used = set(slots.values())
            (slot,) = [
                i
                for i in range(4096)
                if i not in used and sw.register_read(CLS + "flow_pkts", i) == 1
            ]
            slots[packet.key] = slot
        slot = slots[packet.key]
        want = dict(zip(FEATURE_NAMES, flow_features(seen[packet.key], 0), strict=True))
        got = {name: sw.register_read(CLS + f"flow_{name}", slot) for name in REGISTERS}
        assert got == {name: want[name] for name in REGISTERS}, packet
        assert sw.register_read(CLS + "flow_tcp_flags", slot) == want["tcp_flags"]
        first = sw.register_read(CLS + "flow_first_ts", slot)
        last = sw.register_read(CLS + "flow_last_ts", slot)
        assert (last - BASE_US, last - first) == (packet.ts_us, want["duration"])
        checked += 1
    assert checked == len(pkts)
    keys = {(k.protocol, k.sport, k.dport) for k in slots}
    assert {(17, 0, 0), (1, 0, 0), (6, 51000, 443), (6, 443, 51000)} <= keys
    assert sw.counter_read("MyIngress.din_events", 10).packets == len(slots) + 1  # idle restart


def _core_entry(sw: Any, entry: TableEntry) -> None:
    spec = table(entry.table)
    given = entry.match_dict()
    matches: list[Any] = []
    for key in spec.keys:
        match given.get(key.name):
            case Exact(v):
                matches.append(core.ExactMatch(v))
            case Range(lo, hi):
                matches.append(core.RangeMatch(lo, hi))
            case Ternary(v, mask):
                matches.append(core.TernaryMatch(v, mask))
            case None:
                matches.append(None)
    assert entry.action is not None
    params = entry.param_dict()
    values = tuple(params[name] for name, _ in ACTIONS[entry.action].params)
    sw.add_entry(entry.table, matches, core.ActionCall(entry.action, values), entry.priority)


def test_installed_forest_classifies_every_packet_as_the_model(
    din_json: str, kit: type[Kit], tmp_path: Path
) -> None:
    split = flow_dataset(40, seed=5, packet_limit=12, min_packets=1)
    model = train_flow_classifier(split, kind="forest", seed=5, max_depth=5)
    entries = [*forest_entries(model, 3), *phase_entries(3, 1, None)]
    sim = TableSim(entries)
    clock = [0]
    sw = _switch(din_json, clock)
    for entry in entries:
        _core_entry(sw, entry)
    pkts = _capture(kit)
    records = kit.frames(pkts)
    frames = [frame for _, frame in records]
    path = kit.write_pcap(tmp_path / "c.pcap", records)
    packets = list(din_packets(path))
    # The features the switch has at each packet, from the reference.
    seen: dict[FlowKey, list[tuple[int, int, int]]] = {}
    rows = []
    for p in packets:
        seen.setdefault(p.key, []).append((p.ts_us, p.length, p.tcp_flags))
        rows.append(flow_features(seen[p.key], p.key.service_port))
    x = np.array(rows, dtype=np.int64)
    quantized = predict_int(model, x)[0]
    simulated = [classify(sim, row).flow_class for row in rows]
    assert list(quantized) == simulated
    _send_all(sw, clock, frames, packets)
    counted = {c: sw.counter_read("MyIngress.class_packets", c).packets for c in range(8)}
    expected = Counter(int(c) for c in quantized)
    assert len(expected) >= 3  # the packets do not all fall in one class
    assert counted == {c: expected.get(c, 0) for c in range(8)}
    assert sum(counted.values()) == len(pkts)
