"""Writing a steering plan to one switch: only the difference, in an order that drops nothing.

A :class:`SwitchProgrammer` owns the steering state of one switch: the
``instance_selector`` members and groups, ``din_steer``, and the rows of
``instance_info``, ``instance_addr`` and ``tenant_policy``. It reads that
state once (so a restarted controller neither duplicates nor loses
entries), then writes only what a new plan changes: a re-weighting is a
group MODIFY, never a delete and insert, so the selector hash keeps each
flow on its instance as far as the group's members stay. Phases, each one
Write finished before the next:

1. row inserts and modifies (an instance has its rows before a member points
   at it; policy tightens first);
2. member inserts and modifies; 3. group inserts and modifies;
4. ``din_steer`` inserts and modifies;
5. ``din_steer`` deletes; 6. group deletes; 7. member deletes (what pointed
   at them is gone); 8. row deletes.

:meth:`SwitchProgrammer.add_rows` writes phase 1 alone, so that a caller
programming several switches can give every switch on a request's path the
rows of a new instance (the policy gate checks them) before any switch
steers to it.

May import the standard library, ``controller.entries``, ``controller.p4rt``
and ``controller.install`` (the entry conversion).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from controller import install
from controller.entries import types as et
from controller.entries.schema import INSTANCE_SELECTOR
from controller.p4rt import entities as pe
from controller.p4rt.client import SwitchConnection
from controller.p4rt.p4info import P4InfoIndex
from controller.p4rt.reconcile import diff, normalize

log = logging.getLogger(__name__)

STEER_TABLE = "MyIngress.din_steer"
INFO_TABLE = "MyIngress.instance_info"
ADDR_TABLE = "MyIngress.instance_addr"
POLICY_TABLE = "MyIngress.tenant_policy"
ROW_TABLES = (INFO_TABLE, ADDR_TABLE, POLICY_TABLE)


@dataclass(frozen=True, slots=True)
class WriteReport:
    """What one :meth:`SwitchProgrammer.apply` wrote."""

    switch: str
    inserts: int
    modifies: int
    deletes: int
    writes: int  # Write RPCs
    seconds: float

    @property
    def changed(self) -> bool:
        """Whether anything was written."""
        return bool(self.inserts or self.modifies or self.deletes)


def _phase(update: pe.Update) -> int:
    e, kind = update.entity, update.type
    removing = kind == pe.UpdateType.DELETE
    match e:
        case pe.TableEntry(table=t) if t in ROW_TABLES:
            return 8 if removing else 1
        case pe.ActionProfileMember():
            return 7 if removing else 2
        case pe.ActionProfileGroup():
            return 6 if removing else 3
        case pe.TableEntry():
            return 5 if removing else 4
    raise install.InstallError(f"steering does not write {type(e).__name__}: {e!r}")


def ordered_phases(updates: Sequence[pe.Update]) -> list[list[pe.Update]]:
    """Updates grouped into the write phases above (empty phases left out)."""
    phases: dict[int, list[pe.Update]] = {}
    for u in updates:
        phases.setdefault(_phase(u), []).append(u)
    return [phases[k] for k in sorted(phases)]


class SwitchProgrammer:
    """The steering entries of one switch: read once, then written as differences."""

    def __init__(self, conn: SwitchConnection) -> None:
        """Program ``conn``'s switch (its P4Info is fetched when not loaded)."""
        self.conn = conn
        self._lock = threading.Lock()
        self._installed: dict[object, pe.Entity] | None = None
        self.writes_total = 0

    @property
    def name(self) -> str:
        """The switch's name."""
        return self.conn.name

    def _index(self) -> P4InfoIndex:
        return self.conn.index if self.conn.index is not None else self.conn.load_index()

    def read(self) -> list[pe.Entity]:
        """Read the switch's steering entries (and remember them as installed)."""
        queries: list[pe.Entity] = [
            pe.TableEntry(STEER_TABLE),
            pe.TableEntry(INFO_TABLE),
            pe.TableEntry(ADDR_TABLE),
            pe.TableEntry(POLICY_TABLE),
            pe.ActionProfileMember(INSTANCE_SELECTOR, 0),
            pe.ActionProfileGroup(INSTANCE_SELECTOR, 0),
        ]
        got = [
            e
            for e in self.conn.read_entities(queries)
            if not (isinstance(e, pe.TableEntry) and e.is_default)
        ]
        with self._lock:
            self._installed = {e.key(): e for e in got}
        return got

    def installed(self) -> list[pe.Entity]:
        """The steering entries as last read or written."""
        with self._lock:
            return list((self._installed or {}).values())

    def apply(self, entities: Sequence[et.Entity]) -> WriteReport:
        """Make the switch's steering entries equal ``entities``; only differences are written."""
        return self._write(entities, rows_only=False)

    def add_rows(self, entities: Sequence[et.Entity]) -> WriteReport:
        """Insert and modify the rows ``entities`` hold (phase 1); nothing is deleted."""
        return self._write(entities, rows_only=True)

    def _write(self, entities: Sequence[et.Entity], *, rows_only: bool) -> WriteReport:
        start = time.perf_counter()
        if self._installed is None:
            self.read()
        index = self._index()
        intended = [normalize(index, e) for e in install.convert(entities, index)]
        if rows_only:
            intended = [
                e for e in intended if isinstance(e, pe.TableEntry) and e.table in ROW_TABLES
            ]
        d = diff(intended, self.installed(), index=index, prune=not rows_only)
        updates = [*pe.inserts(d.inserts), *pe.modifies(d.modifies), *pe.deletes(d.deletes)]
        writes = 0
        try:
            for phase in ordered_phases(updates):
                self.conn.write(phase, stop_on_error=True)
                writes += 1
        except Exception:
            # The switch holds part of the plan: read what it holds before the next try.
            with self._lock:
                self._installed = None
            raise
        with self._lock:
            if rows_only:
                self._installed = {**(self._installed or {}), **{e.key(): e for e in intended}}
            else:
                self._installed = {e.key(): e for e in intended}
        self.writes_total += writes
        report = WriteReport(
            self.name,
            len(d.inserts),
            len(d.modifies),
            len(d.deletes),
            writes,
            time.perf_counter() - start,
        )
        if report.changed:
            log.debug(
                "%s: steering written: %d inserts, %d modifies, %d deletes in %d writes, %.1f ms",
                self.name,
                report.inserts,
                report.modifies,
                report.deletes,
                writes,
                report.seconds * 1e3,
            )
        return report


