"""P4Runtime table entries and actions to and from the core's values.

Validates what the P4Runtime specification requires of a match (no
don't-care written out, no bits beyond an lpm prefix or a ternary mask,
exact keys always present, priorities exactly on ternary/range/optional
tables) and produces canonical byte strings on the way back. Imports
protobuf stubs, `p4lite.switch.core.api` and sibling server modules.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from p4.v1 import p4runtime_pb2

from p4lite.switch.core import api
from p4lite.switch.server.codec import decode, encode
from p4lite.switch.server.errors import invalid, not_found, unimplemented
from p4lite.switch.server.p4info import ActionDef, FieldDef, MatchType, P4InfoIndex, TableDef

logger = logging.getLogger(__name__)

# Plain ints: attribute access on a protobuf enum wrapper is slow on the write path.
_EXACT = int(MatchType.Value("EXACT"))
_KIND_OF_TYPE: dict[int, str] = {
    MatchType.EXACT: "exact",
    MatchType.LPM: "lpm",
    MatchType.TERNARY: "ternary",
    MatchType.RANGE: "range",
    MatchType.OPTIONAL: "optional",
}


def _key_match(
    table: TableDef, field: FieldDef, fm: p4runtime_pb2.FieldMatch, core_kind: api.MatchKind
) -> api.KeyMatch:
    width = field.bitwidth
    kind = fm.WhichOneof("field_match_type")
    if kind == "exact" and field.match_type == _EXACT:
        # The common case first, with the message built only when the value is bad.
        data = fm.exact.value
        value = int.from_bytes(data, "big")
        if data and not value >> width:
            return api.ExactMatch(value)
    what = f"table {table.name!r} match field {field.name!r}"
    full = (1 << width) - 1
    expected = _KIND_OF_TYPE.get(field.match_type, "other")
    if kind != expected:
        raise invalid(f"{what}: got a {kind!r} match, expected {expected!r}")
    match kind:
        case "exact":
            return api.ExactMatch(decode(fm.exact.value, width, what))
        case "lpm":
            value = decode(fm.lpm.value, width, what)
            plen = fm.lpm.prefix_len
            if not 0 < plen <= width:
                raise invalid(
                    f"{what}: prefix length {plen!r}, expected 1..{width} "
                    "(omit the field for a don't-care match)"
                )
            if value & (full >> plen):
                raise invalid(f"{what}: value 0x{value:x} has bits set beyond the /{plen} prefix")
            return api.LpmMatch(value, plen)
        case "ternary":
            value = decode(fm.ternary.value, width, what)
            mask = decode(fm.ternary.mask, width, what)
            if mask == 0:
                raise invalid(f"{what}: mask 0, omit the field for a don't-care match")
            if value & ~mask:
                raise invalid(f"{what}: value 0x{value:x} has bits outside mask 0x{mask:x}")
            return api.TernaryMatch(value, mask)
        case "range":
            low = decode(fm.range.low, width, what)
            high = decode(fm.range.high, width, what)
            if low > high:
                raise invalid(f"{what}: range low {low!r} is above high {high!r}")
            if low == 0 and high == full:
                raise invalid(f"{what}: full range, omit the field for a don't-care match")
            return api.RangeMatch(low, high)
        case "optional":
            value = decode(fm.optional.value, width, what)
            if core_kind is api.MatchKind.TERNARY:
                # BMv2 JSON represents v1model optional keys as ternary.
                return api.TernaryMatch(value, full)
            return api.OptionalMatch(value)
        case _:
            raise invalid(f"{what}: unsupported match kind {kind!r}")


def matches_to_core(
    table: TableDef,
    core_table: api.TableInfo,
    match: Iterable[p4runtime_pb2.FieldMatch],
) -> tuple[api.KeyMatch | None, ...]:
    """Core match values in key order for a P4Runtime match list."""
    by_id: dict[int, p4runtime_pb2.FieldMatch] = {}
    for fm in match:
        if fm.field_id in by_id:
            raise invalid(f"table {table.name!r}: match field id {fm.field_id!r} given twice")
        by_id[fm.field_id] = fm
    known = {f.id for f in table.fields}
    for field_id in by_id:
        if field_id not in known:
            raise invalid(f"table {table.name!r}: unknown match field id {field_id!r}")
    core_kinds = [k.match_kind for k in core_table.keys]
    result: list[api.KeyMatch | None] = []
    for pos, field in enumerate(table.fields):
        given = by_id.get(field.id)
        core_kind = core_kinds[pos] if pos < len(core_kinds) else api.MatchKind.EXACT
        if given is None:
            if field.match_type == _EXACT:
                raise invalid(
                    f"table {table.name!r}: exact match field {field.name!r} "
                    "is missing, exact fields cannot be omitted"
                )
            result.append(None)
            continue
        result.append(_key_match(table, field, given, core_kind))
    return tuple(result)


def check_priority(table: TableDef, priority: int) -> None:
    """Priority must be > 0 exactly on tables with ternary, range or optional keys."""
    if table.needs_priority and priority <= 0:
        raise invalid(
            f"table {table.name!r}: priority {priority!r}, expected > 0 "
            "for a table with ternary, range or optional keys"
        )
    if not table.needs_priority and priority != 0:
        raise invalid(
            f"table {table.name!r}: priority {priority!r}, expected 0 "
            "for a table with only exact and lpm keys"
        )


def matches_from_core(
    table: TableDef, matches: Sequence[api.KeyMatch | None]
) -> list[p4runtime_pb2.FieldMatch]:
    """P4Runtime match list (canonical bytes, don't-cares omitted) for core values."""
    out: list[p4runtime_pb2.FieldMatch] = []
    for field, m in zip(table.fields, matches, strict=False):
        full = (1 << field.bitwidth) - 1
        fm = p4runtime_pb2.FieldMatch(field_id=field.id)
        match m:
            case None:
                continue
            case api.ExactMatch(value=v):
                fm.exact.value = encode(v)
            case api.LpmMatch(value=v, prefix_len=plen):
                if plen == 0:
                    continue
                fm.lpm.value = encode(v)
                fm.lpm.prefix_len = plen
            case api.TernaryMatch(value=v, mask=mask):
                if field.match_type == MatchType.OPTIONAL:
                    if mask == 0:
                        continue
                    fm.optional.value = encode(v)
                else:
                    if mask == 0:
                        continue
                    fm.ternary.value = encode(v & mask)
                    fm.ternary.mask = encode(mask)
            case api.RangeMatch(low=lo, high=hi):
                if lo == 0 and hi == full:
                    continue
                fm.range.low = encode(lo)
                fm.range.high = encode(hi)
            case api.OptionalMatch(value=v):
                fm.optional.value = encode(v)
        out.append(fm)
    return out


def action_call_to_core(
    index: P4InfoIndex, action: p4runtime_pb2.Action, what: str
) -> tuple[ActionDef, api.ActionCall]:
    """The core call for a P4Runtime action (every parameter exactly once)."""
    if action.action_id == 0:
        raise invalid(f"{what}: action id is missing")
    adef = index.actions.get(action.action_id)
    if adef is None:
        raise not_found(f"{what}: action id {action.action_id!r} is not in the P4Info")
    values: dict[int, int] = {}
    by_id = adef.by_id
    for p in action.params:
        pdef = by_id.get(p.param_id)
        if pdef is None:
            pdef = adef.param(p.param_id)  # raises, naming the action and the id
        if p.param_id in values:
            raise invalid(f"action {adef.name!r}: parameter {pdef.name!r} given twice")
        data = p.value
        value = int.from_bytes(data, "big")
        if not data or value >> pdef.bitwidth:
            # The error path only: decode() builds the message.
            decode(data, pdef.bitwidth, f"action {adef.name!r} {pdef.name!r}")
        values[p.param_id] = value
    missing = [p.name for p in adef.params if p.id not in values]
    if missing:
        raise invalid(f"action {adef.name!r}: missing parameters {missing!r}")
    return adef, api.ActionCall(adef.name, tuple(values[p.id] for p in adef.params))


def table_action_to_core(
    index: P4InfoIndex, table: TableDef, action: p4runtime_pb2.TableAction, default: bool
) -> api.EntryAction:
    """The core action of a table entry, checked against the table's action list."""
    what = f"table {table.name!r}"
    kind = action.WhichOneof("type")
    match kind:
        case "action":
            if table.implementation_id:
                raise invalid(f"{what}: has an action profile, expected a member or group id")
            adef, call = action_call_to_core(index, action.action, what)
            if adef.id not in table.action_ids:
                raise invalid(f"{what}: action {adef.name!r} is not one of the table's actions")
            if default and adef.id in table.table_only_ids:
                raise invalid(f"{what}: action {adef.name!r} is @tableonly")
            if not default and adef.id in table.default_only_ids:
                raise invalid(f"{what}: action {adef.name!r} is @defaultonly")
            return call
        case "action_profile_member_id":
            if not table.implementation_id:
                raise invalid(f"{what}: has no action profile, expected a direct action")
            return api.MemberRef(action.action_profile_member_id)
        case "action_profile_group_id":
            profile = index.profiles.get(table.implementation_id)
            if profile is None or not profile.with_selector:
                raise invalid(f"{what}: has no action selector, a group id cannot be used")
            return api.GroupRef(action.action_profile_group_id)
        case "action_profile_action_set":
            # The device makes a group of it first (Device._oneshot_group).
            raise unimplemented(f"{what}: a one-shot action set is not a single action")
        case _:
            raise invalid(f"{what}: entry has no action")


def action_call_from_core(
    action_ids: dict[str, int], index: P4InfoIndex, call: api.ActionCall
) -> p4runtime_pb2.Action:
    """P4Runtime action for a core call (canonical parameter bytes)."""
    action_id = action_ids.get(call.name)
    if action_id is None:
        raise not_found(f"action {call.name!r} of the running program is not in the P4Info")
    adef = index.actions[action_id]
    out = p4runtime_pb2.Action(action_id=action_id)
    for pdef, value in zip(adef.params, call.params, strict=False):
        out.params.add(param_id=pdef.id, value=encode(value))
    return out


def table_action_from_core(
    action_ids: dict[str, int], index: P4InfoIndex, action: api.EntryAction
) -> p4runtime_pb2.TableAction:
    """P4Runtime table action for a core entry action."""
    match action:
        case api.ActionCall():
            return p4runtime_pb2.TableAction(
                action=action_call_from_core(action_ids, index, action)
            )
        case api.MemberRef(member_id=m):
            return p4runtime_pb2.TableAction(action_profile_member_id=m)
        case api.GroupRef(group_id=g):
            return p4runtime_pb2.TableAction(action_profile_group_id=g)
