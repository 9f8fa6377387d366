"""Pure translation of models and plans into din.p4 entries (no gRPC, no P4Runtime).

Modules: ``types`` (frozen entry values by P4Info name), ``schema`` (din.p4's
tables and actions, checked against p4src by a test), ``mlp``, ``classifier``,
``steering`` (entry builders), ``runtime_json`` (tutorials ``sN-runtime.json``),
``simulator`` (evaluates entries with din.p4's integer arithmetic), ``values``
(IPv4 / MAC / int text), ``updates`` (version switch-over order). May import
the standard library, numpy and controller.models only.
"""

from controller.entries.errors import EntriesError
from controller.entries.types import (
    ActionProfileGroup,
    ActionProfileMember,
    Entity,
    Exact,
    Lpm,
    Match,
    Range,
    TableEntry,
    Ternary,
    count_by_table,
)

__all__ = [
    "ActionProfileGroup",
    "ActionProfileMember",
    "Entity",
    "EntriesError",
    "Exact",
    "Lpm",
    "Match",
    "Range",
    "TableEntry",
    "Ternary",
    "count_by_table",
]
