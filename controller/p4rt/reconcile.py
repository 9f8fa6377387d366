"""Difference between intended and current switch state, as ordered updates.

After a switch restart (empty tables) or a controller restart (tables still
full) the controller reads what the switch holds and writes only the
difference: missing entries are inserted, changed ones modified, stale ones
deleted, so the intended state comes back without duplicates or losses.
Pure: may import the standard library and the lower layers of
``controller.p4rt`` (:mod:`errors`, :mod:`p4info`, :mod:`entities`); no grpc.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from controller.p4rt.entities import (
    ActionProfileGroup,
    ActionProfileMember,
    CloneSessionEntry,
    CounterEntry,
    DigestEntry,
    DirectCounterEntry,
    Entity,
    MeterEntry,
    MulticastGroupEntry,
    RegisterEntry,
    TableEntry,
    Update,
    UpdateType,
    entity_from_proto,
)
from controller.p4rt.errors import ReconcileError
from controller.p4rt.p4info import P4InfoIndex

logger = logging.getLogger(__name__)

# Write order: what others refer to goes in first and out last. Table entries
# refer to members and groups, groups refer to members, and table actions may
# refer to multicast groups and clone sessions by id.
_RANK: dict[type, int] = {
    MulticastGroupEntry: 0,
    CloneSessionEntry: 0,
    DigestEntry: 0,
    ActionProfileMember: 1,
    ActionProfileGroup: 2,
    MeterEntry: 3,
    RegisterEntry: 3,
    TableEntry: 4,
}

# Cells of counters, meters and registers always exist: they can be modified,
# never inserted or deleted. Counter values are state, not configuration.
_CELLS = (MeterEntry, RegisterEntry)
_IGNORED = (CounterEntry, DirectCounterEntry)


@dataclass(frozen=True, slots=True)
class Diff:
    """What to write to move a switch from its current to its intended state."""

    inserts: tuple[Entity, ...] = ()
    modifies: tuple[Entity, ...] = ()
    deletes: tuple[Entity, ...] = ()

    def __bool__(self) -> bool:
        """Whether there is anything to write."""
        return bool(self.inserts or self.modifies or self.deletes)

    def updates(self) -> list[Update]:
        """Return the updates in a safe order: referents first in, last out."""
        ups = [Update(UpdateType.INSERT, e) for e in self.inserts]
        ups += [Update(UpdateType.MODIFY, e) for e in self.modifies]
        ups.sort(key=lambda u: _RANK.get(type(u.entity), 5))
        dels = [Update(UpdateType.DELETE, e) for e in self.deletes]
        dels.sort(key=lambda u: -_RANK.get(type(u.entity), 5))
        return ups + dels

    def summary(self) -> str:
        """Return counts as 'N inserts, N modifies, N deletes'."""
        return (
            f"{len(self.inserts)} inserts, {len(self.modifies)} modifies, "
            f"{len(self.deletes)} deletes"
        )


def normalize(index: P4InfoIndex, entity: Entity) -> Entity:
    """Return ``entity`` as a switch would read it back: full names, no don't-care fields."""
    return entity_from_proto(index, entity.to_proto(index))


def _by_key(entities: Iterable[Entity], what: str) -> dict[Any, Entity]:
    out: dict[Any, Entity] = {}
    for e in entities:
        k = e.key()
        old = out.get(k)
        if old is not None and old != e:
            raise ReconcileError(
                f"{what} state holds two different entities with the same key {k!r}: "
                f"{old!r} and {e!r}; expected one per key"
            )
        out[k] = e
    return out


def diff(
    intended: Iterable[Entity],
    current: Iterable[Entity],
    *,
    index: P4InfoIndex | None = None,
    prune: bool = True,
    keep: Callable[[Entity], bool] | None = None,
) -> Diff:
    """Compute the updates that turn ``current`` (a Read result) into ``intended``.

    With ``index``, intended entities are normalized first (aliases, don't
    care fields) and entries of const tables are never deleted. With
    ``prune`` False, nothing is deleted; ``keep`` protects chosen current
    entities from deletion. Default entries and register/meter cells are only
    modified, never inserted or deleted.
    """
    wanted_list: list[Entity] = [e for e in intended if not isinstance(e, _IGNORED)]
    if index is not None:
        wanted_list = [normalize(index, e) for e in wanted_list]
    wanted = _by_key(wanted_list, "intended")
    have = _by_key((e for e in current if not isinstance(e, _IGNORED)), "current")

    inserts: list[Entity] = []
    modifies: list[Entity] = []
    deletes: list[Entity] = []
    for k, e in wanted.items():
        old = have.get(k)
        only_modify = isinstance(e, _CELLS) or (isinstance(e, TableEntry) and e.is_default)
        if old is None:
            (modifies if only_modify else inserts).append(e)
        elif old != e:
            modifies.append(e)
    if prune:
        for k, e in have.items():
            if k in wanted or isinstance(e, _CELLS):
                continue
            if isinstance(e, TableEntry) and (
                e.is_default or e.is_const or (index is not None and index.table(e.table).is_const)
            ):
                continue
            if keep is not None and keep(e):
                continue
            deletes.append(e)
    result = Diff(tuple(inserts), tuple(modifies), tuple(deletes))
    logger.debug("reconcile: %s", result.summary())
    return result


def wildcard_reads(index: P4InfoIndex, *, include_defaults: bool = False) -> list[Entity]:
    """Return wildcard read queries covering the writable state a diff needs.

    Every table's entries, every action profile's members and groups (id 0
    means all), every multicast group and every clone session; with
    ``include_defaults`` also each table's default entry (without it,
    intended default entries are re-sent as a MODIFY on every sync).
    """
    tables = [t for t in index.tables if not t.is_const]
    queries: list[Entity] = [TableEntry(t.name) for t in tables]
    if include_defaults:
        queries += [TableEntry(t.name, is_default=True) for t in tables]
    for p in index.action_profiles:
        queries.append(ActionProfileMember(p.name, 0))
        if p.with_selector:
            queries.append(ActionProfileGroup(p.name, 0))
    queries.append(MulticastGroupEntry(0))
    queries.append(CloneSessionEntry(0))
    return queries
