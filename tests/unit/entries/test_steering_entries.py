"""Steering plan -> din_steer members/groups, instance_info, instance_addr, tenant_policy,
ipv4_lpm, class_qos; and the steering simulator (failover, policy by stage, the gate)."""

from __future__ import annotations

import dataclasses
import zlib
from collections import Counter

import pytest

from controller.entries.errors import EntriesError
from controller.entries.schema import check_entries
from controller.entries.simulator import (
    SteerResult,
    TableSim,
    crc16,
    gate_allows,
    policy_bitmap,
    selector_hash,
    steer,
)
from controller.entries.steering import (
    Instance,
    Plan,
    Policy,
    Route,
    Service,
    instance_entries,
    member_id,
    plan_entries,
    policy_entries,
    repeats,
    route_entries,
    service_entries,
)
from controller.entries.types import ActionProfileGroup, ActionProfileMember, Exact, Lpm, TableEntry

SEL = "MyIngress.instance_selector"
A, B, C = 0x0A000202, 0x0A000303, 0x0A000404  # 10.0.2.2, 10.0.3.3, 10.0.4.4


def plan() -> Plan:
    return Plan(
        instances=(
            Instance(1, "10.0.2.2", backup_id=2, stale_after_us=1000),
            Instance(2, "10.0.3.3"),
            Instance(3, C, backup_id=1),
        ),
        services=(
            Service(7, ((1, 4), (2, 2))),
            Service(8, ((3, 1),), ((3, 2),)),
        ),
        policies=(Policy(5, 2, (2, 3)), Policy(6, 0, ()), Policy(7, 1, (1, 2, 3), (2,))),
        routes=(
            Route("10.0.2.0/24", "08:00:00:00:02:22", "08:00:00:00:01:00", 2),
            Route("10.0.3.0/24", "08:00:00:00:03:33", "08:00:00:00:01:00", 3),
            Route("10.0.4.0/24", "08:00:00:00:04:44", "08:00:00:00:01:00", 4),
            Route("10.9.9.9/32", "08:00:00:00:09:99", "08:00:00:00:01:00", 255),  # the CPU
        ),
        qos={1: 46},
    )


def test_plan_golden_entities() -> None:
    ents = plan_entries(plan())
    check_entries(ents)
    info = [e for e in ents if isinstance(e, TableEntry) and e.table == "MyIngress.instance_info"]
    assert [(e.match, e.param_dict()) for e in info] == [
        (
            (("meta.steer.instance_id", Exact(1)),),
            {"addr": A, "backup_id": 2, "backup_addr": B, "stale_after_us": 1000},
        ),
        (
            (("meta.steer.instance_id", Exact(2)),),
            {"addr": B, "backup_id": 0, "backup_addr": 0, "stale_after_us": 0},
        ),
        (
            (("meta.steer.instance_id", Exact(3)),),
            {"addr": C, "backup_id": 1, "backup_addr": A, "stale_after_us": 0},
        ),
    ]
    members = [e for e in ents if isinstance(e, ActionProfileMember)]
    # Weights 4:2 -> 2:1: instance 1 twice (ids 1, 65), instance 2 once; instance 3 once.
    assert [(m.member_id, m.params) for m in members] == [
        (1, (("instance_id", 1),)),
        (2, (("instance_id", 2),)),
        (3, (("instance_id", 3),)),
        (65, (("instance_id", 1),)),
    ]
    groups = [e for e in ents if isinstance(e, ActionProfileGroup)]
    assert groups == [
        ActionProfileGroup(SEL, 1, ((1, 1), (65, 1), (2, 1))),
        ActionProfileGroup(SEL, 2, ((3, 1),)),
    ]
    steer_entries = [e for e in ents if isinstance(e, TableEntry) and e.table.endswith("din_steer")]
    assert [(e.match_dict(), e.group_id) for e in steer_entries] == [
        (
            {
                "hdr.din.model_id": Exact(7),
                "hdr.din.msg_type": Exact(1),
                "hdr.din.stage": Exact(0),
            },
            1,
        ),
        (
            {
                "hdr.din.model_id": Exact(8),
                "hdr.din.msg_type": Exact(3),
                "hdr.din.stage": Exact(2),
            },
            2,
        ),
    ]
    addrs = [e for e in ents if isinstance(e, TableEntry) and e.table == "MyIngress.instance_addr"]
    assert [(e.match, e.action, e.params) for e in addrs] == [
        ((("hdr.ipv4.dst_addr", Exact(a)),), "MyIngress.set_dst_instance", (("instance_id", i),))
        for i, a in ((1, A), (2, B), (3, C))
    ]
    pol = [e for e in ents if isinstance(e, TableEntry) and e.table.endswith("tenant_policy")]
    # Without allowed_raw a policy holds for raw inputs too.
    assert [e.param_dict() for e in pol] == [
        {"allowed": 0b1100, "allowed_raw": 0b1100},
        {"allowed": 0, "allowed_raw": 0},
        {"allowed": 0b1110, "allowed_raw": 0b0100},
    ]
    route = next(e for e in ents if isinstance(e, TableEntry) and e.table.endswith("ipv4_lpm"))
    assert route.match == (("hdr.ipv4.dst_addr", Lpm(0x0A000200, 24)),)
    assert route.param_dict() == {"dst_mac": 0x080000000222, "src_mac": 0x080000000100, "port": 2}
    # Members come before the groups that use them, groups before din_steer entries.
    kinds = [type(e).__name__ for e in ents]
    assert kinds.index("ActionProfileGroup") > max(
        i for i, k in enumerate(kinds) if k == "ActionProfileMember"
    )


