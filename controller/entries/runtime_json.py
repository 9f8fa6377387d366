"""Read and write the p4lang/tutorials ``sN-runtime.json`` format for din.p4 entries.

``{"target": "bmv2", "p4info": ..., "bmv2_json": ..., "table_entries": [...]}``;
an entry has ``table``, ``match`` (exact: value, lpm: [value, plen], ternary:
[value, mask], range: [low, high]), ``action_name``, ``action_params``,
``priority``, or ``default_action: true``. Values are ints or the usual strings
("10.0.0.1", "08:00:00:00:01:11", "0x1f"). Reading checks every entry against
din.p4 (schema) and names the JSON path of anything wrong. Imports the
standard library and this package only.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller.entries.errors import EntriesError
from controller.entries.schema import ACTIONS, check_entry, table
from controller.entries.types import Entity, Exact, Lpm, Match, Range, TableEntry, Ternary
from controller.entries.values import parse_value

log = logging.getLogger(__name__)

TOP_KEYS = ("target", "p4info", "bmv2_json", "table_entries")
# Kept as they are: the tutorials' other sections, which carry no table entries.
PASS_THROUGH = ("multicast_group_entries", "clone_session_entries")
ENTRY_KEYS = ("table", "match", "action_name", "action_params", "priority", "default_action")


@dataclass(frozen=True, slots=True)
class RuntimeFile:
    """The content of an ``sN-runtime.json`` file."""

    target: str
    p4info: str
    bmv2_json: str
    entries: tuple[TableEntry, ...]
    extra: Mapping[str, Any] = field(default_factory=dict)


def _text(name: str, bits: int, value: int) -> int | str:
    # Addresses read better as text; everything else stays an int.
    last = name.rsplit(".", 1)[-1]
    if bits == 32 and last.endswith("addr"):
        return ".".join(str(value >> s & 0xFF) for s in (24, 16, 8, 0))
    if bits == 48 and last.endswith("mac"):
        return ":".join(f"{value >> s & 0xFF:02x}" for s in range(40, -8, -8))
    return value


def _match_json(name: str, bits: int, m: Match) -> Any:
    match m:
        case Exact(v):
            return _text(name, bits, v)
        case Lpm(v, plen):
            return [_text(name, bits, v), plen]
        case Ternary(v, mask):
            return [_text(name, bits, v), mask]
        case Range(lo, hi):
            return [lo, hi]


def entry_json(entry: TableEntry) -> dict[str, Any]:
    """One entry as a tutorials ``table_entries`` item."""
    if entry.action is None:
        raise EntriesError(
            f"entry of {entry.table!r}: member_id / group_id entries have no "
            "sN-runtime.json form; expected an action"
        )
    spec = table(entry.table)
    out: dict[str, Any] = {"table": entry.table}
    if entry.is_default:
        out["default_action"] = True
    else:
        out["match"] = {name: _match_json(name, spec.key(name).bits, m) for name, m in entry.match}
    out["action_name"] = entry.action
    widths = dict(ACTIONS[entry.action].params) if entry.action in ACTIONS else {}
    out["action_params"] = {
        name: _text(name, widths.get(name, 0), value) for name, value in entry.params
    }
    if entry.priority:
        out["priority"] = entry.priority
    return out


def dumps(
    entries: Iterable[Entity],
    p4info: str = "build/din.p4info.txtpb",
    bmv2_json: str = "build/din.json",
    target: str = "bmv2",
) -> str:
    """Entries as the text of an ``sN-runtime.json`` (table entries only)."""
    items = []
    for e in entries:
        if not isinstance(e, TableEntry):
            raise EntriesError(
                f"{type(e).__name__} of {e.profile!r}: action profile objects have no "
                "sN-runtime.json form; expected table entries"
            )
        items.append(entry_json(e))
        check_entry(e)
    doc = {"target": target, "p4info": p4info, "bmv2_json": bmv2_json, "table_entries": items}
    return json.dumps(doc, indent=2) + "\n"


def write(path: str | os.PathLike[str], entries: Iterable[Entity], **kwargs: str) -> None:
    """Write ``dumps(entries, **kwargs)`` to ``path``."""
    Path(path).write_text(dumps(entries, **kwargs))


def _pair(value: object, where: str, what: str) -> tuple[object, object]:
    if not isinstance(value, list) or len(value) != 2:
        raise EntriesError(f"{where}: {value!r}: expected {what}")
    return value[0], value[1]


def _read_match(where: str, kind: str, value: object) -> Match:
    if kind == "exact":
        if isinstance(value, list):
            raise EntriesError(f"{where}: {value!r}: expected one value (exact match)")
        return Exact(parse_value(value, where))
    if kind == "lpm":
        v, plen = _pair(value, where, "[value, prefix_len] (lpm match)")
        return Lpm(parse_value(v, where), parse_value(plen, f"{where}[1]"))
    if kind == "ternary":
        v, mask = _pair(value, where, "[value, mask] (ternary match)")
        return Ternary(parse_value(v, where), parse_value(mask, f"{where}[1]"))
    if kind == "range":
        lo, hi = _pair(value, where, "[low, high] (range match)")
        return Range(parse_value(lo, where), parse_value(hi, f"{where}[1]"))
    raise EntriesError(f"{where}: a {kind} key cannot be given in sN-runtime.json")


def _read_entry(item: object, where: str) -> TableEntry:
    if not isinstance(item, dict):
        raise EntriesError(f"{where}: {item!r}: expected an object")
    unknown = sorted(set(item) - set(ENTRY_KEYS))
    if unknown:
        raise EntriesError(f"{where}: unknown key {unknown[0]!r}: expected {list(ENTRY_KEYS)!r}")
    name = item.get("table")
    if not isinstance(name, str):
        raise EntriesError(f"{where}.table: {name!r}: expected a table name")
    try:
        spec = table(name)
    except EntriesError as exc:
        raise EntriesError(f"{where}.table: {exc}") from None
    is_default = item.get("default_action", False)
    if not isinstance(is_default, bool):
        raise EntriesError(f"{where}.default_action: {is_default!r}: expected true or false")
    action = item.get("action_name")
    if not isinstance(action, str):
        raise EntriesError(f"{where}.action_name: {action!r}: expected an action name")
    raw_params = item.get("action_params", {})
    if not isinstance(raw_params, dict):
        raise EntriesError(f"{where}.action_params: {raw_params!r}: expected an object")
    params = tuple(
        (str(k), parse_value(v, f"{where}.action_params.{k}")) for k, v in raw_params.items()
    )
    priority = item.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int) or priority < 0:
        raise EntriesError(f"{where}.priority: {priority!r}: expected a non-negative int")
    raw_match = item.get("match", {})
    if not isinstance(raw_match, dict):
        raise EntriesError(f"{where}.match: {raw_match!r}: expected an object")
    if is_default and raw_match:
        raise EntriesError(f"{where}.match: a default_action entry takes no match")
    match = []
    for fname, value in raw_match.items():
        fwhere = f"{where}.match.{fname}"
        try:
            key = spec.key(fname)
        except EntriesError as exc:
            raise EntriesError(f"{fwhere}: {exc}") from None
        match.append((fname, _read_match(fwhere, key.kind, value)))
    entry = TableEntry(name, tuple(match), action, params, priority, is_default)
    check_entry(entry, where)
    return entry


def loads(text: str, source: str = "<string>") -> RuntimeFile:
    """Parse and check the text of an ``sN-runtime.json``; errors start with ``source``."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EntriesError(f"{source}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    if not isinstance(doc, dict):
        raise EntriesError(f"{source}: {type(doc).__name__}: expected a JSON object")
    unknown = sorted(set(doc) - set(TOP_KEYS) - set(PASS_THROUGH))
    if unknown:
        raise EntriesError(
            f"{source}: unknown key {unknown[0]!r}: expected {[*TOP_KEYS, *PASS_THROUGH]!r}"
        )
    strings = {}
    for key, default in (("target", "bmv2"), ("p4info", ""), ("bmv2_json", "")):
        value = doc.get(key, default)
        if not isinstance(value, str):
            raise EntriesError(f"{source}: {key}: {value!r}: expected a string")
        strings[key] = value
    if strings["target"] != "bmv2":
        raise EntriesError(f"{source}: target: {strings['target']!r}: expected 'bmv2'")
    items = doc.get("table_entries", [])
    if not isinstance(items, list):
        raise EntriesError(f"{source}: table_entries: {items!r}: expected a list")
    entries = []
    for i, item in enumerate(items):
        where = f"{source}: table_entries[{i}]"
        try:
            entries.append(_read_entry(item, where))
        except EntriesError as exc:
            msg = str(exc)
            raise EntriesError(msg if msg.startswith(where) else f"{where}: {msg}") from None
    extra = {k: doc[k] for k in PASS_THROUGH if k in doc}
    return RuntimeFile(
        strings["target"], strings["p4info"], strings["bmv2_json"], tuple(entries), extra
    )


def read(path: str | os.PathLike[str]) -> RuntimeFile:
    """Read and check an ``sN-runtime.json`` file."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise EntriesError(f"{p}: cannot read: {exc.strerror}") from None
    return loads(text, p.name)
