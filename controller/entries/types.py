"""Frozen entry values by P4Info name: matches, table entries, action profile objects.

Field names follow controller.p4rt.entities (``table``, ``match``, ``action``,
``params``, ``priority``, ``is_default``, ``member_id``, ``group_id``) so that a
conversion to P4Runtime is one constructor call. Values are plain ints.
Imports the standard library only.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from controller.entries.errors import EntriesError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Exact:
    """Exact match on ``value``."""

    value: int


@dataclass(frozen=True, slots=True)
class Lpm:
    """Longest-prefix match: ``value`` with ``prefix_len`` leading bits."""

    value: int
    prefix_len: int


@dataclass(frozen=True, slots=True)
class Ternary:
    """Ternary match: bits set in ``mask`` must equal those of ``value``."""

    value: int
    mask: int


@dataclass(frozen=True, slots=True)
class Range:
    """Range match, both ends inclusive."""

    low: int
    high: int


Match = Exact | Lpm | Ternary | Range


@dataclass(frozen=True, slots=True)
class TableEntry:
    """One table entry (or, with ``is_default``, a table's default action)."""

    table: str
    match: tuple[tuple[str, Match], ...] = ()
    action: str | None = None
    params: tuple[tuple[str, int], ...] = ()
    priority: int = 0
    is_default: bool = False
    member_id: int | None = None
    group_id: int | None = None

    def __post_init__(self) -> None:
        """Sort match fields and params by name; check the action, member or group."""
        # Sorted like controller.p4rt.entities.TableEntry, so equality ignores order.
        object.__setattr__(self, "match", tuple(sorted(self.match, key=lambda kv: kv[0])))
        object.__setattr__(self, "params", tuple(sorted(self.params, key=lambda kv: kv[0])))
        refs = sum(x is not None for x in (self.action, self.member_id, self.group_id))
        if refs != 1:
            raise EntriesError(
                f"table entry for {self.table!r}: action {self.action!r}, member_id "
                f"{self.member_id!r}, group_id {self.group_id!r}: expected exactly one"
            )
        if self.is_default and (self.match or self.priority):
            raise EntriesError(
                f"default entry for {self.table!r}: match {self.match!r}, priority "
                f"{self.priority!r}: expected no match and priority 0"
            )

    def match_dict(self) -> dict[str, Match]:
        """The match as a dict from field name to match value."""
        return dict(self.match)

    def param_dict(self) -> dict[str, int]:
        """The action parameters as a dict."""
        return dict(self.params)


@dataclass(frozen=True, slots=True)
class ActionProfileMember:
    """A member of an action profile or selector: one action with its parameters."""

    profile: str
    member_id: int
    action: str
    params: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        """Sort params by name."""
        object.__setattr__(self, "params", tuple(sorted(self.params, key=lambda kv: kv[0])))


@dataclass(frozen=True, slots=True)
class ActionProfileGroup:
    """A group of an action selector: ``members`` as (member_id, weight) pairs."""

    profile: str
    group_id: int
    members: tuple[tuple[int, int], ...] = ()
    max_size: int = 0


Entity = TableEntry | ActionProfileMember | ActionProfileGroup


def twos(value: int, bits: int, what: str) -> int:
    """Signed ``value`` as the two's complement of ``bits`` bits (checked to fit)."""
    lo, hi = -(1 << (bits - 1)), (1 << bits) - 1
    if not lo <= value <= hi:
        raise EntriesError(f"{what}: value {value!r} does not fit {bits} bits")
    return value & ((1 << bits) - 1)


def count_by_table(entries: Iterable[Entity]) -> dict[str, int]:
    """Number of entities per table or action profile, for reports."""
    counts: Counter[str] = Counter()
    for e in entries:
        counts[e.table if isinstance(e, TableEntry) else e.profile] += 1
    return dict(sorted(counts.items()))
