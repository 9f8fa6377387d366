"""Tests of the intended-versus-current diff."""

import pytest

from controller.p4rt.entities import (
    ActionProfileGroup,
    ActionProfileMember,
    CounterEntry,
    EntityBuilder,
    Exact,
    Lpm,
    MulticastGroupEntry,
    RegisterEntry,
    Replica,
    TableEntry,
    UpdateType,
)
from controller.p4rt.errors import ReconcileError
from controller.p4rt.p4info import P4InfoIndex
from controller.p4rt.reconcile import Diff, diff, normalize, wildcard_reads


def route(index: P4InfoIndex, prefix: str, port: int) -> TableEntry:
    return EntityBuilder(index).table_entry(
        "ipv4_lpm", {"hdr.ipv4.dstAddr": prefix}, "forward", {"dstAddr": 1, "port": port}
    )


def test_switch_restart_inserts_everything(index: P4InfoIndex) -> None:
    intended = [route(index, "10.0.0.0/8", 1), route(index, "10.1.0.0/16", 2)]
    d = diff(intended, [], index=index)
    assert d.inserts == tuple(intended) and not d.modifies and not d.deletes
    assert [u.type for u in d.updates()] == [UpdateType.INSERT] * 2


def test_controller_restart_with_same_state_writes_nothing(index: P4InfoIndex) -> None:
    intended = [route(index, "10.0.0.0/8", 1)]
    d = diff(intended, list(intended), index=index)
    assert not d
    assert d.updates() == []
    assert d.summary() == "0 inserts, 0 modifies, 0 deletes"


def test_changed_action_is_modified_and_stale_is_deleted(index: P4InfoIndex) -> None:
    keep = route(index, "10.0.0.0/8", 1)
    changed_now = route(index, "10.1.0.0/16", 2)
    changed_wanted = route(index, "10.1.0.0/16", 3)
    stale = route(index, "10.2.0.0/16", 4)
    new = route(index, "10.3.0.0/16", 5)
    d = diff([keep, changed_wanted, new], [keep, changed_now, stale], index=index)
    assert d == Diff(inserts=(new,), modifies=(changed_wanted,), deletes=(stale,))


def test_prune_false_and_keep_protect_current_entries(index: P4InfoIndex) -> None:
    stale = route(index, "10.2.0.0/16", 4)
    other = route(index, "10.4.0.0/16", 4)
    assert diff([], [stale], index=index, prune=False).deletes == ()
    kept = diff([], [stale, other], index=index, keep=lambda e: e == other)
    assert kept.deletes == (stale,)


def test_aliases_and_dont_care_are_normalized(index: P4InfoIndex) -> None:
    read_back = TableEntry(
        "MyIngress.acl", (), "MyIngress.drop", priority=5
    )  # what a switch returns
    wanted = EntityBuilder(index).table_entry(
        "acl", {"meta.l4_dport": "0..65535"}, "drop", priority=5
    )
    alias_only = TableEntry("acl", (("meta.l4_dport", Exact(0)),), "drop", priority=5)
    assert normalize(index, wanted) == read_back
    assert not diff([wanted], [read_back], index=index)
    with pytest.raises(Exception, match="is range"):
        diff([alias_only], [], index=index)


def test_priority_is_part_of_the_key(index: P4InfoIndex) -> None:
    b = EntityBuilder(index)
    low = b.table_entry("acl", {"meta.l4_dport": "1..2"}, "drop", priority=1)
    high = b.table_entry("acl", {"meta.l4_dport": "1..2"}, "drop", priority=2)
    d = diff([high], [low], index=index)
    assert d.inserts == (high,) and d.deletes == (low,)


def test_default_entries_and_cells_are_only_modified(index: P4InfoIndex) -> None:
    default = EntityBuilder(index).table_entry("ipv4_lpm", action="drop", is_default=True)
    reg = RegisterEntry("MyIngress.flow_pkts", 1, 5)
    d = diff([default, reg], [], index=index)
    assert set(d.modifies) == {default, reg} and not d.inserts
    current_default = TableEntry("MyIngress.acl", action="NoAction", is_default=True)
    assert diff([], [current_default, reg], index=index) == Diff()


