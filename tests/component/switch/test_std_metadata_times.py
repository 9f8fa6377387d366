"""simple_switch's time and queue fields of standard_metadata, by value: the
switch core runs tests/p4/std_metadata_times.p4 (compiled by p4lite), which
copies them into the packet. Timestamps are microseconds of the switch clock
(ingress at arrival, egress when dequeued), enq_timestamp its low 32 bits at
enqueue, deq_timedelta the time queued, and a lone packet finds its queue empty."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from p4lite.compiler.driver import compile_file
from p4lite.switch.core import Switch, SwitchOptions

PROGRAM = Path(__file__).resolve().parents[2] / "p4" / "std_metadata_times.p4"


@pytest.fixture(scope="module")
def program() -> dict[str, object]:
    return compile_file(str(PROGRAM)).json


def _fields(frame: bytes) -> tuple[int, ...]:
    cuts = ((0, 6), (6, 12), (12, 16), (16, 20), (20, 23), (23, 26))
    return tuple(int.from_bytes(frame[a:b], "big") for a, b in cuts)


def test_values_follow_the_switch_clock(program) -> None:
    ticks: list[int] = []
    now = [2**32 + 1000]  # past 32 bits: enq_timestamp keeps the low ones

    def clock() -> int:
        now[0] += 7
        ticks.append(now[0])
        return now[0]

    sw = Switch.from_json(program, SwitchOptions(clock_us=clock))
    ((port, frame),) = sw.process(0, bytes(26))
    assert port == 1
    arrival, enqueued, dequeued = ticks
    assert _fields(frame) == (
        arrival,
        dequeued,
        enqueued & 0xFFFFFFFF,
        dequeued - enqueued,
        0,
        0,
    )


def test_timestamps_are_microseconds(program) -> None:
    sw = Switch.from_json(program)
    first = _fields(sw.process(0, bytes(26))[0][1])
    time.sleep(0.05)
    second = _fields(sw.process(0, bytes(26))[0][1])
    elapsed_us = second[0] - first[0]
    assert 45_000 <= elapsed_us < 5_000_000
    assert first[1] >= first[0] and second[1] >= second[0]
    assert second[3] < 5_000_000
