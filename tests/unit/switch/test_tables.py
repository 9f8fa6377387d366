"""Table semantics through the runtime API: lpm, ternary priorities, range, profiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from p4lite.switch.core import (
    ActionCall,
    AlreadyExistsError,
    ConstTableError,
    CounterValue,
    ExactMatch,
    GroupRef,
    InUseError,
    InvalidArgumentError,
    LpmMatch,
    MemberRef,
    NotFoundError,
    RangeMatch,
    Switch,
    TableFullError,
    TernaryMatch,
)

REFERENCE = Path(__file__).resolve().parents[2] / "conformance" / "reference"


def load(name: str) -> Switch:
    return Switch.from_json((REFERENCE / f"{name}.json").read_text())


def route(sw: Switch, dst: int) -> tuple[int, int]:
    """Send a table_lpm packet; return (egress port, id written by the action)."""
    out = sw.process(0, dst.to_bytes(4, "big") + b"\x00")
    assert len(out) == 1
    port, data = out[0]
    return port, data[4]


def test_lpm_longest_prefix_wins_regardless_of_order() -> None:
    sw = load("table_lpm")
    t = "MyIngress.t_lpm"
    sw.add_entry(t, [LpmMatch(0x0A000000, 8)], ActionCall("MyIngress.route", (1, 1)))
    sw.add_entry(t, [LpmMatch(0x0A010200, 24)], ActionCall("MyIngress.route", (3, 3)))
    sw.add_entry(t, [LpmMatch(0x0A010000, 16)], ActionCall("MyIngress.route", (2, 2)))
    assert route(sw, 0x0A010203) == (3, 3)
    assert route(sw, 0x0A01FF01) == (2, 2)
    assert route(sw, 0x0AFF0000) == (1, 1)
    # Miss: the program default route(0, 4).
    assert route(sw, 0x0B000000) == (4, 0)


def test_lpm_delete_falls_back_to_shorter_prefix() -> None:
    sw = load("table_lpm")
    t = "MyIngress.t_lpm"
    sw.add_entry(t, [LpmMatch(0x0A000000, 8)], ActionCall("MyIngress.route", (1, 1)))
    h = sw.add_entry(t, [LpmMatch(0x0A010203, 32)], ActionCall("MyIngress.route", (7, 3)))
    assert route(sw, 0x0A010203) == (3, 7)
    assert sw.find_entry(t, [LpmMatch(0x0A010203, 32)]) == h
    sw.delete_entry(t, h)
    assert route(sw, 0x0A010203) == (1, 1)
    with pytest.raises(NotFoundError):
        sw.delete_entry(t, h)


def tern(sw: Switch, x: int, y: int) -> int:
    out = sw.process(0, x.to_bytes(2, "big") + bytes([y, 0]))
    assert len(out) == 1
    return out[0][1][3]


def test_ternary_larger_priority_wins() -> None:
    sw = load("table_ternary")
    t = "MyIngress.t_tern"
    act = "MyIngress.set_res"
    sw.add_entry(t, [TernaryMatch(0x1200, 0xFF00), None], ActionCall(act, (1,)), priority=10)
    sw.add_entry(t, [TernaryMatch(0x1234, 0xFFFF), None], ActionCall(act, (2,)), priority=20)
    sw.add_entry(t, [None, TernaryMatch(0x05, 0xFF)], ActionCall(act, (3,)), priority=30)
    assert tern(sw, 0x1234, 0) == 2
    assert tern(sw, 0x1299, 0) == 1
    assert tern(sw, 0x1234, 5) == 3
    assert tern(sw, 0x9999, 0) == 0xEE  # program default set_res(0xee)


def test_ternary_needs_priority_and_rejects_duplicates() -> None:
    sw = load("table_ternary")
    t = "MyIngress.t_tern"
    act = ActionCall("MyIngress.set_res", (1,))
    with pytest.raises(InvalidArgumentError, match="priority"):
        sw.add_entry(t, [None, None], act)
    sw.add_entry(t, [None, None], act, priority=1)
    with pytest.raises(AlreadyExistsError):
        sw.add_entry(t, [None, None], act, priority=1)


def test_range_const_entries_first_listed_wins() -> None:
    sw = load("table_range")
    info = sw.table_info("MyIngress.t_range")
    assert info.const_entries
    entries = sw.entries("MyIngress.t_range")
    assert entries and all(e.is_const for e in entries)
    assert isinstance(entries[0].matches[0], RangeMatch)
    # Listed first means a higher API priority.
    assert entries[0].priority > entries[1].priority
    with pytest.raises(ConstTableError):
        sw.add_entry(
            "MyIngress.t_range",
            [RangeMatch(0, 1), ExactMatch(6)],
            ActionCall("MyIngress.classify", (9,)),
            priority=100,
        )


def test_exact_table_full_modify_and_default() -> None:
    sw = load("table_exact")
    t = "MyIngress.t_fwd"
    size = sw.table_info(t).max_size
    for k in range(size):
        sw.add_entry(t, [ExactMatch(k)], ActionCall("MyIngress.fwd", (1,)))
    with pytest.raises(TableFullError):
        sw.add_entry(t, [ExactMatch(size)], ActionCall("MyIngress.fwd", (1,)))
    h = sw.find_entry(t, [ExactMatch(3)])
    assert h is not None
    sw.modify_entry(t, h, ActionCall("MyIngress.fwd", (2,)))
    assert sw.get_entry(t, h).action == ActionCall("MyIngress.fwd", (2,))
    with pytest.raises(InvalidArgumentError, match="does not fit"):
        sw.modify_entry(t, h, ActionCall("MyIngress.fwd", (1 << 9,)))
    with pytest.raises(InvalidArgumentError, match="no action"):
        sw.modify_entry(t, h, ActionCall("MyIngress.nope", ()))
    assert sw.get_default_action(t) == ActionCall("MyIngress.set_tag_fwd", (0xEE, 3))
    sw.set_default_action(t, ActionCall("MyIngress.fwd", (5,)))
    assert sw.get_default_action(t) == ActionCall("MyIngress.fwd", (5,))
    sw.reset_default_action(t)
    assert sw.get_default_action(t) == ActionCall("MyIngress.set_tag_fwd", (0xEE, 3))
    sw.clear_table(t)
    assert sw.entries(t) == []


def test_exact_key_value_must_fit() -> None:
    sw = load("table_exact")
    with pytest.raises(InvalidArgumentError, match="does not fit in 16 bits"):
        sw.add_entry("MyIngress.t_fwd", [ExactMatch(1 << 16)], ActionCall("MyIngress.fwd", (1,)))
    with pytest.raises(NotFoundError):
        sw.add_entry("MyIngress.nope", [ExactMatch(1)], ActionCall("MyIngress.fwd", (1,)))


def test_direct_counter_counts_hits() -> None:
    sw = load("counters")
    t = "MyIngress.t"
    h = sw.add_entry(t, [ExactMatch(7)], ActionCall("MyIngress.hit_fwd", ()))
    for _ in range(3):
        sw.process(0, bytes([0, 7]))
    sw.process(0, bytes([0, 8]))
    assert sw.read_direct_counter(t, h) == CounterValue(3, 6)
    sw.write_direct_counter(t, h, CounterValue(0, 0))
    assert sw.get_entry(t, h).counter == CounterValue(0, 0)
    assert sw.counter_read("MyIngress.c", 0) == CounterValue(4, 8)


def ap_packet(sw: Switch, k: int, r: int = 0) -> tuple[int, bytes]:
    out = sw.process(0, bytes([k, r, 0]))
    assert len(out) == 1
    return out[0]


def test_action_profile_members() -> None:
    sw = load("table_action_profile_miss")
    prof = "MyIngress.prof"
    sw.add_member(prof, 1, ActionCall("MyIngress.set_r", (0x42,)))
    with pytest.raises(InvalidArgumentError):
        sw.add_entry("MyIngress.t_prof", [ExactMatch(5)], ActionCall("MyIngress.set_r", (1,)))
    sw.add_entry("MyIngress.t_prof", [ExactMatch(5)], MemberRef(1))
    port, data = ap_packet(sw, 5)
    assert data[1] == 0x42
    assert data[2] & 0x01  # t_prof hit
    assert data[2] & 0x20  # t_sel miss
    with pytest.raises(InUseError, match="used by"):
        sw.delete_member(prof, 1)
    assert sw.members(prof) == {1: ActionCall("MyIngress.set_r", (0x42,))}
    del port


def test_action_selector_groups_pick_member_by_hash() -> None:
    sw = load("table_action_profile_miss")
    sel = "MyIngress.sel"
    for m in range(4):
        sw.add_member(sel, m, ActionCall("MyIngress.set_r", (0x10 + m,)))
    sw.add_group(sel, 7, [0, 1, 2, 3])
    sw.add_entry("MyIngress.t_sel", [ExactMatch(9)], GroupRef(7))
    seen = set()
    for r in range(64):
        _, data = ap_packet(sw, 9, r)
        assert data[2] & 0x02  # t_sel hit
        seen.add(data[1])
        # Same input, same member: the choice is a hash, not random.
        assert ap_packet(sw, 9, r)[1][1] == data[1]
    assert seen <= {0x10, 0x11, 0x12, 0x13}
    assert len(seen) > 1
    sw.set_group_members(sel, 7, [2])
    assert ap_packet(sw, 9, 0)[1][1] == 0x12
    assert sw.groups(sel) == {7: (2,)}
    with pytest.raises(InUseError):
        sw.delete_group(sel, 7)
    with pytest.raises(InUseError, match="in a group"):
        sw.delete_member(sel, 2)


def _crc16_arc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def test_selector_picks_hash_mod_size_in_bmv2_handle_order_with_weights() -> None:
    sw = load("table_action_profile_miss")
    sel = "MyIngress.sel"
    for m in (10, 11, 12, 13):  # BMv2 member handles 0, 1, 2, 3
        sw.add_member(sel, m, ActionCall("MyIngress.set_r", (m,)))
    sw.delete_member(sel, 11)
    # BMv2 gives the lowest free handle: member 20 takes 11's handle 1.
    sw.add_member(sel, 20, ActionCall("MyIngress.set_r", (20,)))
    sw.add_group(sel, 1, [12, 20, 10])
    assert sw.groups(sel) == {1: (10, 20, 12)}
    sw.add_entry("MyIngress.t_sel", [ExactMatch(9)], GroupRef(1))
    for r in range(256):
        order = sw.groups(sel)[1]
        # The selector hashes h.r (crc16) and takes that index of the group.
        assert ap_packet(sw, 9, r)[1][1] == order[_crc16_arc(bytes([r])) % len(order)]
    # Weight 3 for member 10 (PI makes two copies, handles 4 and 5), 1 for 13.
    sw.set_group_members(sel, 1, [10, 10, 10, 13])
    assert sw.groups(sel) == {1: (10, 13, 10, 10)}
    picks = [ap_packet(sw, 9, r)[1][1] for r in range(256)]
    assert picks == [(10, 13, 10, 10)[_crc16_arc(bytes([r])) % 4] for r in range(256)]
    assert set(picks) == {10, 13}
    # Copies are shared by the selector's groups: weight 2 reuses handle 4.
    sw.add_group(sel, 2, [10, 10, 12])
    assert sw.groups(sel)[2] == (10, 12, 10)
    # Weights down: the copies no group needs are freed, the lowest reused first.
    sw.set_group_members(sel, 1, [13])
    assert sw.groups(sel)[2] == (10, 12, 10)
    sw.add_member(sel, 30, ActionCall("MyIngress.set_r", (30,)))
    sw.add_group(sel, 3, [30, 12])
    assert sw.groups(sel)[3] == (12, 30)  # 30 took the freed copy handle 5
