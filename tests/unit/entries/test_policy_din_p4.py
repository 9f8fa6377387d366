"""Tenant policy per packet: a steering plan's entries installed into din.p4 on p4lite's
switch core give the outcome the steering simulator predicts, case by case (steered with
re-steer or failover, steered upstream, not matched, unknown destination, the CPU)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from controller.entries.schema import ACTIONS, table
from controller.entries.simulator import TableSim, selector_hash, steer
from controller.entries.steering import Instance, Plan, Policy, Route, Service, plan_entries
from controller.entries.types import (
    ActionProfileGroup,
    ActionProfileMember,
    Entity,
    Exact,
    Lpm,
    TableEntry,
)
from traffic.frames import Endpoints, parse_frame, udp_frame
from traffic.wire import DinHeader, decode, encode

core = pytest.importorskip("p4lite.switch.core")

if TYPE_CHECKING:
    from tests.conftest import Din

NOW = 1_000_000
CLIENT_IP, SPORT = "10.0.1.1", 40000
MAC = "08:00:00:00:00:01"

PLAN = Plan(
    instances=(
        Instance(1, "10.0.2.2", backup_id=2),  # on premises
        Instance(2, "10.0.2.3"),  # on premises
        Instance(3, "10.0.3.3", backup_id=1, stale_after_us=100_000),  # the cloud
    ),
    services=(
        Service(7, ((3, 1),), ((1, 0), (1, 1))),
        Service(8, ((3, 1),), ((3, 0),)),
    ),
    policies=(
        Policy(7, 1, (1, 2, 3), (1, 2)),  # raw inputs on premises, activations anywhere
        Policy(5, 0, (1,)),  # instance 1 only, raw or not
    ),
    routes=(
        Route("10.0.1.0/24", MAC, MAC, 1),
        Route("10.0.2.0/24", MAC, MAC, 2),
        Route("10.0.3.0/24", MAC, MAC, 3),
        Route("10.9.9.9/32", MAC, MAC, 255),  # the controller
    ),
)


def _ip(addr: str) -> int:
    return int.from_bytes(bytes(int(x) for x in addr.split(".")), "big")


@pytest.fixture(scope="module")
def din_json(din: Din) -> str:
    """din.p4's BMv2 JSON (compiled once for the session)."""
    return din.json.read_text()


def _install(sw: Any, entity: Entity) -> None:
    match entity:
        case ActionProfileMember(profile, member_id, action, params):
            values = tuple(dict(params)[n] for n, _ in ACTIONS[action].params)
            sw.add_member(profile, member_id, core.ActionCall(action, values))
        case ActionProfileGroup(profile, group_id, members):
            sw.add_group(profile, group_id, [m for m, _ in members])
        case TableEntry():
            given = entity.match_dict()
            matches: list[Any] = []
            for key in table(entity.table).keys:
                match given.get(key.name):
                    case Exact(v):
                        matches.append(core.ExactMatch(v))
                    case Lpm(v, plen):
                        matches.append(core.LpmMatch(v, plen))
            if entity.group_id is not None:
                action: Any = core.GroupRef(entity.group_id)
            else:
                assert entity.action is not None
                params = entity.param_dict()
                names = ACTIONS[entity.action].params
                action = core.ActionCall(entity.action, tuple(params[n] for n, _ in names))
            sw.add_entry(entity.table, matches, action, entity.priority)