def test_const_tables_and_counters_are_left_alone(index: P4InfoIndex) -> None:
    const = TableEntry("MyEgress.fixed", (("hdr.din.stage", Exact(1)),), "NoAction")
    counter = CounterEntry("MyIngress.class_pkts", 1, 9, 9)
    assert diff([counter], [const, counter], index=index) == Diff()
    assert diff([], [const]).deletes == (const,)  # without an index nothing is known const


def test_conflicting_intended_entries_are_an_error(index: P4InfoIndex) -> None:
    with pytest.raises(ReconcileError, match="intended state holds two different entities"):
        diff([route(index, "10.0.0.0/8", 1), route(index, "10.0.0.0/8", 2)], [], index=index)
    same = route(index, "10.0.0.0/8", 1)
    assert diff([same, same], [], index=index).inserts == (same,)


def test_updates_are_ordered_by_reference(index: P4InfoIndex) -> None:
    b = EntityBuilder(index)
    member = b.member("steer_sel", 1, "forward", {"dstAddr": 1, "port": 1})
    group = b.group("steer_sel", 1, [1])
    entry = b.table_entry("steer", {"hdr.din.model_id": 1}, group_id=1)
    mcast = MulticastGroupEntry(1, (Replica(1),))
    d = diff([entry, group, member, mcast], [], index=index)
    assert [type(u.entity) for u in d.updates()] == [
        MulticastGroupEntry,
        ActionProfileMember,
        ActionProfileGroup,
        TableEntry,
    ]
    removal = diff([], [entry, group, member, mcast], index=index).updates()
    assert [type(u.entity) for u in removal] == [
        TableEntry,
        ActionProfileGroup,
        ActionProfileMember,
        MulticastGroupEntry,
    ]
    assert all(u.type == UpdateType.DELETE for u in removal)


def test_modifies_come_before_deletes(index: P4InfoIndex) -> None:
    b = EntityBuilder(index)
    old_group = b.group("steer_sel", 1, [1])
    m1 = b.member("steer_sel", 1, "forward", {"dstAddr": 1, "port": 1})
    entry_to_g1 = b.table_entry("steer", {"hdr.din.model_id": 1}, group_id=1)
    entry_to_m1 = b.table_entry("steer", {"hdr.din.model_id": 1}, member_id=1)
    d = diff([m1, entry_to_m1], [m1, old_group, entry_to_g1], index=index)
    ups = d.updates()
    assert [(u.type, type(u.entity)) for u in ups] == [
        (UpdateType.MODIFY, TableEntry),
        (UpdateType.DELETE, ActionProfileGroup),
    ]


def test_wildcard_reads_cover_writable_state(index: P4InfoIndex) -> None:
    queries = wildcard_reads(index)
    tables = {q.table for q in queries if isinstance(q, TableEntry)}
    assert "MyIngress.ipv4_lpm" in tables and "MyEgress.fixed" not in tables
    assert ActionProfileGroup("MyIngress.steer_sel", 0) in queries
    assert MulticastGroupEntry(0) in queries
    for q in queries:
        q.to_proto(index)


def test_lpm_entries_differing_only_in_prefix_are_distinct(index: P4InfoIndex) -> None:
    a = TableEntry(
        "MyIngress.ipv4_lpm", (("hdr.ipv4.dstAddr", Lpm(0x0A000000, 8)),), "MyIngress.drop"
    )
    b = TableEntry(
        "MyIngress.ipv4_lpm", (("hdr.ipv4.dstAddr", Lpm(0x0A000000, 16)),), "MyIngress.drop"
    )
    d = diff([a], [b], index=index)
    assert d.inserts == (a,) and d.deletes == (b,)


def test_const_entries_read_back_are_not_deleted(index: P4InfoIndex) -> None:
    const_entry = TableEntry(
        "MyIngress.dup.t", (("hdr.din.stage", Exact(1)),), "NoAction", is_const=True
    )
    assert const_entry == TableEntry("MyIngress.dup.t", (("hdr.din.stage", Exact(1)),), "NoAction")
    assert diff([], [const_entry], index=index).deletes == ()
    queries = wildcard_reads(index, include_defaults=True)
    defaults = [q for q in queries if isinstance(q, TableEntry) and q.is_default]
    assert TableEntry("MyIngress.acl", is_default=True) in defaults