def test_route_host_bits_are_cleared_and_default_length() -> None:
    (e,) = route_entries([Route("10.0.2.77/24", 1, 2, 3)])
    assert e.match == (("hdr.ipv4.dst_addr", Lpm(0x0A000200, 24)),)
    (e,) = route_entries([Route("10.0.2.77", 1, 2, 3)])
    assert e.match == (("hdr.ipv4.dst_addr", Lpm(0x0A00024D, 32)),)


def test_simulated_steering_weights_failover_policy() -> None:
    sim = TableSim(plan_entries(plan()))
    picks = [steer(sim, 7, 1, 0, pick=p).instance_id for p in range(6)]
    assert picks == [1, 1, 2, 1, 1, 2]
    assert steer(sim, 7, 1, 1).steered is False  # no entry for stage 1
    fresh = steer(sim, 7, 1, 0, now_us=5000, last_seen={1: 4500})
    assert (fresh.instance_id, fresh.addr, fresh.flags) == (1, A, 0)
    stale = steer(sim, 7, 1, 0, now_us=5000, last_seen={1: 3999})
    assert (stale.instance_id, stale.addr, stale.flags) == (2, B, 0x02)
    # Tenant 5 at sensitivity 2 may use 2 and 3 only: 1 is replaced by its backup 2.
    moved = steer(sim, 7, 1, 0, tenant_id=5, sensitivity=2)
    assert (moved.instance_id, moved.addr, moved.flags) == (2, B, 0x04)
    # Instance 2 has no backup: tenant 6 (nothing allowed) is dropped.
    assert steer(sim, 7, 1, 0, pick=2, tenant_id=6).dropped
    esc = steer(sim, 8, 3, 2, tenant_id=5, sensitivity=2)
    assert (esc.instance_id, esc.addr, esc.flags) == (3, C, 0)


def test_simulated_policy_picks_the_bitmap_by_stage() -> None:
    sim = TableSim(plan_entries(plan()))
    assert policy_bitmap(sim, 7, 1, 0) == 0b0100
    assert policy_bitmap(sim, 7, 1, 1) == policy_bitmap(sim, 7, 1, 200) == 0b1110
    assert policy_bitmap(sim, 7, 2, 0) == (1 << 64) - 1  # no row: everything
    # Raw inputs steered to 1 go to its backup 2; activations stay on 1.
    raw = steer(sim, 7, 1, 0, tenant_id=7, sensitivity=1)
    assert (raw.instance_id, raw.addr, raw.flags) == (2, B, 0x04)
    act = Service(7, ((1, 1),), ((1, 1),))
    sim_act = TableSim(plan_entries(dataclasses.replace(plan(), services=(act,))))
    kept = steer(sim_act, 7, 1, 1, tenant_id=7, sensitivity=1)
    assert (kept.instance_id, kept.addr, kept.flags) == (1, A, 0)
    # An escalation at stage 0 carries raw inputs: instance 3 is not allowed and has
    # backup 1, which is not allowed either.
    esc = Service(8, ((3, 1),), ((3, 0),))
    sim_esc = TableSim(plan_entries(dataclasses.replace(plan(), services=(esc,))))
    assert steer(sim_esc, 8, 3, 0, tenant_id=7, sensitivity=1).dropped


@pytest.mark.parametrize(
    ("dst", "stage", "instance_id", "tenant", "dropped"),
    [
        (C, 0, 3, 7, True),  # forged instance_id, raw inputs to a disallowed instance
        (C, 0, 0, 7, True),  # no din_steer match for model 9: the same gate
        (0x0A000277, 0, 0, 7, True),  # routed, but no instance there
        (B, 0, 3, 7, False),  # the allowed instance, whatever instance_id says
        (C, 1, 3, 7, False),  # activations may go to 3
        (0x0A000277, 1, 0, 7, True),  # ... but only to a known instance
        (C, 0, 3, 0, False),  # tenant 0 has no row: not gated
        (0x0A090909, 0, 0, 7, False),  # routed to the CPU port
        (0x0A080808, 0, 0, 7, False),  # no route: punted to the CPU
    ],
)
def test_simulated_policy_gate(
    dst: int, stage: int, instance_id: int, tenant: int, dropped: bool
) -> None:
    sim = TableSim(plan_entries(plan()))
    got = steer(
        sim, 9, 1, stage, tenant_id=tenant, sensitivity=1, instance_id=instance_id, dst_addr=dst
    )
    assert got == SteerResult(False, instance_id, dst, dropped=dropped)
    assert gate_allows(sim, policy_bitmap(sim, tenant, 1, stage), dst) is not dropped


