"""A steering plan -> din.p4 steering, policy, forwarding and QoS entries.

Tables: din_steer (action selector ``instance_selector``: members
``set_instance``, one group per service, weighted by repeating members),
instance_info and instance_addr (an instance by id, and by address for the
policy gate), tenant_policy, ipv4_lpm, class_qos. Pure: imports the standard
library and this package only.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import reduce

from controller.entries.classifier import qos_entries
from controller.entries.errors import EntriesError
from controller.entries.schema import INSTANCE_SELECTOR, MAX_INSTANCES
from controller.entries.types import (
    ActionProfileGroup,
    ActionProfileMember,
    Entity,
    Exact,
    Lpm,
    TableEntry,
)
from controller.entries.values import ipv4, mac

log = logging.getLogger(__name__)

MSG_REQUEST = 1
MSG_ESCALATION = 3
MAX_REPEATS = 16  # members per instance in one group, after dividing weights by their gcd
MAX_STALE_US = (1 << 48) - 1
PORT_MAX = 511  # bit<9>


@dataclass(frozen=True, slots=True)
class Instance:
    """An inference instance: id 1..63, address, backup and staleness threshold."""

    instance_id: int
    addr: int | str
    backup_id: int = 0
    stale_after_us: int = 0


@dataclass(frozen=True, slots=True)
class Service:
    """A service (model): weighted instances, matched on (msg_type, stage) pairs."""

    model_id: int
    weights: tuple[tuple[int, int], ...]  # (instance_id, weight >= 1)
    match: tuple[tuple[int, int], ...] = ((MSG_REQUEST, 0),)  # (msg_type, stage)


@dataclass(frozen=True, slots=True)
class Policy:
    """Tenant policy: the instances requests of (tenant, sensitivity) may reach.

    ``allowed`` holds for activations (stage >= 1), ``allowed_raw`` for raw
    inputs (stage 0); None: the same as ``allowed``.
    """

    tenant_id: int
    sensitivity: int
    allowed: tuple[int, ...]
    allowed_raw: tuple[int, ...] | None = None

    @property
    def raw(self) -> tuple[int, ...]:
        """The instances allowed for raw inputs."""
        return self.allowed if self.allowed_raw is None else self.allowed_raw


@dataclass(frozen=True, slots=True)
class Route:
    """An ipv4_lpm route: prefix 'a.b.c.d/len' -> (dst MAC, src MAC, port)."""

    prefix: str
    dst_mac: int | str
    src_mac: int | str
    port: int


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything steering needs on one switch."""

    instances: tuple[Instance, ...] = ()
    services: tuple[Service, ...] = ()
    policies: tuple[Policy, ...] = ()
    routes: tuple[Route, ...] = ()
    qos: Mapping[int, int] = field(default_factory=dict)


def _check_id(instance_id: int, what: str) -> None:
    if not 1 <= instance_id < MAX_INSTANCES:
        raise EntriesError(f"{what}: instance id {instance_id!r}: expected 1..{MAX_INSTANCES - 1}")


def member_id(instance_id: int, copy: int) -> int:
    """The member id of copy ``copy`` (0-based) of ``set_instance(instance_id)``."""
    return copy * MAX_INSTANCES + instance_id


