"""An index of a P4Info by id: what the server needs to map P4Runtime ids to
the core's names and widths. Imports protobuf stubs and `server.errors`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from p4.config.v1 import p4info_pb2

from p4lite.switch.server.errors import invalid, not_found

logger = logging.getLogger(__name__)

MatchType = p4info_pb2.MatchField.MatchType


@dataclass(frozen=True, slots=True)
class FieldDef:
    """A match field, action parameter or metadata field."""

    id: int
    name: str
    bitwidth: int
    match_type: int = 0


@dataclass(frozen=True, slots=True)
class ActionDef:
    """An action and its parameters in order."""

    id: int
    name: str
    params: tuple[FieldDef, ...]
    by_id: Mapping[int, FieldDef] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        """Index the parameters by id (every table write looks each one up)."""
        if not self.by_id:
            object.__setattr__(self, "by_id", {p.id: p for p in self.params})

    def param(self, param_id: int) -> FieldDef:
        """One parameter by id."""
        found = self.by_id.get(param_id)
        if found is None:
            raise invalid(f"action {self.name!r}: unknown parameter id {param_id!r}")
        return found


@dataclass(frozen=True, slots=True)
class TableDef:
    """A table with its keys in order and its resources."""

    id: int
    name: str
    fields: tuple[FieldDef, ...]
    action_ids: frozenset[int]
    default_only_ids: frozenset[int]
    table_only_ids: frozenset[int]
    size: int
    is_const: bool
    const_default_action_id: int
    implementation_id: int
    direct_counter_id: int
    direct_meter_id: int
    idle_timeout: bool
    needs_priority: bool = field(init=False)  # a key is ternary, range or optional

    def __post_init__(self) -> None:
        """Work out once whether entries need a priority."""
        kinds = {MatchType.TERNARY, MatchType.RANGE, MatchType.OPTIONAL}
        needs = any(f.match_type in kinds for f in self.fields)
        object.__setattr__(self, "needs_priority", needs)


@dataclass(frozen=True, slots=True)
class ObjectDef:
    """A counter, meter, register, action profile or digest."""

    id: int
    name: str
    size: int = 0
    bitwidth: int = 0
    table_id: int = 0
    unit: int = 0
    with_selector: bool = False
    max_group_size: int = 0
    field_widths: tuple[int, ...] = ()
    is_struct: bool = False


def _preamble_ok(preamble: p4info_pb2.Preamble, kind: str) -> None:
    if preamble.id == 0 or not preamble.name:
        raise invalid(f"P4Info: {kind} with id {preamble.id!r} and name {preamble.name!r}")


class P4InfoIndex:
    """P4Info objects by id (and by name where the server needs it)."""

    def __init__(self, p4info: p4info_pb2.P4Info) -> None:
        self.p4info = p4info
        self.actions: dict[int, ActionDef] = {}
        self.tables: dict[int, TableDef] = {}
        self.tables_by_name: dict[str, TableDef] = {}
        self.counters: dict[int, ObjectDef] = {}
        self.direct_counters: dict[int, ObjectDef] = {}
        self.meters: dict[int, ObjectDef] = {}
        self.direct_meters: dict[int, ObjectDef] = {}
        self.registers: dict[int, ObjectDef] = {}
        self.profiles: dict[int, ObjectDef] = {}
        self.digests: dict[int, ObjectDef] = {}
        self.digest_by_name: dict[str, ObjectDef] = {}
        self.packet_in: tuple[FieldDef, ...] = ()
        self.packet_out: tuple[FieldDef, ...] = ()
        for a in p4info.actions:
            _preamble_ok(a.preamble, "action")
            params = tuple(FieldDef(p.id, p.name, p.bitwidth) for p in a.params)
            self.actions[a.preamble.id] = ActionDef(a.preamble.id, a.preamble.name, params)
        for dc in p4info.direct_counters:
            _preamble_ok(dc.preamble, "direct counter")
            self.direct_counters[dc.preamble.id] = ObjectDef(
                dc.preamble.id, dc.preamble.name, table_id=dc.direct_table_id, unit=dc.spec.unit
            )
        for dm in p4info.direct_meters:
            _preamble_ok(dm.preamble, "direct meter")
            self.direct_meters[dm.preamble.id] = ObjectDef(
                dm.preamble.id, dm.preamble.name, table_id=dm.direct_table_id, unit=dm.spec.unit
            )
        for t in p4info.tables:
            _preamble_ok(t.preamble, "table")
            fields = tuple(FieldDef(f.id, f.name, f.bitwidth, f.match_type) for f in t.match_fields)
            scope = p4info_pb2.ActionRef.Scope
            direct_counter = next(
                (r for r in t.direct_resource_ids if r in self.direct_counters), 0
            )
            direct_meter = next((r for r in t.direct_resource_ids if r in self.direct_meters), 0)
            self.tables[t.preamble.id] = TableDef(
                id=t.preamble.id,
                name=t.preamble.name,
                fields=fields,
                action_ids=frozenset(r.id for r in t.action_refs),
                default_only_ids=frozenset(
                    r.id for r in t.action_refs if r.scope == scope.DEFAULT_ONLY
                ),
                table_only_ids=frozenset(
                    r.id for r in t.action_refs if r.scope == scope.TABLE_ONLY
                ),
                size=t.size,
                is_const=t.is_const_table,
                const_default_action_id=t.const_default_action_id,
                implementation_id=t.implementation_id,
                direct_counter_id=direct_counter,
                direct_meter_id=direct_meter,
                idle_timeout=t.idle_timeout_behavior
                == p4info_pb2.Table.IdleTimeoutBehavior.NOTIFY_CONTROL,
            )
            self.tables_by_name[t.preamble.name] = self.tables[t.preamble.id]
        for c in p4info.counters:
            _preamble_ok(c.preamble, "counter")
            self.counters[c.preamble.id] = ObjectDef(
                c.preamble.id, c.preamble.name, size=c.size, unit=c.spec.unit
            )
        for m in p4info.meters:
            _preamble_ok(m.preamble, "meter")
            self.meters[m.preamble.id] = ObjectDef(
                m.preamble.id, m.preamble.name, size=m.size, unit=m.spec.unit
            )
        for r in p4info.registers:
            _preamble_ok(r.preamble, "register")
            width = r.type_spec.bitstring.bit.bitwidth or r.type_spec.bitstring.int.bitwidth
            self.registers[r.preamble.id] = ObjectDef(
                r.preamble.id, r.preamble.name, size=r.size, bitwidth=width
            )
        for ap in p4info.action_profiles:
            _preamble_ok(ap.preamble, "action profile")
            self.profiles[ap.preamble.id] = ObjectDef(
                ap.preamble.id,
                ap.preamble.name,
                size=ap.size,
                with_selector=ap.with_selector,
                max_group_size=ap.max_group_size,
            )
        structs = p4info.type_info.structs
        for d in p4info.digests:
            _preamble_ok(d.preamble, "digest")
            widths: tuple[int, ...] = ()
            if d.type_spec.HasField("struct"):
                struct = structs.get(d.type_spec.struct.name)
                if struct is not None:
                    widths = tuple(
                        m.type_spec.bitstring.bit.bitwidth or m.type_spec.bitstring.int.bitwidth
                        for m in struct.members
                    )
            elif d.type_spec.HasField("bitstring"):
                widths = (d.type_spec.bitstring.bit.bitwidth,)
            obj = ObjectDef(
                d.preamble.id,
                d.preamble.name,
                field_widths=widths,
                is_struct=d.type_spec.HasField("struct"),
            )
            self.digests[d.preamble.id] = obj
            self.digest_by_name[d.preamble.name] = obj
        for cpm in p4info.controller_packet_metadata:
            fields = tuple(FieldDef(m.id, m.name, m.bitwidth) for m in cpm.metadata)
            if cpm.preamble.name == "packet_in":
                self.packet_in = fields
            elif cpm.preamble.name == "packet_out":
                self.packet_out = fields

    def table(self, table_id: int) -> TableDef:
        """A table by id (NOT_FOUND if unknown)."""
        t = self.tables.get(table_id)
        if t is None:
            raise not_found(f"table id {table_id!r} is not in the P4Info")
        return t

    def action(self, action_id: int) -> ActionDef:
        """An action by id (NOT_FOUND if unknown)."""
        a = self.actions.get(action_id)
        if a is None:
            raise not_found(f"action id {action_id!r} is not in the P4Info")
        return a

    @staticmethod
    def lookup(objects: dict[int, ObjectDef], object_id: int, kind: str) -> ObjectDef:
        """An object of `kind` by id (NOT_FOUND if unknown)."""
        obj = objects.get(object_id)
        if obj is None:
            raise not_found(f"{kind} id {object_id!r} is not in the P4Info")
        return obj