def test_repeats_divide_by_gcd() -> None:
    assert repeats([(1, 30), (2, 20), (3, 10)], "s") == [(1, 3), (2, 2), (3, 1)]
    assert member_id(5, 2) == 133


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ((), "no instances"),
        (((1, 0),), "expected >= 1"),
        (((64, 1),), "instance id 64"),
        (((1, 1), (1, 2)), "each once"),
        (((1, 17), (2, 1)), "17 members"),
    ],
)
def test_bad_weights(weights: tuple[tuple[int, int], ...], message: str) -> None:
    with pytest.raises(EntriesError, match=message):
        service_entries([Service(1, weights)])


@pytest.mark.parametrize(
    ("service", "message"),
    [
        (Service(70000, ((1, 1),)), "model id 70000"),
        (Service(1, ((1, 1),), ()), "no \\(msg_type, stage\\)"),
        (Service(1, ((1, 1),), ((2, 0),)), "msg_type 1 or 3"),
        (Service(1, ((1, 1),), ((1, 0), (1, 0))), "steered twice"),
    ],
)
def test_bad_services(service: Service, message: str) -> None:
    with pytest.raises(EntriesError, match=message):
        service_entries([service])


@pytest.mark.parametrize(
    ("instances", "message"),
    [
        ((Instance(0, "10.0.0.1"),), "instance id 0"),
        ((Instance(1, "10.0.0.1"), Instance(1, "10.0.0.2")), "given twice"),
        ((Instance(1, "10.0.0.1", backup_id=1),), "backup 1"),
        ((Instance(1, "10.0.0.1", backup_id=9),), "backup 9"),
        ((Instance(1, "10.0.0.1", stale_after_us=1 << 48),), "stale_after_us"),
        ((Instance(1, "10.0.0.300"),), "'10.0.0.300'"),
        ((Instance(1, -1),), "-1"),
        ((Instance(1, "10.0.0.1"), Instance(2, 0x0A000001)), "also the address of instance 1"),
    ],
)
def test_bad_instances(instances: tuple[Instance, ...], message: str) -> None:
    with pytest.raises(EntriesError, match=message):
        instance_entries(instances)


@pytest.mark.parametrize(
    ("route", "message"),
    [
        (Route("10.0.0.0/33", 1, 2, 3), "prefix length 33"),
        (Route("10.0.0.0/x", 1, 2, 3), "a.b.c.d/len"),
        (Route("10.0.0.0/8", "08:00", 2, 3), "six hex bytes"),
        (Route("10.0.0.0/8", 1, 1 << 48, 3), "src_mac"),
        (Route("10.0.0.0/8", 1, 2, 512), "port 512"),
    ],
)
def test_bad_routes(route: Route, message: str) -> None:
    with pytest.raises(EntriesError, match=message):
        route_entries([route])


def test_bad_policies_and_unknown_service_instance() -> None:
    with pytest.raises(EntriesError, match="sensitivity 300"):
        policy_entries([Policy(1, 300, ())])
    with pytest.raises(EntriesError, match="allowed: instance id 64"):
        policy_entries([Policy(1, 1, (64,))])
    with pytest.raises(EntriesError, match="allowed_raw: instance id 0"):
        policy_entries([Policy(1, 1, (1,), (0,))])
    with pytest.raises(EntriesError, match="tenant 1 sensitivity 1: given twice"):
        policy_entries([Policy(1, 1, (1,)), Policy(1, 1, (2,))])
    with pytest.raises(EntriesError, match="instance 9"):
        plan_entries(Plan(instances=(Instance(1, 1),), services=(Service(1, ((9, 1),)),)))


def test_selector_hash() -> None:
    assert crc16(b"123456789") == 0xBB3D  # the CRC-16/ARC check value
    assert selector_hash(0x0A000101, 5000) == zlib.crc32(bytes([10, 0, 1, 1, 0x13, 0x88]))
    # A client's consecutive ports reach every member of a group of 2^k.
    for size in (2, 4, 8, 16):
        picks = Counter(selector_hash(0x0A000101, p) % size for p in range(40000, 40320))
        assert len(picks) == size and min(picks.values()) >= 320 // size // 2
    sim = TableSim(plan_entries(plan()))
    # Group 1 lists members 1, 65 (instance 1) and 2 (instance 2).
    for port in (5000, 5001, 5002, 5003):
        h = selector_hash(0x0A000101, port)
        assert steer(sim, 7, 1, 0, pick=h).instance_id == [1, 1, 2][h % 3]
