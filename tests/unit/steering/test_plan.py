"""controller.steering.plan and program: per-switch plans, backups, stable groups, write order."""

from __future__ import annotations

import dataclasses

from controller.entries import types as et
from controller.entries.schema import INSTANCE_SELECTOR
from controller.entries.steering import Instance, Policy
from controller.p4rt import entities as pe
from controller.steering.config import InstanceSpec, ServiceSpec, SteeringConfig
from controller.steering.plan import (
    ServiceChoice,
    candidates,
    choose_backup,
    plan_entities,
    steered_instances,
    switch_plan,
)
from controller.steering.policy import TenantPolicy
from controller.steering.program import ordered_phases
from controller.steering.registry import InstanceView, Load, ModelOffer

CONFIG = SteeringConfig(
    services=(ServiceSpec(1), ServiceSpec(2, match=((3, 2),))),
    instances=(
        InstanceSpec(1),
        InstanceSpec(2),
        InstanceSpec(3, "cloud"),
        InstanceSpec(5, "cloud", "10.0.9.5"),  # pinned, not heard yet
        InstanceSpec(6),  # not heard yet, no address
    ),
    policies=(TenantPolicy(7),),
    dataplane_stale_us=80_000,
)


def _view(inst: int, *models: ModelOffer) -> InstanceView:
    return InstanceView(inst, f"10.0.0.{inst}", models, Load(), Load(), 0.0, 0.0, 1, ("s1",))


VIEWS = {
    1: _view(1, ModelOffer(1, 1, 0, 2)),
    2: _view(2, ModelOffer(1, 1, 0, 2), ModelOffer(2, 1, 0, 255)),
    3: _view(3, ModelOffer(1, 1, 0, 2), ModelOffer(2, 1, 0, 1)),
}


def test_candidates_can_serve_every_match() -> None:
    assert [v.instance_id for v in candidates(ServiceSpec(1), list(VIEWS.values()))] == [1, 2, 3]
    # Escalations at stage 2: the large model of 2; 3's small model stops at layer 1.
    esc = ServiceSpec(2, match=((3, 2),))
    assert [v.instance_id for v in candidates(esc, list(VIEWS.values()))] == [2]
    only = ServiceSpec(1, instances=(3,))
    assert [v.instance_id for v in candidates(only, list(VIEWS.values()))] == [3]


def test_backups_prefer_premises_then_weight() -> None:
    choices = [ServiceChoice(1, ServiceSpec(1), (1, 2, 3), ((1, 4), (2, 8), (3, 4)))]
    assert choose_backup(3, choices, CONFIG) == 2  # premises, heavier than 1
    assert choose_backup(2, choices, CONFIG) == 1  # premises before the heavier cloud
    # An instance no group holds (expired): a group not yet rewritten fails over from it.
    assert choose_backup(9, choices, CONFIG) == 2
    # A backup must serve every service of the instance.
    both = [*choices, ServiceChoice(2, ServiceSpec(2), (2, 3), ((2, 1), (3, 1)))]
    assert choose_backup(3, both, CONFIG) == 2
    assert choose_backup(2, both, CONFIG) == 3


def test_a_switch_plan_and_its_entities() -> None:
    choices = [
        ServiceChoice(1, ServiceSpec(1), (1, 2, 3), ((1, 1), (3, 1))),
        ServiceChoice(2, ServiceSpec(2, match=((3, 2),)), (2,), ((2, 1),)),
    ]
    plan = switch_plan(choices, VIEWS, CONFIG)
    assert plan.instances == (
        Instance(1, "10.0.0.1", 2, 80_000),
        Instance(2, "10.0.0.2", 0, 0),
        Instance(3, "10.0.0.3", 1, 80_000),
        Instance(5, "10.0.9.5", 0, 0),
    )
    # Raw inputs to the premises instances, configured or live; activations anywhere.
    assert plan.policies == (Policy(7, 1, (1, 2, 3, 5, 6), (1, 2, 6)),)
    assert steered_instances(plan) == {1, 2, 3}
    # The second service keeps group 2 even though it is the only group written.
    only_second = switch_plan(choices[1:], VIEWS, CONFIG)
    assert steered_instances(only_second) == {2}
    entities = plan_entities(only_second, [2])
    groups = [e for e in entities if isinstance(e, et.ActionProfileGroup)]
    steer = [e for e in entities if isinstance(e, et.TableEntry) and e.group_id is not None]
    assert [g.group_id for g in groups] == [2] and [e.group_id for e in steer] == [2]
    tables = [getattr(e, "table", type(e).__name__) for e in entities]
    assert tables == [
        *["MyIngress.instance_info"] * 4,  # every known instance, steered here or not
        *["MyIngress.instance_addr"] * 4,
        "ActionProfileMember",
        "ActionProfileGroup",
        "MyIngress.din_steer",
        "MyIngress.tenant_policy",
    ]


