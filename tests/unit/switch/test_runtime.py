"""Runtime API beyond tables: registers, meters, PRE, digests, CPU port, stats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from p4lite.switch.core import (
    CloneSession,
    Digest,
    InvalidArgumentError,
    MeterRates,
    NotFoundError,
    Replica,
    Switch,
    SwitchOptions,
)

REFERENCE = Path(__file__).resolve().parents[2] / "conformance" / "reference"


def load(name: str, options: SwitchOptions | None = None) -> Switch:
    return Switch.from_json((REFERENCE / f"{name}.json").read_text(), options)


def test_registers_read_write_reset() -> None:
    sw = load("register_state")
    sw.register_write("MyIngress.cnt", 2, 100)
    out = sw.process(0, bytes([2]) + bytes(2 + 4 + 2 + 1))
    assert int.from_bytes(out[0][1][3:7], "big") == 101
    assert sw.register_read("MyIngress.cnt", 2) == 101
    sw.register_write("MyIngress.small", 0, 0x1FF)  # truncated to 8 bits
    assert sw.register_read("MyIngress.small", 0) == 0xFF
    sw.register_reset("MyIngress.cnt")
    assert sw.register_read("MyIngress.cnt", 2) == 0
    with pytest.raises(InvalidArgumentError, match="out of range"):
        sw.register_read("MyIngress.cnt", 8)
    with pytest.raises(NotFoundError):
        sw.register_read("MyIngress.nope", 0)


def test_meter_colours_follow_a_fake_clock() -> None:
    now = [0]
    sw = load("meter_color", SwitchOptions(clock_us=lambda: now[0]))
    sw.meter_set_rates("MyIngress.m", 0, MeterRates(0.001, 1, 0.002, 2))
    assert sw.meter_get_rates("MyIngress.m", 0) == MeterRates(0.001, 1, 0.002, 2)

    def colour() -> int:
        return sw.process(0, bytes([0, 0xFF]))[0][1][1]

    assert [colour(), colour(), colour()] == [0, 1, 2]
    now[0] += 1000  # one committed token and two peak tokens come back
    assert [colour(), colour()] == [0, 1]
    assert sw.meter_get_rates("MyIngress.m", 3) is None
    # An unconfigured cell is always GREEN.
    assert all(sw.process(0, bytes([3, 0xFF]))[0][1][1] == 0 for _ in range(5))


def test_multicast_group_api() -> None:
    sw = load("multicast")
    sw.set_multicast_group(9, [Replica(2, 7), Replica(1, 7), Replica(1, 8)])
    assert sw.multicast_groups()[9] == (Replica(2, 7), Replica(1, 7), Replica(1, 8))
    out = sw.process(0, bytes([0, 9, 0, 0, 0, 0]))
    assert [(port, data[2:4]) for port, data in out] == [
        (2, bytes([0, 7])),
        (1, bytes([0, 7])),
        (1, bytes([0, 8])),
    ]
    assert all(data[5] == 5 for _, data in out)  # instance_type replica
    sw.delete_multicast_group(9)
    assert sw.process(0, bytes([0, 9, 0, 0, 0, 0])) == []
    assert sw.port_stats(0).dropped == 1


def test_clone_session_api() -> None:
    sw = load("clone_i2e")
    sw.set_clone_session(5, CloneSession(port=3))
    out = sw.process(0, bytes([1, 0, 0, 0, 0, 0]))
    assert [p for p, _ in out] == [3, 1]  # the clone is enqueued first
    assert sw.clone_sessions() == {5: CloneSession(port=3)}
    sw.set_clone_session(5, None)
    assert [p for p, _ in sw.process(0, bytes([1, 0, 0, 0, 0, 0]))] == [1]
    with pytest.raises(NotFoundError):
        sw.set_clone_session(5, None)


def test_digest_queue_and_handler() -> None:
    sw = load("digest")
    frame = bytes(6) + bytes([0x02, 0, 0, 0, 0, 0x01]) + b"\x08\x00"
    sw.process(3, frame)
    queued = sw.poll_digests()
    assert [(d.name, d.values) for d in queued] == [("learn_t", (0x020000000001, 3))]
    assert isinstance(queued[0], Digest)
    assert sw.poll_digests() == []
    got: list[Digest] = []
    sw.set_digest_handler(got.append)
    sw.process(3, frame)
    sw.process(3, bytes(12) + b"\x08\x00")  # bit 41 clear: no digest
    assert [(d.name, d.values) for d in got] == [("learn_t", (0x020000000001, 3))]
    assert sw.poll_digests() == []


def test_cpu_port_packets_go_to_the_handler() -> None:
    sw = load("std_metadata", SwitchOptions(cpu_port=1))
    baseline = sw.process(0, bytes(8))
    assert baseline, "std_metadata forwards this packet"
    port = baseline[0][0]
    sw2 = load("std_metadata", SwitchOptions(cpu_port=port))
    got: list[tuple[int, bytes]] = []
    sw2.set_packet_in_handler(lambda p, d: got.append((p, d)))
    assert sw2.process(0, bytes(8)) == []
    assert got == baseline
    assert sw2.port_stats(port).tx == 1


def test_priority_beyond_the_queues_is_dropped() -> None:
    doc = json.loads((REFERENCE / "register_state.json").read_text())
    act = next(a for a in doc["actions"] if a["primitives"])
    act["primitives"].append(
        {
            "op": "assign",
            "parameters": [
                {"type": "field", "value": ["standard_metadata", "priority"]},
                {"type": "hexstr", "value": "0x2"},
            ],
        }
    )
    frame = bytes(12)
    assert Switch.from_json(doc).process(0, frame) == []
    assert Switch.from_json(doc, SwitchOptions(priority_queues=8)).process(0, frame)