def instance_entries(instances: Sequence[Instance]) -> list[TableEntry]:
    """instance_info rows, then instance_addr rows (address -> instance, one instance each).

    A backup must be another instance of the plan.
    """
    by_id: dict[int, Instance] = {}
    by_addr: dict[int, int] = {}
    addr_rows = []
    for inst in instances:
        _check_id(inst.instance_id, "instance")
        if inst.instance_id in by_id:
            raise EntriesError(f"instance {inst.instance_id!r} given twice")
        by_id[inst.instance_id] = inst
        where = f"instance {inst.instance_id}"
        addr = ipv4(inst.addr, f"{where} address")
        if addr in by_addr:
            raise EntriesError(
                f"{where}: address {inst.addr!r}: also the address of instance "
                f"{by_addr[addr]}: expected one instance per address"
            )
        by_addr[addr] = inst.instance_id
        addr_rows.append(
            TableEntry(
                "MyIngress.instance_addr",
                (("hdr.ipv4.dst_addr", Exact(addr)),),
                "MyIngress.set_dst_instance",
                (("instance_id", inst.instance_id),),
            )
        )
    out = []
    for inst in instances:
        where = f"instance {inst.instance_id}"
        backup_addr = 0
        if inst.backup_id:
            if inst.backup_id == inst.instance_id or inst.backup_id not in by_id:
                raise EntriesError(
                    f"{where}: backup {inst.backup_id!r}: expected another instance of the plan"
                )
            backup_addr = ipv4(by_id[inst.backup_id].addr, f"{where} backup address")
        if not 0 <= inst.stale_after_us <= MAX_STALE_US:
            raise EntriesError(
                f"{where}: stale_after_us {inst.stale_after_us!r}: expected 0..2^48-1"
            )
        out.append(
            TableEntry(
                "MyIngress.instance_info",
                (("meta.steer.instance_id", Exact(inst.instance_id)),),
                "MyIngress.set_instance_info",
                (
                    ("addr", ipv4(inst.addr, f"{where} address")),
                    ("backup_id", inst.backup_id),
                    ("backup_addr", backup_addr),
                    ("stale_after_us", inst.stale_after_us),
                ),
            )
        )
    return [*out, *addr_rows]