def test_an_expired_instance_keeps_a_backup_until_no_group_holds_it() -> None:
    # Instance 3 expired: the new group holds 1 and 2; its row keeps failing over, since
    # the rows are written before the groups and the old group still points at it.
    views = {i: v for i, v in VIEWS.items() if i != 3}
    pinned = (InstanceSpec(1), InstanceSpec(2), InstanceSpec(3, "cloud", "10.0.0.3"))
    config = dataclasses.replace(CONFIG, instances=pinned)
    choices = [ServiceChoice(1, ServiceSpec(1), (1, 2), ((1, 8), (2, 8)))]
    rows = {i.instance_id: i for i in switch_plan(choices, views, config).instances}
    assert (rows[3].backup_id, rows[3].stale_after_us) == (1, 80_000)


def test_a_switch_that_steers_nothing_gets_the_instances_and_the_policy() -> None:
    plan = switch_plan([], VIEWS, CONFIG)
    assert [i.instance_id for i in plan.instances] == [1, 2, 3, 5]
    assert all(i.backup_id == 0 for i in plan.instances)
    assert plan.services == () and steered_instances(plan) == frozenset()
    assert plan.policies == switch_plan([], {}, CONFIG).policies  # the same while nodes come


def test_write_phases_put_rows_first_and_deletes_in_reverse() -> None:
    info = pe.TableEntry("MyIngress.instance_info", action="MyIngress.set_instance_info")
    addr = pe.TableEntry("MyIngress.instance_addr", action="MyIngress.set_dst_instance")
    policy = pe.TableEntry("MyIngress.tenant_policy", action="MyIngress.set_allowed")
    steer = pe.TableEntry("MyIngress.din_steer", group_id=1)
    member = pe.ActionProfileMember(INSTANCE_SELECTOR, 1, "MyIngress.set_instance")
    group = pe.ActionProfileGroup(INSTANCE_SELECTOR, 1)
    ins, mod, dele = pe.UpdateType.INSERT, pe.UpdateType.MODIFY, pe.UpdateType.DELETE
    updates = [
        pe.Update(dele, member),
        pe.Update(ins, steer),
        pe.Update(mod, group),
        pe.Update(dele, info),
        pe.Update(ins, member),
        pe.Update(mod, policy),
        pe.Update(dele, steer),
        pe.Update(ins, info),
        pe.Update(dele, addr),
        pe.Update(dele, group),
        pe.Update(ins, addr),
    ]
    phases = ordered_phases(updates)
    flat = [
        (u.type, type(u.entity).__name__, getattr(u.entity, "table", "")) for p in phases for u in p
    ]
    assert flat == [
        (mod, "TableEntry", "MyIngress.tenant_policy"),
        (ins, "TableEntry", "MyIngress.instance_info"),
        (ins, "TableEntry", "MyIngress.instance_addr"),
        (ins, "ActionProfileMember", ""),
        (mod, "ActionProfileGroup", ""),
        (ins, "TableEntry", "MyIngress.din_steer"),
        (dele, "TableEntry", "MyIngress.din_steer"),
        (dele, "ActionProfileGroup", ""),
        (dele, "ActionProfileMember", ""),
        (dele, "TableEntry", "MyIngress.instance_info"),
        (dele, "TableEntry", "MyIngress.instance_addr"),
    ]
    assert len(phases) == 8