# (model, msg_type, stage, tenant, sensitivity, instance_id, destination, instance 3 fresh)
CASES = {
    "raw inputs steered: the cloud choice goes to its premises backup": (
        7, 1, 0, 7, 1, 0, "10.0.0.1", True),
    "activations steered: the cloud is allowed": (7, 1, 1, 7, 1, 0, "10.0.0.1", True),
    "activations steered, the cloud instance silent: failover": (
        7, 1, 1, 7, 1, 0, "10.0.0.1", False),
    "raw escalation at stage 0: re-steered": (8, 3, 0, 7, 1, 0, "10.0.0.1", True),
    "instance 1 only: re-steered whatever the stage": (7, 1, 1, 5, 0, 0, "10.0.0.1", True),
    "raw inputs, instance_id forged, to the cloud: dropped": (
        7, 1, 0, 7, 1, 3, "10.0.3.3", True),
    "raw inputs, no din_steer match, to the cloud: dropped": (
        9, 1, 0, 7, 1, 0, "10.0.3.3", True),
    "raw escalation steered upstream, to the cloud: dropped": (
        9, 3, 0, 7, 1, 3, "10.0.3.3", True),
    "raw inputs to a routed address that is no instance: dropped": (
        9, 1, 0, 7, 1, 0, "10.0.2.77", True),
    "raw inputs to a premises instance: on": (9, 1, 0, 7, 1, 0, "10.0.2.3", True),
    "activations, no match, to the cloud: on": (9, 1, 1, 7, 1, 3, "10.0.3.3", True),
    "instance 1 only, to instance 2: dropped": (9, 1, 1, 5, 0, 2, "10.0.2.3", True),
    "no policy row: not gated": (9, 1, 0, 6, 1, 3, "10.0.3.3", True),
    "routed to the controller: not gated": (9, 1, 0, 7, 1, 0, "10.9.9.9", True),
}  # fmt: skip


def test_the_switch_does_what_the_simulator_predicts(din_json: str) -> None:
    sw = core.Switch.from_json(din_json, core.SwitchOptions(cpu_port=255, clock_us=lambda: NOW))
    entities = plan_entries(PLAN)
    for e in entities:
        _install(sw, e)
    sim = TableSim(entities)
    drops = 0
    outcomes = {}
    for name, (model, msg, stage, tenant, sens, inst, dst, fresh) in CASES.items():
        sw.register_write("MyIngress.instance_last_seen", 3, NOW if fresh else 0)
        header = DinHeader(
            msg_type=msg,
            model_id=model,
            model_version=1,
            stage=stage,
            tenant_id=tenant,
            sensitivity=sens,
            instance_id=inst,
        )
        ep = Endpoints(MAC, MAC, CLIENT_IP, dst, SPORT, 7350)
        out = sw.process(1, udp_frame(ep, encode(header, [3] * 16)))
        want = steer(
            sim,
            model,
            msg,
            stage,
            pick=selector_hash(_ip(CLIENT_IP), SPORT),
            tenant_id=tenant,
            sensitivity=sens,
            now_us=NOW,
            last_seen={3: NOW} if fresh else {},
            instance_id=inst,
            dst_addr=_ip(dst),
        )
        if want.dropped:
            drops += 1
            assert out == [], name
            outcomes[name] = "dropped"
            continue
        [(port, data)] = out
        frame = data[3:] if port == 255 else data
        info = parse_frame(frame)
        got = decode(info.l4_payload).header
        assert (got.instance_id, _ip(str(info.dst_ip)), got.flags) == (
            want.instance_id,
            want.addr,
            want.flags,
        ), name
        outcomes[name] = f"instance {got.instance_id} flags {got.flags:#x} port {port}"
    assert sw.counter_read("MyIngress.drops", 3).packets == drops
    assert sw.counter_read("MyIngress.din_events", 7).packets == drops
    assert sum(sw.counter_read("MyIngress.policy_drops", s).packets for s in (0, 1)) == drops
    # The outcomes themselves, so that the two cannot agree on something wrong.
    assert outcomes == {
        "raw inputs steered: the cloud choice goes to its premises backup": (
            "instance 1 flags 0x4 port 2"),
        "activations steered: the cloud is allowed": "instance 3 flags 0x0 port 3",
        "activations steered, the cloud instance silent: failover": "instance 1 flags 0x2 port 2",
        "raw escalation at stage 0: re-steered": "instance 1 flags 0x4 port 2",
        "instance 1 only: re-steered whatever the stage": "instance 1 flags 0x4 port 2",
        "raw inputs, instance_id forged, to the cloud: dropped": "dropped",
        "raw inputs, no din_steer match, to the cloud: dropped": "dropped",
        "raw escalation steered upstream, to the cloud: dropped": "dropped",
        "raw inputs to a routed address that is no instance: dropped": "dropped",
        "raw inputs to a premises instance: on": "instance 0 flags 0x0 port 2",
        "activations, no match, to the cloud: on": "instance 3 flags 0x0 port 3",
        "instance 1 only, to instance 2: dropped": "dropped",
        "no policy row: not gated": "instance 3 flags 0x0 port 3",
        "routed to the controller: not gated": "instance 0 flags 0x0 port 255",
    }  # fmt: skip
