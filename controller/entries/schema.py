"""The din.p4 tables this package fills: keys, match kinds, widths, actions.

This mirrors p4src/din.p4 and p4src/include/*.p4 by hand (a unit test parses
the P4 source and compares), so that entries can be checked without a P4Info.
Imports the standard library only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

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
)

log = logging.getLogger(__name__)

# Order and widths of meta.feat.* (p4src/include/headers.p4, flow_features_t).
FEATURES: tuple[tuple[str, int], ...] = (
    ("pkt_len", 16),
    ("service_port", 16),
    ("iat", 32),
    ("pkts", 32),
    ("bytes", 32),
    ("duration", 32),
    ("iat_min", 32),
    ("iat_max", 32),
    ("iat_ewma", 32),
    ("size_min", 16),
    ("size_max", 16),
    ("tcp_flags", 8),
)
FEATURE_NAMES = tuple(name for name, _ in FEATURES)
MLP_WIDTH = 16  # values in the DIN vector, outputs per layer
NUM_TREES = 4
NUM_CLASSES = 8
MAX_INSTANCES = 64
INSTANCE_SELECTOR = "MyIngress.instance_selector"

CLS = "MyIngress.classifier."
MLP = "MyIngress.mlp."


@dataclass(frozen=True, slots=True)
class KeyField:
    """One key field of a table."""

    name: str
    kind: str  # exact, lpm, ternary, range, selector
    bits: int


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """An action with its parameters (name, bits) in declaration order."""

    name: str
    params: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class TableSpec:
    """A table: key fields, allowed actions, and the action profile if any."""

    name: str
    keys: tuple[KeyField, ...]
    actions: tuple[str, ...]
    size: int
    implementation: str | None = None

    @property
    def needs_priority(self) -> bool:
        """Whether entries need a priority (a ternary or range key)."""
        return any(k.kind in ("ternary", "range") for k in self.keys)

    def key(self, name: str) -> KeyField:
        """The key field called ``name``."""
        for field in self.keys:
            if field.name == name:
                return field
        raise EntriesError(
            f"table {self.name!r}: no key field {name!r}; expected one of "
            f"{[k.name for k in self.keys]!r}"
        )


def _actions() -> dict[str, ActionSpec]:
    out = [
        ActionSpec("NoAction"),
        ActionSpec("MyIngress.drop"),
        ActionSpec("MyIngress.ipv4_forward", (("dst_mac", 48), ("src_mac", 48), ("port", 9))),
        ActionSpec("MyIngress.set_dscp", (("dscp", 6),)),
        ActionSpec("MyIngress.set_model_version", (("version", 8),)),
        ActionSpec("MyIngress.set_mlp_role", (("mode", 8), ("head_layer", 8), ("num_classes", 8))),
        ActionSpec("MyIngress.set_exit_threshold", (("min_confidence", 8),)),
        ActionSpec("MyIngress.set_instance", (("instance_id", 16),)),
        ActionSpec(
            "MyIngress.set_instance_info",
            (("addr", 32), ("backup_id", 16), ("backup_addr", 32), ("stale_after_us", 48)),
        ),
        ActionSpec("MyIngress.instance_unknown"),
        ActionSpec("MyIngress.set_allowed", (("allowed", 64), ("allowed_raw", 64))),
        ActionSpec("MyIngress.set_dst_instance", (("instance_id", 16),)),
        ActionSpec("MyIngress.dst_unknown"),
        ActionSpec(CLS + "set_classifier", (("cls_model", 8),)),
        ActionSpec(CLS + "classifier_off"),
        ActionSpec(CLS + "tree_vote", tuple((f"s{c}", 8) for c in range(NUM_CLASSES))),
        ActionSpec(MLP + "set_bias", (("shift", 8), *((f"b{j}", 32) for j in range(MLP_WIDTH)))),
        ActionSpec(MLP + "layer_missing"),
        ActionSpec(MLP + "accumulate", tuple((f"p{j}", 32) for j in range(MLP_WIDTH))),
    ]
    for feat, _ in FEATURES:
        out.append(ActionSpec(f"{CLS}set_bin_{feat}", (("bin", 8),)))
        out.append(
            ActionSpec(f"{CLS}set_codes_{feat}", tuple((f"t{t}", 16) for t in range(NUM_TREES)))
        )
    return {a.name: a for a in out}


def _tables() -> dict[str, TableSpec]:
    model = (KeyField("hdr.din.model_id", "exact", 16),)
    version = (KeyField("hdr.din.model_version", "exact", 8),)
    cls_model = KeyField("meta.cls.cls_model", "exact", 8)
    layer = KeyField("meta.mlp.layer", "exact", 8)
    out = [
        TableSpec(
            "MyIngress.ipv4_lpm",
            (KeyField("hdr.ipv4.dst_addr", "lpm", 32),),
            ("MyIngress.ipv4_forward", "MyIngress.drop"),
            1024,
        ),
        TableSpec(
            "MyIngress.class_qos",
            (KeyField("meta.cls.flow_class", "exact", 8),),
            ("MyIngress.set_dscp", "NoAction"),
            16,
        ),
        TableSpec(
            "MyIngress.active_model_version",
            model,
            ("MyIngress.set_model_version", "NoAction"),
            256,
        ),
        TableSpec(
            "MyIngress.mlp_role",
            (*model, *version, KeyField("hdr.din.stage", "exact", 8)),
            ("MyIngress.set_mlp_role", "NoAction"),
            1024,
        ),
        TableSpec(
            "MyIngress.exit_threshold",
            (*model, *version, KeyField("meta.exit_class", "exact", 8)),
            ("MyIngress.set_exit_threshold", "NoAction"),
            1024,
        ),
        TableSpec(
            "MyIngress.din_steer",
            (
                *model,
                KeyField("hdr.din.msg_type", "exact", 4),
                KeyField("hdr.din.stage", "exact", 8),
                KeyField("hdr.ipv4.src_addr", "selector", 32),
                KeyField("hdr.udp.src_port", "selector", 16),
            ),
            ("MyIngress.set_instance", "NoAction"),
            1024,
            INSTANCE_SELECTOR,
        ),
        TableSpec(
            "MyIngress.instance_info",
            (KeyField("meta.steer.instance_id", "exact", 16),),
            ("MyIngress.set_instance_info", "MyIngress.instance_unknown"),
            64,
        ),
        TableSpec(
            "MyIngress.tenant_policy",
            (
                KeyField("hdr.din.tenant_id", "exact", 16),
                KeyField("hdr.din.sensitivity", "exact", 8),
            ),
            ("MyIngress.set_allowed",),
            1024,
        ),
        TableSpec(
            "MyIngress.instance_addr",
            (KeyField("hdr.ipv4.dst_addr", "exact", 32),),
            ("MyIngress.set_dst_instance", "MyIngress.dst_unknown"),
            64,
        ),
        TableSpec(
            CLS + "classifier_phase",
            (KeyField("meta.feat.pkts", "range", 32),),
            (CLS + "set_classifier", CLS + "classifier_off"),
            16,
        ),
        TableSpec(
            MLP + "mlp_bias",
            (*model, *version, layer),
            (MLP + "set_bias", MLP + "layer_missing"),
            256,
        ),
    ]
    for i in range(MLP_WIDTH):
        out.append(
            TableSpec(
                f"{MLP}mlp_in_{i}",
                (*model, *version, layer, KeyField(f"hdr.din_vec.v{i}", "exact", 8)),
                (MLP + "accumulate", "NoAction"),
                4096,
            )
        )
    for feat, bits in FEATURES:
        out.append(
            TableSpec(
                f"{CLS}quant_{feat}",
                (cls_model, KeyField(f"meta.feat.{feat}", "range", bits)),
                (f"{CLS}set_bin_{feat}",),
                256,
            )
        )
        out.append(
            TableSpec(
                f"{CLS}code_{feat}",
                (cls_model, KeyField(f"meta.bin.{feat}", "exact", 8)),
                (f"{CLS}set_codes_{feat}",),
                512,
            )
        )
    for t in range(NUM_TREES):
        keys = (cls_model, *(KeyField(f"meta.c{t}.{f}", "ternary", 16) for f in FEATURE_NAMES))
        out.append(TableSpec(f"{CLS}tree_{t}", keys, (CLS + "tree_vote", "NoAction"), 1024))
    return {t.name: t for t in out}


ACTIONS: dict[str, ActionSpec] = _actions()
TABLES: dict[str, TableSpec] = _tables()
PROFILES: dict[str, str] = {INSTANCE_SELECTOR: "MyIngress.din_steer"}


def table(name: str) -> TableSpec:
    """The table called ``name`` (a P4Info name)."""
    try:
        return TABLES[name]
    except KeyError:
        raise EntriesError(f"table {name!r}: not a table of din.p4") from None


def _fits(value: int, bits: int) -> bool:
    return 0 <= value < (1 << bits)


def _check_match(where: str, key: KeyField, m: Match) -> None:
    def bad(what: str, value: int) -> EntriesError:
        return EntriesError(f"{where}: {what} {value!r} does not fit bit<{key.bits}>")

    kinds = {"exact": Exact, "lpm": Lpm, "ternary": Ternary, "range": Range}
    expected = kinds.get(key.kind)
    if expected is None or not isinstance(m, expected):
        raise EntriesError(f"{where}: match {m!r}: expected a {key.kind} match")
    match m:
        case Exact(value):
            if not _fits(value, key.bits):
                raise bad("value", value)
        case Lpm(value, plen):
            if not _fits(value, key.bits):
                raise bad("value", value)
            if not 0 <= plen <= key.bits:
                raise EntriesError(f"{where}: prefix length {plen!r}: expected 0..{key.bits}")
            host = value & ((1 << (key.bits - plen)) - 1)
            if host:
                # P4Runtime rejects an lpm value with bits set beyond its prefix.
                raise EntriesError(
                    f"{where}: value {value:#x} has bits beyond prefix length {plen}: "
                    f"expected {value & ~host:#x}"
                )
        case Ternary(value, mask):
            if not _fits(value, key.bits):
                raise bad("value", value)
            if not _fits(mask, key.bits):
                raise bad("mask", mask)
            if value & ~mask:
                # P4Runtime rejects a ternary value with bits set outside its mask.
                raise EntriesError(
                    f"{where}: value {value:#x} has bits outside mask {mask:#x}: "
                    f"expected {value & mask:#x}"
                )
        case Range(low, high):
            if not _fits(low, key.bits):
                raise bad("low", low)
            if not _fits(high, key.bits):
                raise bad("high", high)
            if low > high:
                raise EntriesError(f"{where}: range {low!r}..{high!r}: expected low <= high")


def check_action(where: str, action: str, params: tuple[tuple[str, int], ...]) -> None:
    """Check an action call: known action, exactly its parameters, values that fit."""
    spec = ACTIONS.get(action)
    if spec is None:
        raise EntriesError(f"{where}: action {action!r}: not an action of din.p4")
    names = [n for n, _ in params]
    if sorted(names) != sorted(n for n, _ in spec.params):
        raise EntriesError(
            f"{where}: action {action!r} parameters {names!r}: expected "
            f"{[n for n, _ in spec.params]!r}"
        )
    widths = dict(spec.params)
    for name, value in params:
        if not _fits(value, widths[name]):
            raise EntriesError(
                f"{where}.action_params.{name}: value {value!r} does not fit bit<{widths[name]}>"
            )


def check_entry(entry: Entity, where: str = "") -> None:
    """Check one entity against din.p4: names, match kinds, widths, priority."""
    label = where or getattr(entry, "table", getattr(entry, "profile", "?"))
    if isinstance(entry, ActionProfileMember | ActionProfileGroup):
        if entry.profile not in PROFILES:
            raise EntriesError(f"{label}: action profile {entry.profile!r}: not in din.p4")
        if isinstance(entry, ActionProfileMember):
            check_action(label, entry.action, entry.params)
            if entry.action not in TABLES[PROFILES[entry.profile]].actions:
                raise EntriesError(f"{label}: action {entry.action!r} not allowed here")
        return
    spec = table(entry.table)
    if entry.action is not None:
        check_action(label, entry.action, entry.params)
        if entry.action not in spec.actions:
            raise EntriesError(
                f"{label}: action {entry.action!r}: expected one of {list(spec.actions)!r}"
            )
    elif spec.implementation is None:
        raise EntriesError(f"{label}: table {spec.name!r} has no action profile")
    if entry.is_default:
        return
    for name, m in entry.match:
        key = spec.key(name)
        _check_match(f"{label}.match.{name}", key, m)
    have = {n for n, _ in entry.match}
    for key in spec.keys:
        if key.name not in have and key.kind in ("exact", "lpm"):
            raise EntriesError(f"{label}: match lacks the {key.kind} field {key.name!r}")
    if spec.needs_priority and entry.priority <= 0:
        raise EntriesError(f"{label}: priority {entry.priority!r}: expected a positive one")
    if not spec.needs_priority and entry.priority != 0:
        raise EntriesError(f"{label}: priority {entry.priority!r}: expected 0 (no ternary key)")


def check_entries(entries: Iterable[Entity]) -> None:
    """Check every entity (see ``check_entry``)."""
    for index, entry in enumerate(entries):
        check_entry(entry, f"entry {index} ({getattr(entry, 'table', '')})")


def capacity(entries: Iterable[Entity]) -> dict[str, tuple[int, int]]:
    """Per table: (entries given, table size in din.p4); default entries do not count."""
    counts: dict[str, int] = {}
    for e in entries:
        if isinstance(e, TableEntry) and not e.is_default:
            counts[e.table] = counts.get(e.table, 0) + 1
    return {name: (n, table(name).size) for name, n in sorted(counts.items())}


def check_capacity(entries: Iterable[Entity]) -> None:
    """Raise if any table would hold more entries than its din.p4 size."""
    for name, (n, size) in capacity(entries).items():
        if n > size:
            raise EntriesError(f"table {name!r}: {n} entries: expected at most {size} (size)")
