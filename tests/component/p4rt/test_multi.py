"""Fabric: many switches written concurrently, against several fake servers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from controller.p4rt.client import SwitchConnection
from controller.p4rt.entities import EntityBuilder, MulticastGroupEntry, Replica, inserts
from controller.p4rt.errors import P4RTError, P4RuntimeWriteError
from controller.p4rt.multi import Fabric, FabricError, Progress
from controller.p4rt.p4info import P4InfoIndex


def fabric_of(n: int, make_fake: Callable[..., Any], index: P4InfoIndex) -> tuple[Fabric, list]:
    fakes = [make_fake() for _ in range(n)]
    fabric = Fabric(
        SwitchConnection(f.address, name=f"s{i + 1}", index=index, timeout=5)
        for i, f in enumerate(fakes)
    )
    return fabric, fakes


def test_connect_and_write_many_switches(make_fake: Callable[..., Any], index: P4InfoIndex) -> None:
    fabric, fakes = fabric_of(3, make_fake, index)
    seen: list[Progress] = []
    with fabric:
        statuses = fabric.connect_all()
        assert sorted(statuses) == ["s1", "s2", "s3"]
        assert all(s.is_primary for s in statuses.values())
        b = EntityBuilder(index)
        plan = {
            name: inserts(
                b.table_entry(
                    "ipv4_lpm",
                    {"hdr.ipv4.dstAddr": f"10.{k}.0.0/16"},
                    "forward",
                    {"dstAddr": k, "port": k},
                )
                for k in range(i + 1)
            )
            for i, name in enumerate(fabric.names)
        }
        outcomes = fabric.write_all(plan, progress=seen.append, batch_size=1)
    assert {n: o.value for n, o in outcomes.items()} == {"s1": 1, "s2": 2, "s3": 3}
    assert [len(f.entities) for f in fakes] == [1, 2, 3]
    assert [len(f.writes) for f in fakes] == [1, 2, 3]
    assert sorted(p.switch for p in seen) == ["s1", "s2", "s3"]
    assert sorted(p.done for p in seen) == [1, 2, 3]
    assert all(p.total == 3 and p.error is None for p in seen)
    assert all(c.closed for c in fabric)


def test_one_failing_switch_is_reported(make_fake: Callable[..., Any], index: P4InfoIndex) -> None:
    fabric, fakes = fabric_of(2, make_fake, index)
    with fabric:
        fabric.connect_all()
        fabric["s2"].insert([MulticastGroupEntry(1)])
        plan = {name: inserts([MulticastGroupEntry(1, (Replica(1),))]) for name in fabric.names}
        with pytest.raises(FabricError, match="write failed on 1 switch") as info:
            fabric.write_all(plan)
        assert list(info.value.failures) == ["s2"]
        assert isinstance(info.value.failures["s2"], P4RuntimeWriteError)
        seen: list[Progress] = []
        outcomes = fabric.write_all(plan, raise_on_error=False, progress=seen.append)
        assert not outcomes["s1"].ok and not outcomes["s2"].ok
        assert {p.switch for p in seen if p.error is not None} == {"s1", "s2"}
    assert len(fakes[0].entities) == 1


def test_operations_run_concurrently(make_fake: Callable[..., Any], index: P4InfoIndex) -> None:
    fabric, _ = fabric_of(3, make_fake, index)
    barrier = threading.Barrier(3, timeout=5)
    with fabric:
        # Each operation waits for the others: only a concurrent run gets past.
        out = fabric.run(lambda c: (barrier.wait(), c.name)[1])
    assert {n: o.value for n, o in out.items()} == {"s1": "s1", "s2": "s2", "s3": "s3"}


def test_sync_all(make_fake: Callable[..., Any], index: P4InfoIndex) -> None:
    fabric, fakes = fabric_of(2, make_fake, index)
    with fabric:
        fabric.connect_all()
        intended = {"s1": [MulticastGroupEntry(1)], "s2": [MulticastGroupEntry(2)]}
        first = fabric.sync_all(intended)
        assert all(len(o.value.inserts) == 1 for o in first.values() if o.value is not None)
        again = fabric.sync_all(intended)
        assert all(o.value is not None and not o.value for o in again.values())
    assert [len(f.entities) for f in fakes] == [1, 1]


def test_names_are_unique_and_lookups_clear(
    make_fake: Callable[..., Any], index: P4InfoIndex
) -> None:
    fabric, fakes = fabric_of(1, make_fake, index)
    with fabric:
        with pytest.raises(P4RTError, match="already holds a switch named 's1'"):
            fabric.add(SwitchConnection(fakes[0].address, name="s1"))
        with pytest.raises(
            P4RTError, match=r"no switch named 's7' in the fabric \(have \['s1'\]\)"
        ):
            fabric["s7"]
        assert "s1" in fabric and len(fabric) == 1
        removed = fabric.remove("s1")
        assert len(fabric) == 0
        removed.close()