def repeats(weights: Sequence[tuple[int, int]], where: str) -> list[tuple[int, int]]:
    """(instance_id, copies): weights divided by their gcd, each at most MAX_REPEATS."""
    if not weights:
        raise EntriesError(f"{where}: no instances: expected at least one")
    for inst, w in weights:
        _check_id(inst, where)
        if w < 1:
            raise EntriesError(f"{where}: weight of instance {inst}: {w!r}: expected >= 1")
    ids = [i for i, _ in weights]
    if len(set(ids)) != len(ids):
        raise EntriesError(f"{where}: instances {ids!r}: expected each once")
    g = reduce(math.gcd, (w for _, w in weights))
    out = [(i, w // g) for i, w in weights]
    for inst, n in out:
        if n > MAX_REPEATS:
            raise EntriesError(
                f"{where}: instance {inst} needs {n} members: expected weights whose ratio "
                f"is at most {MAX_REPEATS}"
            )
    return out


def service_entries(services: Sequence[Service]) -> list[Entity]:
    """Selector members, one group per service, and its din_steer entries."""
    members: dict[int, ActionProfileMember] = {}
    groups: list[Entity] = []
    entries: list[Entity] = []
    seen: set[tuple[int, int, int]] = set()
    for index, svc in enumerate(services):
        where = f"service of model {svc.model_id}"
        if not 0 <= svc.model_id <= 0xFFFF:
            raise EntriesError(f"{where}: model id {svc.model_id!r}: expected 0..65535")
        group = index + 1
        ids = []
        for inst, copies in repeats(svc.weights, where):
            for k in range(copies):
                mid = member_id(inst, k)
                members[mid] = ActionProfileMember(
                    INSTANCE_SELECTOR, mid, "MyIngress.set_instance", (("instance_id", inst),)
                )
                ids.append(mid)
        # max_size 0: no size declared, so later re-weighting may grow the group.
        groups.append(ActionProfileGroup(INSTANCE_SELECTOR, group, tuple((m, 1) for m in ids)))
        if not svc.match:
            raise EntriesError(f"{where}: no (msg_type, stage) to match: expected at least one")
        for msg_type, stage in svc.match:
            if msg_type not in (MSG_REQUEST, MSG_ESCALATION) or not 0 <= stage <= 0xFF:
                raise EntriesError(
                    f"{where}: match ({msg_type!r}, {stage!r}): expected msg_type 1 or 3 "
                    "and stage 0..255"
                )
            if (svc.model_id, msg_type, stage) in seen:
                raise EntriesError(f"{where}: ({msg_type}, {stage}) steered twice")
            seen.add((svc.model_id, msg_type, stage))
            entries.append(
                TableEntry(
                    "MyIngress.din_steer",
                    (
                        ("hdr.din.model_id", Exact(svc.model_id)),
                        ("hdr.din.msg_type", Exact(msg_type)),
                        ("hdr.din.stage", Exact(stage)),
                    ),
                    group_id=group,
                )
            )
    # Members first, then groups, then the entries that point at them.
    return [*(members[m] for m in sorted(members)), *groups, *entries]


def _bitmap(instances: Sequence[int], where: str) -> int:
    bitmap = 0
    for inst in instances:
        _check_id(inst, where)
        bitmap |= 1 << inst
    return bitmap


def policy_entries(policies: Sequence[Policy]) -> list[TableEntry]:
    """tenant_policy: 64-bit bitmaps of allowed instances (bit i = instance i)."""
    out = []
    seen: set[tuple[int, int]] = set()
    for p in policies:
        where = f"policy of tenant {p.tenant_id} sensitivity {p.sensitivity}"
        if not 0 <= p.tenant_id <= 0xFFFF or not 0 <= p.sensitivity <= 0xFF:
            raise EntriesError(f"{where}: expected tenant 0..65535 and sensitivity 0..255")
        if (p.tenant_id, p.sensitivity) in seen:
            raise EntriesError(f"{where}: given twice: expected one per (tenant, sensitivity)")
        seen.add((p.tenant_id, p.sensitivity))
        out.append(
            TableEntry(
                "MyIngress.tenant_policy",
                (
                    ("hdr.din.tenant_id", Exact(p.tenant_id)),
                    ("hdr.din.sensitivity", Exact(p.sensitivity)),
                ),
                "MyIngress.set_allowed",
                (
                    ("allowed", _bitmap(p.allowed, f"{where}: allowed")),
                    ("allowed_raw", _bitmap(p.raw, f"{where}: allowed_raw")),
                ),
            )
        )
    return out


def route_entries(routes: Sequence[Route]) -> list[TableEntry]:
    """ipv4_lpm entries."""
    out = []
    for r in routes:
        where = f"route {r.prefix!r}"
        addr, _, plen_text = r.prefix.partition("/")
        try:
            plen = int(plen_text) if plen_text else 32
        except ValueError:
            raise EntriesError(f"{where}: expected 'a.b.c.d/len'") from None
        if not 0 <= plen <= 32:
            raise EntriesError(f"{where}: prefix length {plen!r}: expected 0..32")
        value = ipv4(addr, where)
        value &= ((1 << plen) - 1) << (32 - plen)
        if not 0 <= r.port <= PORT_MAX:
            raise EntriesError(f"{where}: port {r.port!r}: expected 0..{PORT_MAX}")
        out.append(
            TableEntry(
                "MyIngress.ipv4_lpm",
                (("hdr.ipv4.dst_addr", Lpm(value, plen)),),
                "MyIngress.ipv4_forward",
                (
                    ("dst_mac", mac(r.dst_mac, f"{where} dst_mac")),
                    ("src_mac", mac(r.src_mac, f"{where} src_mac")),
                    ("port", r.port),
                ),
            )
        )
    return out


def plan_entries(plan: Plan) -> list[Entity]:
    """All entities of a plan, in a write order that never dangles."""
    known = {i.instance_id for i in plan.instances}
    for svc in plan.services:
        for inst, _ in svc.weights:
            if inst not in known:
                raise EntriesError(
                    f"service of model {svc.model_id}: instance {inst!r}: expected one of "
                    f"the plan's instances {sorted(known)!r}"
                )
    return [
        *instance_entries(plan.instances),
        *service_entries(plan.services),
        *policy_entries(plan.policies),
        *route_entries(plan.routes),
        *qos_entries(plan.qos),
    ]
