"""P4Info index: load a P4Info and look up its objects by name, alias or id.

The bottom layer of ``controller.p4rt`` next to :mod:`controller.p4rt.codec`.
May import the standard library, protobuf, the P4Info stubs and
:mod:`controller.p4rt.errors`; nothing from grpc or the rest of the project.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from google.protobuf import json_format, text_format
from google.protobuf.message import DecodeError
from p4.config.v1 import p4info_pb2, p4types_pb2

from controller.p4rt.errors import P4InfoError, P4InfoLookupError

logger = logging.getLogger(__name__)

_MATCH_TYPES = {
    p4info_pb2.MatchField.EXACT: "exact",
    p4info_pb2.MatchField.LPM: "lpm",
    p4info_pb2.MatchField.TERNARY: "ternary",
    p4info_pb2.MatchField.RANGE: "range",
    p4info_pb2.MatchField.OPTIONAL: "optional",
}


@dataclass(frozen=True, slots=True)
class MatchFieldInfo:
    """A table key field: id, verbatim name, width and match kind ('exact', 'lpm', ...)."""

    id: int
    name: str
    bitwidth: int
    match_type: str


@dataclass(frozen=True, slots=True)
class ParamInfo:
    """A named, fixed-width value: an action parameter or a packet metadata field."""

    id: int
    name: str
    bitwidth: int


@dataclass(frozen=True, slots=True)
class ActionInfo:
    """An action and its parameters."""

    id: int
    name: str
    alias: str
    params: tuple[ParamInfo, ...]

    def param(self, key: str | int) -> ParamInfo:
        """Return a parameter by name or id."""
        return _member(f"parameter of action {self.name!r}", self.params, key)


@dataclass(frozen=True, slots=True)
class TableInfo:
    """A match-action table."""

    id: int
    name: str
    alias: str
    match_fields: tuple[MatchFieldInfo, ...]
    action_ids: tuple[int, ...]
    const_default_action_id: int
    implementation_id: int
    direct_resource_ids: tuple[int, ...]
    size: int
    is_const: bool

    def match_field(self, key: str | int) -> MatchFieldInfo:
        """Return a match field by name or id."""
        return _member(f"match field of table {self.name!r}", self.match_fields, key)

    @property
    def needs_priority(self) -> bool:
        """Whether entries need a priority (any ternary, range or optional field)."""
        return any(f.match_type in ("ternary", "range", "optional") for f in self.match_fields)


@dataclass(frozen=True, slots=True)
class CounterInfo:
    """An indirect or direct counter; ``direct_table_id`` is 0 for indirect ones."""

    id: int
    name: str
    alias: str
    unit: str
    size: int
    direct_table_id: int


@dataclass(frozen=True, slots=True)
class MeterInfo:
    """An indirect or direct meter; ``direct_table_id`` is 0 for indirect ones."""

    id: int
    name: str
    alias: str
    unit: str
    size: int
    direct_table_id: int


@dataclass(frozen=True, slots=True)
class RegisterInfo:
    """A register array of ``size`` cells of ``bitwidth`` bits (0 when not a bit<W>)."""

    id: int
    name: str
    alias: str
    size: int
    bitwidth: int


@dataclass(frozen=True, slots=True)
class DigestInfo:
    """A digest; ``fields`` are the struct members when the type is a struct of bit<W>."""

    id: int
    name: str
    alias: str
    fields: tuple[ParamInfo, ...]


@dataclass(frozen=True, slots=True)
class ActionProfileInfo:
    """An action profile or selector and the tables it implements."""

    id: int
    name: str
    alias: str
    table_ids: tuple[int, ...]
    with_selector: bool
    size: int
    max_group_size: int


@dataclass(frozen=True, slots=True)
class PacketMetadataInfo:
    """Controller packet metadata ('packet_in' or 'packet_out') and its fields."""

    id: int
    name: str
    alias: str
    metadata: tuple[ParamInfo, ...]

    def field(self, key: str | int) -> ParamInfo:
        """Return a metadata field by name or id."""
        return _member(f"field of {self.name!r}", self.metadata, key)


_M = TypeVar("_M", MatchFieldInfo, ParamInfo)


def _member(kind: str, members: tuple[_M, ...], key: str | int) -> _M:
    for m in members:
        if (m.id if isinstance(key, int) else m.name) == key:
            return m
    names = [m.name for m in members]
    close = () if isinstance(key, int) else tuple(difflib.get_close_matches(key, names, n=3))
    raise P4InfoLookupError(kind, key, close)


_T = TypeVar(
    "_T",
    TableInfo,
    ActionInfo,
    CounterInfo,
    MeterInfo,
    RegisterInfo,
    DigestInfo,
    ActionProfileInfo,
    PacketMetadataInfo,
)


class _Namespace(Generic[_T]):
    """One kind of P4 object, looked up by id, full name or unique alias."""

    def __init__(self, kind: str, items: Iterable[_T]) -> None:
        self.kind = kind
        self._by_id: dict[int, _T] = {}
        self._by_name: dict[str, _T] = {}
        alias_count: dict[str, list[_T]] = {}
        for item in items:
            if item.id in self._by_id:
                raise P4InfoError(f"duplicate {kind} id {item.id:#x} ({item.name!r})")
            self._by_id[item.id] = item
            self._by_name[item.name] = item
            alias_count.setdefault(item.alias or item.name, []).append(item)
        # An alias shared by two objects names neither: P4Runtime requires the
        # full name then, so such aliases are left out of the index.
        self._by_alias: dict[str, _T] = {a: v[0] for a, v in alias_count.items() if len(v) == 1}
        self.ambiguous = {a for a, v in alias_count.items() if len(v) > 1}

    def get(self, key: str | int) -> _T:
        """Return the object with this id, full name or unique alias."""
        if isinstance(key, int):
            try:
                return self._by_id[key]
            except KeyError:
                raise P4InfoLookupError(self.kind, key) from None
        found = self._by_name.get(key) or self._by_alias.get(key)
        if found is not None:
            return found
        if key in self.ambiguous:
            raise P4InfoLookupError(
                self.kind,
                key,
                tuple(sorted(n for n, v in self._by_name.items() if v.alias == key)),
                ambiguous=True,
            )
        names = [*self._by_name, *self._by_alias]
        raise P4InfoLookupError(
            self.kind, key, tuple(difflib.get_close_matches(key, names, n=3, cutoff=0.5))
        )

    def __contains__(self, key: object) -> bool:
        if isinstance(key, int):
            return key in self._by_id
        return key in self._by_name or key in self._by_alias

    def __iter__(self) -> Iterator[_T]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)


def _unit(value: int) -> str:
    return {1: "bytes", 2: "packets", 3: "both"}.get(value, "unspecified")


def _bitstring_width(spec: p4types_pb2.P4DataTypeSpec) -> int:
    if spec.HasField("bitstring"):
        bs = spec.bitstring
        if bs.HasField("bit"):
            return bs.bit.bitwidth
        if bs.HasField("int"):
            return bs.int.bitwidth
        if bs.HasField("varbit"):
            return bs.varbit.max_bitwidth
    return 0


class P4InfoIndex:
    """Index of one P4Info message; one instance per pipeline, no module state."""

    def __init__(self, p4info: p4info_pb2.P4Info) -> None:
        """Build the index of ``p4info`` (kept as :attr:`p4info`)."""
        self.p4info = p4info
        self.tables: _Namespace[TableInfo] = _Namespace(
            "table",
            (
                TableInfo(
                    id=t.preamble.id,
                    name=t.preamble.name,
                    alias=t.preamble.alias,
                    match_fields=tuple(
                        MatchFieldInfo(
                            m.id, m.name, m.bitwidth, _MATCH_TYPES.get(m.match_type, "other")
                        )
                        for m in t.match_fields
                    ),
                    action_ids=tuple(a.id for a in t.action_refs),
                    const_default_action_id=t.const_default_action_id,
                    implementation_id=t.implementation_id,
                    direct_resource_ids=tuple(t.direct_resource_ids),
                    size=t.size,
                    is_const=t.is_const_table,
                )
                for t in p4info.tables
            ),
        )
        self.actions: _Namespace[ActionInfo] = _Namespace(
            "action",
            (
                ActionInfo(
                    a.preamble.id,
                    a.preamble.name,
                    a.preamble.alias,
                    tuple(ParamInfo(p.id, p.name, p.bitwidth) for p in a.params),
                )
                for a in p4info.actions
            ),
        )
        self.counters: _Namespace[CounterInfo] = _Namespace(
            "counter",
            [
                *(
                    CounterInfo(
                        c.preamble.id, c.preamble.name, c.preamble.alias, _unit(c.spec.unit),
                        c.size, 0,
                    )
                    for c in p4info.counters
                ),
                *(
                    CounterInfo(
                        c.preamble.id, c.preamble.name, c.preamble.alias, _unit(c.spec.unit),
                        0, c.direct_table_id,
                    )
                    for c in p4info.direct_counters
                ),
            ],
        )  # fmt: skip
        self.meters: _Namespace[MeterInfo] = _Namespace(
            "meter",
            [
                *(
                    MeterInfo(
                        m.preamble.id, m.preamble.name, m.preamble.alias, _unit(m.spec.unit),
                        m.size, 0,
                    )
                    for m in p4info.meters
                ),
                *(
                    MeterInfo(
                        m.preamble.id, m.preamble.name, m.preamble.alias, _unit(m.spec.unit),
                        0, m.direct_table_id,
                    )
                    for m in p4info.direct_meters
                ),
            ],
        )  # fmt: skip
        self.registers: _Namespace[RegisterInfo] = _Namespace(
            "register",
            (
                RegisterInfo(
                    r.preamble.id,
                    r.preamble.name,
                    r.preamble.alias,
                    r.size,
                    _bitstring_width(r.type_spec),
                )
                for r in p4info.registers
            ),
        )
        self.digests: _Namespace[DigestInfo] = _Namespace(
            "digest",
            (
                DigestInfo(
                    d.preamble.id,
                    d.preamble.name,
                    d.preamble.alias,
                    self._struct_fields(d.type_spec),
                )
                for d in p4info.digests
            ),
        )
        self.action_profiles: _Namespace[ActionProfileInfo] = _Namespace(
            "action profile",
            (
                ActionProfileInfo(
                    p.preamble.id,
                    p.preamble.name,
                    p.preamble.alias,
                    tuple(p.table_ids),
                    p.with_selector,
                    p.size,
                    p.max_group_size,
                )
                for p in p4info.action_profiles
            ),
        )
        self.packet_metadata: _Namespace[PacketMetadataInfo] = _Namespace(
            "controller packet metadata",
            (
                PacketMetadataInfo(
                    c.preamble.id,
                    c.preamble.name,
                    c.preamble.alias,
                    tuple(ParamInfo(m.id, m.name, m.bitwidth) for m in c.metadata),
                )
                for c in p4info.controller_packet_metadata
            ),
        )
        for table in self.tables:
            for action_id in table.action_ids:
                if action_id not in self.actions:
                    raise P4InfoError(
                        f"table {table.name!r} refers to action id {action_id:#x}, "
                        "which the P4Info does not define"
                    )

    def _struct_fields(self, spec: p4types_pb2.P4DataTypeSpec) -> tuple[ParamInfo, ...]:
        if not spec.HasField("struct"):
            return ()
        struct = self.p4info.type_info.structs.get(spec.struct.name)
        if struct is None:
            return ()
        return tuple(
            ParamInfo(i + 1, m.name, _bitstring_width(m.type_spec))
            for i, m in enumerate(struct.members)
        )

    # Loading -----------------------------------------------------------------

    @classmethod
    def from_text(cls, text: str) -> P4InfoIndex:
        """Index a P4Info in protobuf text format."""
        msg = p4info_pb2.P4Info()
        try:
            text_format.Parse(text, msg)
        except text_format.ParseError as exc:
            raise P4InfoError(f"invalid P4Info text: {exc}") from exc
        return cls(msg)

    @classmethod
    def from_binary(cls, data: bytes) -> P4InfoIndex:
        """Index a P4Info in protobuf binary format."""
        msg = p4info_pb2.P4Info()
        try:
            msg.ParseFromString(data)
        except DecodeError as exc:
            raise P4InfoError(f"invalid binary P4Info: {exc}") from exc
        return cls(msg)

    @classmethod
    def from_json(cls, text: str) -> P4InfoIndex:
        """Index a P4Info in protobuf JSON format."""
        msg = p4info_pb2.P4Info()
        try:
            json_format.Parse(text, msg)
        except json_format.ParseError as exc:
            raise P4InfoError(f"invalid P4Info JSON: {exc}") from exc
        return cls(msg)

    @classmethod
    def load(cls, path: str | Path) -> P4InfoIndex:
        """Index a P4Info file; the format comes from the suffix (.json, .bin/.pb, else text)."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise P4InfoError(f"cannot read P4Info file {str(path)!r}: {exc}") from exc
        suffix = path.suffix.lower()
        try:
            if suffix == ".json":
                return cls.from_json(data.decode())
            if suffix in (".bin", ".pb", ".binpb"):
                return cls.from_binary(data)
            return cls.from_text(data.decode())
        except UnicodeDecodeError as exc:
            raise P4InfoError(f"P4Info file {str(path)!r} is not UTF-8 text: {exc}") from exc
        except P4InfoError as exc:
            raise P4InfoError(f"{path}: {exc}") from exc

    # Look-ups ----------------------------------------------------------------

    def table(self, key: str | int) -> TableInfo:
        """Return a table by full name, alias or id."""
        return self.tables.get(key)

    def action(self, key: str | int) -> ActionInfo:
        """Return an action by full name, alias or id."""
        return self.actions.get(key)

    def counter(self, key: str | int) -> CounterInfo:
        """Return a counter (indirect or direct) by full name, alias or id."""
        return self.counters.get(key)

    def meter(self, key: str | int) -> MeterInfo:
        """Return a meter (indirect or direct) by full name, alias or id."""
        return self.meters.get(key)

    def register(self, key: str | int) -> RegisterInfo:
        """Return a register by full name, alias or id."""
        return self.registers.get(key)

    def digest(self, key: str | int) -> DigestInfo:
        """Return a digest by full name, alias or id."""
        return self.digests.get(key)

    def action_profile(self, key: str | int) -> ActionProfileInfo:
        """Return an action profile or selector by full name, alias or id."""
        return self.action_profiles.get(key)

    def controller_packet_metadata(self, key: str | int) -> PacketMetadataInfo:
        """Return controller packet metadata ('packet_in', 'packet_out') by name or id."""
        return self.packet_metadata.get(key)

    def table_action(self, table: TableInfo, key: str | int) -> ActionInfo:
        """Return an action of ``table``; an error if the table does not list it."""
        action = self.action(key)
        if action.id not in table.action_ids:
            allowed = tuple(self.action(i).name for i in table.action_ids)
            raise P4InfoLookupError(
                f"action of table {table.name!r}",
                key,
                tuple(difflib.get_close_matches(action.name, allowed, n=3)) or allowed,
            )
        return action
