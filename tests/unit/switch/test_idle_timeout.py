"""Idle timeout in the switch core (BMv2's ageing): hit times on tables with
``support_timeout`` only, TTLs, the sweep and its timer restarts, on a clock
the test moves by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from p4lite.switch.core import (
    ActionCall,
    ExactMatch,
    IdleSweep,
    InvalidArgumentError,
    NotFoundError,
    Switch,
    SwitchOptions,
)

REFERENCE = Path(__file__).resolve().parents[2] / "conformance" / "reference"
FWD = "MyIngress.t_fwd"
MARK = "MyIngress.t_mark"


class Clock:
    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sw(clock: Clock) -> Switch:
    # table_exact as p4c writes it for `support_timeout = true` on t_fwd only.
    doc = json.loads((REFERENCE / "table_exact.json").read_text())
    for t in doc["pipelines"][0]["tables"]:
        t["support_timeout"] = t["name"] == FWD
        t["max_size"] = 1024
    return Switch.from_json(doc, SwitchOptions(clock_us=clock))


def _add(sw: Switch, key: int, ttl_us: int) -> int:
    handle = sw.add_entry(FWD, [ExactMatch(key)], ActionCall("MyIngress.fwd", (1,)))
    if ttl_us:
        sw.set_entry_ttl(FWD, handle, ttl_us)
    return handle


def _hit(sw: Switch, key: int) -> None:
    assert sw.process(0, key.to_bytes(2, "big") + b"\x00\x00") != []


def test_table_info_says_which_tables_support_timeout(sw: Switch) -> None:
    assert sw.table_info(FWD).support_timeout
    assert not sw.table_info(MARK).support_timeout


def test_entry_ages_after_its_ttl_and_again_one_ttl_later(sw: Switch, clock: Clock) -> None:
    h = _add(sw, 1, 1000)
    clock.now = 999
    assert sw.sweep_idle() == IdleSweep((), 1)
    clock.now = 1000
    assert sw.sweep_idle() == IdleSweep(((FWD, h),), 1000)
    # Reported once; its timer restarted with the report.
    clock.now = 1999
    assert sw.sweep_idle().aged == ()
    clock.now = 2000
    assert sw.sweep_idle().aged == ((FWD, h),)


def test_a_hit_restarts_the_timer(sw: Switch, clock: Clock) -> None:
    h = _add(sw, 1, 1000)
    clock.now = 700
    _hit(sw, 1)
    assert sw.get_entry(FWD, h).time_since_hit_us == 0
    clock.now = 1000
    found = sw.sweep_idle()
    assert found.aged == ()
    assert found.next_due_us == 700  # filed again at the hit time + TTL
    clock.now = 1699
    assert sw.sweep_idle().aged == ()
    clock.now = 1700
    assert sw.sweep_idle().aged == ((FWD, h),)


def test_time_since_hit_is_kept_for_entries_without_ttl(sw: Switch, clock: Clock) -> None:
    h = _add(sw, 1, 0)
    clock.now = 5000
    entry = sw.get_entry(FWD, h)
    assert (entry.ttl_us, entry.time_since_hit_us) == (0, 5000)
    assert sw.sweep_idle() == IdleSweep((), None)
    _hit(sw, 1)
    clock.now = 5200
    assert sw.entries(FWD)[0].time_since_hit_us == 200


def test_new_ttl_restarts_the_timer(sw: Switch, clock: Clock) -> None:
    h = _add(sw, 1, 0)
    clock.now = 5000
    sw.set_entry_ttl(FWD, h, 1000)
    assert sw.get_entry(FWD, h).ttl_us == 1000
    clock.now = 5999
    assert sw.sweep_idle().aged == ()
    clock.now = 6000
    assert sw.sweep_idle().aged == ((FWD, h),)
    sw.set_entry_ttl(FWD, h, 0)
    clock.now = 60000
    assert sw.sweep_idle() == IdleSweep((), None)


def test_deleted_entries_never_age(sw: Switch, clock: Clock) -> None:
    gone = _add(sw, 1, 1000)
    kept = _add(sw, 2, 1000)
    sw.delete_entry(FWD, gone)
    clock.now = 1000
    assert sw.sweep_idle().aged == ((FWD, kept),)


def test_many_entries_age_in_due_order(sw: Switch, clock: Clock) -> None:
    handles = []
    for key in range(1, 201):
        clock.now = key
        handles.append(_add(sw, key, 1000))
    clock.now = 1100
    aged = sw.sweep_idle().aged
    assert aged == tuple((FWD, h) for h in handles[:100])
    # Inserting and deleting many entries keeps the heap small.
    for _ in range(5):
        for key in range(1000, 1300):
            sw.delete_entry(FWD, _add(sw, key, 10**9))
    # The heap's size is the point here: look inside.
    table = sw._prog.tables[FWD]
    assert len(table._ageing) <= 2 * len(table.entries) + 64


def test_tables_without_support_refuse_a_ttl_and_track_nothing(sw: Switch) -> None:
    h = sw.add_entry(MARK, [ExactMatch(0x22)], ActionCall("MyIngress.mark", (1,)))
    with pytest.raises(InvalidArgumentError, match="does not support idle timeout"):
        sw.set_entry_ttl(MARK, h, 1000)
    assert sw.get_entry(MARK, h).time_since_hit_us is None
    with pytest.raises(InvalidArgumentError, match="invalid TTL"):
        sw.set_entry_ttl(FWD, _add(sw, 1, 0), -1)
    with pytest.raises(NotFoundError):
        sw.set_entry_ttl(FWD, 999, 1000)