def _exact(e: pe.TableEntry, field: str) -> int | None:
    m = e.match_dict().get(field)
    return m.value if isinstance(m, pe.Exact) else None


def summarize(entities: Sequence[pe.Entity]) -> dict[str, object]:
    """A switch's steering entries read back, as JSON-ready data for ``dinctl status``.

    ``services``: per din_steer entry its (model, msg_type, stage) and the
    group's instances with their weights (members repeated per instance);
    ``instances``: the instance_info rows; ``policies``: tenant_policy rows (instances
    allowed for activations and for raw inputs).
    """
    members: dict[int, int] = {}
    groups: dict[int, dict[int, int]] = {}
    for e in entities:
        if isinstance(e, pe.ActionProfileMember) and e.action is not None:
            members[e.member_id] = dict(e.params).get("instance_id", 0)
    for e in entities:
        if isinstance(e, pe.ActionProfileGroup):
            weights: dict[int, int] = {}
            for mid, w in e.members:
                inst = members.get(mid, 0)
                weights[inst] = weights.get(inst, 0) + max(1, w)
            groups[e.group_id] = dict(sorted(weights.items()))
    services, instances, policies = [], [], []
    for e in entities:
        if not isinstance(e, pe.TableEntry) or e.is_default:
            continue
        if e.table == STEER_TABLE:
            services.append(
                {
                    "model_id": _exact(e, "hdr.din.model_id"),
                    "msg_type": _exact(e, "hdr.din.msg_type"),
                    "stage": _exact(e, "hdr.din.stage"),
                    "group_id": e.group_id,
                    "weights": {str(i): w for i, w in groups.get(e.group_id or 0, {}).items()},
                }
            )
        elif e.table == INFO_TABLE:
            p = dict(e.params)
            addr = p.get("addr", 0)
            instances.append(
                {
                    "instance_id": _exact(e, "meta.steer.instance_id"),
                    "addr": ".".join(str((addr >> s) & 0xFF) for s in (24, 16, 8, 0)),
                    "backup_id": p.get("backup_id", 0),
                    "stale_after_us": p.get("stale_after_us", 0),
                }
            )
        elif e.table == POLICY_TABLE:
            params = dict(e.params)
            bitmap, raw = params.get("allowed", 0), params.get("allowed_raw", 0)
            policies.append(
                {
                    "tenant": _exact(e, "hdr.din.tenant_id"),
                    "sensitivity": _exact(e, "hdr.din.sensitivity"),
                    "allowed": [i for i in range(64) if bitmap >> i & 1],
                    "allowed_raw": [i for i in range(64) if raw >> i & 1],
                }
            )
    return {
        "services": sorted(services, key=_order),
        "instances": sorted(instances, key=_order),
        "policies": sorted(policies, key=_order),
    }


def _order(row: Mapping[str, object]) -> tuple[int, ...]:
    return tuple(v if isinstance(v, int) else 0 for v in row.values())
