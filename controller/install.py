"""Install din.p4 entries on switches: conversion, batched installs, the atomic model swap.

Orchestration above ``controller.entries`` (pure entry values) and
``controller.p4rt`` (the P4Runtime client): converts ``entries.types`` values
one-to-one into ``p4rt.entities`` through ``EntityBuilder`` (so every table,
action, field and parameter name is checked against the P4Info), writes them on
one or many switches in batches with a progress callback, and swaps a model
version in the order ``entries.updates.switch_over`` gives: the new version's
entries beside the old, then ``active_model_version``, then the old deleted, so
that no packet sees half a model. Never prints; progress goes to callbacks.
May import the standard library, the P4Runtime stubs, ``controller.models``,
``controller.entries`` and ``controller.p4rt``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from p4.v1 import p4runtime_pb2

from controller.entries import types as et
from controller.entries.classifier import forest_entries, phase_entries
from controller.entries.errors import EntriesError
from controller.entries.mlp import (
    MODE_FINAL,
    MODE_NEXT_HERE,
    Role,
    active_version_entry,
    exit_entries,
    role_entries,
)
from controller.entries.mlp import model_entries as mlp_model_entries
from controller.entries.updates import switch_over
from controller.models.files import Model
from controller.models.quant import NEVER_EXIT, MLPModel
from controller.p4rt import entities as pe
from controller.p4rt.client import SwitchConnection
from controller.p4rt.errors import P4RTError
from controller.p4rt.multi import Fabric, FabricError, Outcome
from controller.p4rt.p4info import P4InfoIndex

log = logging.getLogger(__name__)

DEFAULT_BATCH = 1000
ACTIVE_TABLE = "MyIngress.active_model_version"
# The tables whose entries belong to one (model_id, model_version) of an MLP.
VERSIONED_TABLES = ("MyIngress.mlp_role", "MyIngress.exit_threshold", "MyIngress.mlp.mlp_bias")
MLP_IN_PREFIX = "MyIngress.mlp.mlp_in_"
MODEL_ID_FIELD = "hdr.din.model_id"
MODEL_VERSION_FIELD = "hdr.din.model_version"


class InstallError(Exception):
    """Entries that cannot be converted or installed, or a swap that cannot proceed."""


@dataclass(frozen=True, slots=True)
class InstallProgress:
    """Updates written so far on one switch (``done`` of ``total``)."""

    switch: str
    done: int
    total: int


ProgressCallback = Callable[[InstallProgress], None]
"""Called after each batch; from worker threads when several switches install at once."""


@dataclass(frozen=True, slots=True)
class InstallResult:
    """Per switch: updates written, or the error; and the wall-clock seconds of the install."""

    written: Mapping[str, int]
    errors: Mapping[str, Exception]
    seconds: float

    @property
    def total(self) -> int:
        """Updates written on all switches together."""
        return sum(self.written.values())

    @property
    def rate(self) -> float:
        """Updates per second over all switches."""
        return self.total / self.seconds if self.seconds > 0 else 0.0


# Conversion ----------------------------------------------------------------------


def _match(m: et.Match) -> pe.FieldMatch:
    match m:
        case et.Exact(value):
            return pe.Exact(value)
        case et.Lpm(value, plen):
            return pe.Lpm(value, plen)
        case et.Ternary(value, mask):
            return pe.Ternary(value, mask)
        case et.Range(low, high):
            return pe.Range(low, high)


def _unmatch(m: pe.FieldMatch, where: str) -> et.Match:
    match m:
        case pe.Exact(value):
            return et.Exact(value)
        case pe.Lpm(value, plen):
            return et.Lpm(value, plen)
        case pe.Ternary(value, mask):
            return et.Ternary(value, mask)
        case pe.Range(low, high):
            return et.Range(low, high)
    raise InstallError(f"{where}: match {m!r}: expected exact, lpm, ternary or range")


def to_p4rt(entity: et.Entity, builder: pe.EntityBuilder) -> pe.Entity:
    """One ``entries.types`` value as the ``p4rt.entities`` value of the same names, checked."""
    try:
        match entity:
            case et.TableEntry():
                return builder.table_entry(
                    entity.table,
                    {name: _match(m) for name, m in entity.match},
                    entity.action,
                    dict(entity.params),
                    priority=entity.priority or None,
                    is_default=entity.is_default,
                    member_id=entity.member_id,
                    group_id=entity.group_id,
                )
            case et.ActionProfileMember():
                return builder.member(
                    entity.profile, entity.member_id, entity.action, dict(entity.params)
                )
            case et.ActionProfileGroup():
                return builder.group(
                    entity.profile, entity.group_id, dict(entity.members), entity.max_size
                )
    except P4RTError as exc:
        raise InstallError(f"{_describe(entity)}: {exc}") from exc
    raise InstallError(f"{entity!r}: expected a table entry, member or group")


def from_p4rt(entity: pe.Entity) -> et.Entity:
    """A read-back ``p4rt.entities`` value as the ``entries.types`` value of the same names."""
    where = type(entity).__name__
    try:
        match entity:
            case pe.TableEntry():
                return et.TableEntry(
                    entity.table,
                    tuple((n, _unmatch(m, f"{entity.table} {n}")) for n, m in entity.match),
                    entity.action,
                    entity.params,
                    entity.priority,
                    entity.is_default,
                    entity.member_id,
                    entity.group_id,
                )
            case pe.ActionProfileMember(profile, member_id, action, params) if action:
                return et.ActionProfileMember(profile, member_id, action, params)
            case pe.ActionProfileGroup(profile, group_id, members, max_size):
                return et.ActionProfileGroup(profile, group_id, members, max_size)
    except EntriesError as exc:
        raise InstallError(f"{where}: {exc}") from exc
    raise InstallError(f"{entity!r}: expected a table entry, member or group")


def convert(entities: Iterable[et.Entity], index: P4InfoIndex) -> list[pe.Entity]:
    """Every entity converted and checked against ``index`` (see :func:`to_p4rt`)."""
    builder = pe.EntityBuilder(index)
    return [to_p4rt(e, builder) for e in entities]


def _describe(entity: et.Entity) -> str:
    if isinstance(entity, et.TableEntry):
        return f"entry of table {entity.table!r}"
    kind = "member" if isinstance(entity, et.ActionProfileMember) else "group"
    return f"{kind} of action profile {entity.profile!r}"


# Model -> entries ----------------------------------------------------------------


def default_roles(model: MLPModel) -> list[Role]:
    """Every layer on this switch: NEXT_HERE for all but the last, FINAL for the last."""
    last = len(model.layers) - 1
    classes = model.layers[last].outputs
    return [
        Role(k, MODE_FINAL, num_classes=classes) if k == last else Role(k, MODE_NEXT_HERE)
        for k in range(last + 1)
    ]


def model_entries(
    model: Model,
    model_id: int,
    *,
    version: int | None = None,
    roles: Sequence[Role] | None = None,
    activate: bool = True,
) -> list[et.Entity]:
    """A model file's din.p4 entries.

    An MLP gives its layers, ``mlp_role`` entries (``roles``, default
    :func:`default_roles`), its exit thresholds and, with ``activate``, the
    ``active_model_version`` entry. A tree or forest goes in classifier slot
    ``model_id`` with a ``classifier_phase`` entry that uses it from the first packet.
    """
    if isinstance(model, MLPModel):
        ver = model.version if version is None else version
        out: list[et.Entity] = list(mlp_model_entries(model, model_id, ver))
        out += role_entries(model_id, ver, default_roles(model) if roles is None else roles)
        thresholds = [min(t, NEVER_EXIT) for t in model.exit_thresholds]
        out += exit_entries(model_id, ver, thresholds)
        if activate:
            out.append(active_version_entry(model_id, ver))
        return out
    if roles:
        raise InstallError(f"model {model.name!r}: roles apply to mlp models only")
    return [*forest_entries(model, model_id), *phase_entries(model_id, 1, None)]


# Installing ----------------------------------------------------------------------


def _batches(n: int, size: int) -> Iterable[tuple[int, int]]:
    for start in range(0, n, size):
        yield start, min(n, start + size)


def write_updates(
    conn: SwitchConnection,
    updates: Sequence[pe.Update | p4runtime_pb2.Update],
    *,
    batch_size: int = DEFAULT_BATCH,
    progress: ProgressCallback | None = None,
) -> int:
    """Write ``updates`` in order, ``batch_size`` per request; returns the number written.

    Encoding happens batch by batch, so the first failing batch stops the
    write (later updates may depend on earlier ones).
    """
    if batch_size < 1:
        raise InstallError(f"batch size {batch_size!r}: expected >= 1")
    done = 0
    for start, end in _batches(len(updates), batch_size):
        done += conn.write(updates[start:end], batch_size=batch_size, stop_on_error=True)
        if progress is not None:
            progress(InstallProgress(conn.name, done, len(updates)))
    return done


def install(
    target: SwitchConnection | Fabric,
    entities: Sequence[et.Entity] | Mapping[str, Sequence[et.Entity]],
    *,
    batch_size: int = DEFAULT_BATCH,
    progress: ProgressCallback | None = None,
    raise_on_error: bool = True,
) -> InstallResult:
    """INSERT entities on one switch or every switch of a fabric, concurrently.

    ``entities`` is one list for all switches or a mapping from switch name to
    its list. Entities are converted with each switch's P4Info first: a name
    that does not exist fails before anything is written. Members go in before
    groups, groups before the table entries that refer to them.
    """
    fabric = target if isinstance(target, Fabric) else Fabric([target])
    per_switch = (
        {n: list(v) for n, v in entities.items()}
        if isinstance(entities, Mapping)
        else {n: list(entities) for n in fabric.names}
    )
    rank = {et.ActionProfileMember: 0, et.ActionProfileGroup: 1, et.TableEntry: 2}
    lock = threading.Lock()

    def _progress(p: InstallProgress) -> None:
        if progress is not None:
            with lock:
                progress(p)

    # Switches that share the entry list and the P4Info share one encoding.
    encoded: dict[tuple[str, bytes], list[p4runtime_pb2.Update]] = {}
    encode_lock = threading.Lock()

    def _encode(conn: SwitchConnection) -> list[p4runtime_pb2.Update]:
        index = conn.index if conn.index is not None else conn.load_index()
        key = (
            conn.name if isinstance(entities, Mapping) else "",
            index.p4info.SerializeToString(deterministic=True),
        )
        with encode_lock:
            if key not in encoded:
                ordered = sorted(per_switch[conn.name], key=lambda e: rank[type(e)])
                encoded[key] = [u.to_proto(index) for u in pe.inserts(convert(ordered, index))]
            return encoded[key]

    def _op(conn: SwitchConnection) -> int:
        updates = _encode(conn)
        return write_updates(conn, updates, batch_size=batch_size, progress=_progress)

    start = time.perf_counter()
    outcomes: dict[str, Outcome[int]] = fabric.run(
        _op, list(per_switch), label="install", raise_on_error=False
    )
    seconds = time.perf_counter() - start
    written = {n: o.value or 0 for n, o in outcomes.items() if o.ok}
    errors = {n: o.error for n, o in outcomes.items() if o.error is not None}
    if errors and raise_on_error:
        if isinstance(target, SwitchConnection):
            raise errors[target.name]
        raise FabricError("install", errors)
    log.info(
        "installed %d updates on %d switch(es) in %.3f s",
        sum(written.values()),
        len(written),
        seconds,
    )
    return InstallResult(written, errors, seconds)


# Reading model versions ------------------------------------------------------------


def _is_versioned(table: str) -> bool:
    return table in VERSIONED_TABLES or table.startswith(MLP_IN_PREFIX)


def active_versions(conn: SwitchConnection) -> dict[int, int]:
    """``active_model_version`` entries of the switch: model id -> active version."""
    out: dict[int, int] = {}
    for e in conn.read_entities([pe.TableEntry(ACTIVE_TABLE)]):
        if isinstance(e, pe.TableEntry) and not e.is_default:
            m = e.match_dict().get(MODEL_ID_FIELD)
            if isinstance(m, pe.Exact):
                out[m.value] = e.param_dict().get("version", 0)
    return out


def version_entries(conn: SwitchConnection, model_id: int, version: int) -> list[et.TableEntry]:
    """Every entry the switch holds for (``model_id``, ``version``) of an MLP."""
    index = conn.index if conn.index is not None else conn.load_index()
    tables = [t.name for t in index.tables if _is_versioned(t.name)]
    out: list[et.TableEntry] = []
    for e in conn.read_entities([pe.TableEntry(t) for t in tables]):
        if not isinstance(e, pe.TableEntry) or e.is_default:
            continue
        m = e.match_dict()
        mid, ver = m.get(MODEL_ID_FIELD), m.get(MODEL_VERSION_FIELD)
        if mid == pe.Exact(model_id) and ver == pe.Exact(version):
            converted = from_p4rt(e)
            assert isinstance(converted, et.TableEntry)
            out.append(converted)
    return out


@dataclass(frozen=True, slots=True)
class SwapResult:
    """What a swap wrote on one switch."""

    model_id: int
    old_version: int | None
    new_version: int
    inserted: int
    deleted: int
    seconds: float


def _new_version_entries(new_entries: Sequence[et.Entity], model_id: int) -> list[et.Entity]:
    # The switch-over writes active_model_version itself.
    return [
        e
        for e in new_entries
        if not (
            isinstance(e, et.TableEntry)
            and e.table == ACTIVE_TABLE
            and e.match_dict().get(MODEL_ID_FIELD) == et.Exact(model_id)
        )
    ]


def swap_model(
    conn: SwitchConnection,
    model_id: int,
    new_version: int,
    new_entries: Sequence[et.Entity],
    *,
    old_entries: Sequence[et.Entity] | None = None,
    batch_size: int = DEFAULT_BATCH,
    progress: ProgressCallback | None = None,
) -> SwapResult:
    """Switch model ``model_id`` on one switch to ``new_version`` atomically.

    Inserts ``new_entries`` (all of ``new_version``) beside the old version,
    then points ``active_model_version`` at the new version (a MODIFY, or an
    INSERT when the model was not installed), then deletes the old version's
    entries: read from the switch unless ``old_entries`` are given. Requests
    that carry version 0 take the active version once, so each sees either
    model whole. Each step starts only after the previous one succeeded.
    """
    start = time.perf_counter()
    index = conn.index if conn.index is not None else conn.load_index()
    where = f"swap of model {model_id} on {conn.name!r}"
    old_version = active_versions(conn).get(model_id)
    if old_version == new_version:
        raise InstallError(
            f"{where}: version {new_version!r} is already active: "
            "expected a new version (give the model another version)"
        )
    old: list[et.Entity]
    if old_entries is None:
        old = list(version_entries(conn, model_id, old_version)) if old_version else []
    else:
        old = list(old_entries)
    new = _new_version_entries(new_entries, model_id)
    try:
        ops = switch_over(model_id, new_version, new, old, first_time=old_version is None)
    except EntriesError as exc:
        raise InstallError(f"{where}: {exc}") from exc
    kinds = {"insert": pe.UpdateType.INSERT, "modify": pe.UpdateType.MODIFY}
    builder = pe.EntityBuilder(index)
    updates = [
        pe.Update(kinds.get(op.kind, pe.UpdateType.DELETE), to_p4rt(op.entity, builder))
        for op in ops
    ]
    # Three phases, each one finished before the next: inserts, the flip, deletes.
    n_insert = len(new)
    phases = [updates[:n_insert], updates[n_insert : n_insert + 1], updates[n_insert + 1 :]]
    total = len(updates)
    done = 0

    def _progress(p: InstallProgress) -> None:
        if progress is not None:
            progress(InstallProgress(p.switch, done + p.done, total))

    for phase in phases:
        done += write_updates(conn, phase, batch_size=batch_size, progress=_progress)
    seconds = time.perf_counter() - start
    log.info(
        "%s: version %s -> %d, %d inserted, %d deleted in %.3f s",
        where,
        old_version,
        new_version,
        n_insert,
        len(old),
        seconds,
    )
    return SwapResult(model_id, old_version, new_version, n_insert, len(old), seconds)


def swap_model_all(
    fabric: Fabric,
    model_id: int,
    new_version: int,
    new_entries: Sequence[et.Entity],
    *,
    batch_size: int = DEFAULT_BATCH,
    progress: ProgressCallback | None = None,
) -> dict[str, SwapResult]:
    """:func:`swap_model` on every switch of ``fabric`` concurrently (each switch atomic)."""
    lock = threading.Lock()

    def _progress(p: InstallProgress) -> None:
        if progress is not None:
            with lock:
                progress(p)

    outcomes = fabric.run(
        lambda c: swap_model(
            c, model_id, new_version, new_entries, batch_size=batch_size, progress=_progress
        ),
        label="swap",
    )
    return {n: o.value for n, o in outcomes.items() if o.value is not None}
