"""Ordered writes for a model version switch-over (README: "Model changes are table
writes under a new model version, switched over atomically").

Insert everything of the new version, then modify ``active_model_version``,
then delete the old version's entries: no packet sees half a model. Pure:
imports the standard library and this package only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from controller.entries.errors import EntriesError
from controller.entries.mlp import active_version_entry
from controller.entries.types import ActionProfileGroup, ActionProfileMember, Entity, TableEntry

log = logging.getLogger(__name__)

UPDATE_KINDS = ("insert", "modify", "delete")


@dataclass(frozen=True, slots=True)
class Update:
    """One write: ``kind`` is insert, modify or delete (P4Runtime Update.Type names)."""

    kind: str
    entity: Entity

    def __post_init__(self) -> None:
        """Check the kind."""
        if self.kind not in UPDATE_KINDS:
            raise EntriesError(f"update kind {self.kind!r}: expected one of {UPDATE_KINDS!r}")


def _version_of(entry: TableEntry) -> int | None:
    m = entry.match_dict().get("hdr.din.model_version")
    return getattr(m, "value", None)


def switch_over(
    model_id: int,
    new_version: int,
    new_entries: Iterable[Entity],
    old_entries: Iterable[Entity] = (),
    first_time: bool = False,
) -> list[Update]:
    """Inserts of the new version, the ``active_model_version`` change, old deletions.

    ``first_time`` inserts the ``active_model_version`` entry instead of
    modifying it. Entries of other versions among ``new_entries`` are refused,
    and so are entries of the new version among ``old_entries``.
    """
    new = list(new_entries)
    old = list(old_entries)
    where = f"switch-over of model {model_id} to version {new_version}"
    for e in new:
        if isinstance(e, TableEntry) and _version_of(e) not in (None, new_version):
            raise EntriesError(
                f"{where}: new entry of {e.table!r} has model_version "
                f"{_version_of(e)!r}: expected {new_version}"
            )
    for e in old:
        if isinstance(e, TableEntry) and _version_of(e) == new_version:
            raise EntriesError(
                f"{where}: old entry of {e.table!r} has the new model_version {new_version}"
            )
    ops = [Update("insert", e) for e in new]
    switch = active_version_entry(model_id, new_version)
    ops.append(Update("insert" if first_time else "modify", switch))
    # Delete in the reverse of the insert order: table entries before the
    # groups and members they point at.
    rank = {TableEntry: 0, ActionProfileGroup: 1, ActionProfileMember: 2}
    ops.extend(Update("delete", e) for e in sorted(old, key=lambda e: rank[type(e)]))
    log.info(
        "switch-over of model %d to version %d: %d inserts, %d deletes",
        model_id,
        new_version,
        len(new),
        len(old),
    )
    return ops
