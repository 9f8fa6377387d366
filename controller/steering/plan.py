"""One switch's steering plan from the chosen weights: instances with backups, groups, policy.

Turns the steering loop's decisions into a ``controller.entries.steering``
:class:`~controller.entries.steering.Plan` and then into entries. Group ids
stay the service's place in the configuration (plus one) whatever other
services come and go, so that a re-weighting is a group MODIFY. Every
instance in a group gets an ``instance_info`` row with a backup (for the
data plane's failover) chosen among the instances that can serve all of its
services: on premises first (so that a sensitive request re-steered to the
backup stays allowed), then by weight; an instance no group holds (expired)
keeps a backup among the instances the groups hold, since the rows are
written before the groups and a group may still point at it until then.
Every instance with a known address
gets its rows on every switch, steered there or not, and so do the tenant
policies: the policy gate of any switch on a request's path must know the
instance it is addressed to.

Pure: imports the standard library, ``controller.entries`` and
``controller.steering``'s pure modules only.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from controller.entries import types as et
from controller.entries.steering import (
    MSG_ESCALATION,
    Instance,
    Plan,
    Service,
    instance_entries,
    policy_entries,
    service_entries,
)
from controller.steering.config import ServiceSpec, SteeringConfig
from controller.steering.policy import PREMISES, compile_policies
from controller.steering.registry import InstanceView

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ServiceChoice:
    """A service on one switch: its group id, the instances able to serve it, the weights."""

    group_id: int
    spec: ServiceSpec
    candidates: tuple[int, ...]
    weights: tuple[tuple[int, int], ...]


def candidates(spec: ServiceSpec, views: Sequence[InstanceView]) -> list[InstanceView]:
    """The live instances allowed for ``spec`` that can serve every (msg_type, stage) it matches."""
    out = []
    for v in views:
        if spec.instances is not None and v.instance_id not in spec.instances:
            continue
        if all(
            v.serves(spec.model_id, stage, escalation=msg == MSG_ESCALATION)
            for msg, stage in spec.match
        ):
            out.append(v)
    return out


def choose_backup(
    instance_id: int, choices: Sequence[ServiceChoice], config: SteeringConfig
) -> int:
    """The backup of ``instance_id``: able to serve all its services; premises, then weight.

    An instance no group holds (expired, say) is backed up by an instance that
    every group holds: until a switch has rewritten a group that still points
    at it, the data plane sends its requests there instead of to a dead node.
    """
    mine = [c for c in choices if any(i == instance_id for i, _ in c.weights)]
    if not mine:
        grouped = [c for c in choices if c.weights]
        if not grouped:
            return 0
        able = {i for i, _ in grouped[0].weights}
        for c in grouped[1:]:
            able &= {i for i, _ in c.weights}
        mine = grouped
    else:
        able = set(mine[0].candidates)
        for c in mine[1:]:
            able &= set(c.candidates)
    able.discard(instance_id)
    if not able:
        return 0
    weight = {i: sum(w for c in mine for j, w in c.weights if j == i) for i in able}
    return min(able, key=lambda i: (config.location(i) != PREMISES, -weight[i], i))


def switch_plan(
    choices: Sequence[ServiceChoice],
    views: Mapping[int, InstanceView],
    config: SteeringConfig,
) -> Plan:
    """The plan of a switch steering ``choices`` (maybe none): every known instance, policies.

    Instances are the live ones (``views``) and those configured with an
    address; policy bitmaps cover every instance live or configured, so that
    a bit does not come and go with an instance's advertisements.
    """
    addrs = {s.instance_id: s.addr for s in config.instances if s.addr is not None}
    addrs.update({i: config.pinned_addr(i) or v.addr for i, v in views.items()})
    backups = {i: choose_backup(i, choices, config) for i in addrs}
    stale = config.dataplane_stale_us
    instances = tuple(
        Instance(i, addrs[i], backups.get(i, 0), stale if backups.get(i, 0) else 0)
        for i in sorted(addrs)
    )
    services = tuple(
        Service(c.spec.model_id, c.weights, c.spec.match) for c in choices if c.weights
    )
    known = {s.instance_id for s in config.instances} | set(views)
    locations = {i: config.location(i) for i in known}
    policies = tuple(compile_policies(config.policies, locations))
    return Plan(instances=instances, services=services, policies=policies)


def steered_instances(plan: Plan) -> frozenset[int]:
    """The instances ``plan`` steers to, with their backups (failover needs them alive)."""
    used = {i for svc in plan.services for i, _ in svc.weights}
    backups = {inst.backup_id for inst in plan.instances if inst.instance_id in used}
    return frozenset((used | backups) - {0})


def plan_entities(plan: Plan, group_ids: Sequence[int]) -> list[et.Entity]:
    """The plan's steering entries: members, groups (ids ``group_ids``), din_steer, rows, policy.

    ``group_ids`` gives each of ``plan.services`` its group id. Members are
    shared by the groups (one member per instance copy).
    """
    if len(group_ids) != len(plan.services):
        raise ValueError(f"{len(group_ids)} group ids for {len(plan.services)} services")
    members: dict[int, et.ActionProfileMember] = {}
    groups: list[et.Entity] = []
    steer: list[et.Entity] = []
    for svc, gid in zip(plan.services, group_ids, strict=True):
        for e in service_entries([svc]):
            match e:
                case et.ActionProfileMember():
                    members[e.member_id] = e
                case et.ActionProfileGroup():
                    groups.append(dataclasses.replace(e, group_id=gid))
                case et.TableEntry():
                    steer.append(dataclasses.replace(e, group_id=gid))
    return [
        *instance_entries(plan.instances),
        *(members[m] for m in sorted(members)),
        *groups,
        *steer,
        *policy_entries(plan.policies),
    ]
