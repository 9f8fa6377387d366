"""P4Runtime entities as frozen, name-based dataclasses with proto conversion.

Entities name P4 objects by their P4Info names and hold values as ints; they
are independent of any P4Info until ``to_proto(index)`` resolves names to ids
and encodes values canonically. ``from_proto(index, msg)`` does the reverse,
with full names, so a round trip through a switch compares equal.
:class:`EntityBuilder` parses user-written values ("10.0.0.0/8", ...) and
checks an entry against the P4Info.
May import the standard library, protobuf, the P4Runtime stubs and the lower
layers (:mod:`errors`, :mod:`codec`, :mod:`p4info`); never grpc.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from p4.v1 import p4runtime_pb2

from controller.p4rt import codec
from controller.p4rt.errors import EncodingError, EntityError
from controller.p4rt.p4info import ActionInfo, MatchFieldInfo, P4InfoIndex, TableInfo

logger = logging.getLogger(__name__)


# Match values ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Exact:
    """An exact match on ``value``."""

    value: int


@dataclass(frozen=True, slots=True)
class Lpm:
    """A longest-prefix match: the top ``prefix_len`` bits of ``value``."""

    value: int
    prefix_len: int


@dataclass(frozen=True, slots=True)
class Ternary:
    """A ternary match: key & mask == value."""

    value: int
    mask: int


@dataclass(frozen=True, slots=True)
class Range:
    """A range match: low <= key <= high."""

    low: int
    high: int


@dataclass(frozen=True, slots=True)
class OptionalMatch:
    """An optional match on ``value`` (omit the field for a wildcard)."""

    value: int


FieldMatch = Exact | Lpm | Ternary | Range | OptionalMatch
"""One field of a table key."""


def _is_dont_care(m: FieldMatch, bitwidth: int) -> bool:
    # The spec forbids sending don't-care matches; the field must be omitted.
    match m:
        case Lpm(prefix_len=0):
            return True
        case Ternary(mask=0):
            return True
        case Range(low=0, high=high):
            return high == (1 << bitwidth) - 1
    return False


def _field_to_proto(info: MatchFieldInfo, m: FieldMatch) -> p4runtime_pb2.FieldMatch:
    w = info.bitwidth
    msg = p4runtime_pb2.FieldMatch(field_id=info.id)
    expected = {
        "exact": Exact,
        "lpm": Lpm,
        "ternary": Ternary,
        "range": Range,
        "optional": OptionalMatch,
    }.get(info.match_type)
    if expected is None or not isinstance(m, expected):
        raise EntityError(
            f"match field {info.name!r} is {info.match_type}: got {m!r}, "
            f"expected {expected.__name__ if expected else 'a supported match kind'}"
        )
    match m:
        case Exact(value=v):
            msg.exact.value = codec.encode(v, w)
        case Lpm(value=v, prefix_len=p):
            msg.lpm.value = codec.encode(v & codec.prefix_mask(p, w), w)
            msg.lpm.prefix_len = p
        case Ternary(value=v, mask=mask):
            msg.ternary.value = codec.encode(v & mask, w)
            msg.ternary.mask = codec.encode(mask, w)
        case Range(low=lo, high=hi):
            msg.range.low = codec.encode(lo, w)
            msg.range.high = codec.encode(hi, w)
        case OptionalMatch(value=v):
            msg.optional.value = codec.encode(v, w)
    return msg


def _field_from_proto(info: MatchFieldInfo, msg: p4runtime_pb2.FieldMatch) -> FieldMatch:
    try:
        return _decode_field(info, msg)
    except EncodingError as exc:
        raise EntityError(f"match field {info.name!r}: {exc}") from exc


def _decode_field(info: MatchFieldInfo, msg: p4runtime_pb2.FieldMatch) -> FieldMatch:
    w = info.bitwidth
    kind = msg.WhichOneof("field_match_type")
    if kind == "exact":
        return Exact(codec.decode(msg.exact.value, w))
    if kind == "lpm":
        return Lpm(codec.decode(msg.lpm.value, w), msg.lpm.prefix_len)
    if kind == "ternary":
        return Ternary(codec.decode(msg.ternary.value, w), codec.decode(msg.ternary.mask, w))
    if kind == "range":
        return Range(codec.decode(msg.range.low, w), codec.decode(msg.range.high, w))
    if kind == "optional":
        return OptionalMatch(codec.decode(msg.optional.value, w))
    raise EntityError(f"match field {info.name!r}: unsupported match kind {kind!r}")


def _sorted_items(items: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> tuple[Any, ...]:
    pairs = list(items.items()) if isinstance(items, Mapping) else list(items)
    names = [n for n, _ in pairs]
    if len(set(names)) != len(names):
        raise EntityError(f"duplicate names in {names!r}: expected each name once")
    return tuple(sorted(pairs, key=lambda p: p[0]))


def _action_to_proto(
    index: P4InfoIndex, action: ActionInfo, params: tuple[tuple[str, int], ...]
) -> p4runtime_pb2.Action:
    msg = p4runtime_pb2.Action(action_id=action.id)
    for name, value in params:
        info = action.param(name)
        msg.params.add(param_id=info.id, value=codec.encode(value, info.bitwidth))
    return msg


def _action_from_proto(
    index: P4InfoIndex, msg: p4runtime_pb2.Action
) -> tuple[str, tuple[tuple[str, int], ...]]:
    action = index.action(msg.action_id)
    params = []
    for p in msg.params:
        info = action.param(p.param_id)
        try:
            params.append((info.name, codec.decode(p.value, info.bitwidth)))
        except EncodingError as exc:
            raise EntityError(f"parameter {info.name!r} of action {action.name!r}: {exc}") from exc
    return action.name, _sorted_items(params)


_MAX_PRIORITY = (1 << 31) - 1  # priority is an int32 in p4runtime.proto

# Entities ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TableEntry:
    """A table entry: by action, action profile member or group; or the default entry.

    ``match`` and ``params`` are (name, value) pairs kept sorted by name, so
    equality does not depend on the order they were given in. A TableEntry
    with only ``table`` set reads every entry of that table. ``is_const``
    is only ever set by a Read (a const entry) and takes no part in equality.
    """

    table: str
    match: tuple[tuple[str, FieldMatch], ...] = ()
    action: str | None = None
    params: tuple[tuple[str, int], ...] = ()
    priority: int = 0
    is_default: bool = False
    member_id: int | None = None
    group_id: int | None = None
    is_const: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        """Sort match fields and params by name."""
        object.__setattr__(self, "match", _sorted_items(self.match))
        object.__setattr__(self, "params", _sorted_items(self.params))
        if self.params and self.action is None:
            raise EntityError(
                f"table entry for {self.table!r} has params {self.params!r} but no action"
            )
        refs = sum(x is not None for x in (self.action, self.member_id, self.group_id))
        if refs > 1:
            raise EntityError(
                f"table entry for {self.table!r} names {refs} of action, member_id and "
                "group_id: expected at most one"
            )

    def match_dict(self) -> dict[str, FieldMatch]:
        """Return the match as a dict from field name to value."""
        return dict(self.match)

    def param_dict(self) -> dict[str, int]:
        """Return the action parameters as a dict."""
        return dict(self.params)

    def key(self) -> tuple[Any, ...]:
        """Return what identifies the entry in its table (match and priority)."""
        if self.is_default:
            return ("default", self.table)
        return ("table", self.table, self.match, self.priority)

    def to_proto(self, index: P4InfoIndex) -> p4runtime_pb2.Entity:
        """Encode as a P4Runtime Entity; names may be aliases."""
        table = index.table(self.table)
        msg = p4runtime_pb2.Entity()
        te = msg.table_entry
        te.table_id = table.id
        if not 0 <= self.priority <= _MAX_PRIORITY:
            raise EntityError(
                f"table entry of {table.name!r}: priority {self.priority!r} out of range "
                f"0..{_MAX_PRIORITY}"
            )
        te.priority = self.priority
        if self.is_default:
            if self.match:
                raise EntityError(
                    f"default entry of table {table.name!r} has a match {self.match!r}: "
                    "expected none"
                )
            te.is_default_action = True
        # Fields go out in P4Info order (by id), whatever order names sort in.
        fields = sorted(((table.match_field(n), m) for n, m in self.match), key=lambda p: p[0].id)
        for info, m in fields:
            if not _is_dont_care(m, info.bitwidth):
                te.match.append(_field_to_proto(info, m))
        if self.action is not None:
            action = index.table_action(table, self.action)
            te.action.action.CopyFrom(_action_to_proto(index, action, self.params))
        elif self.member_id is not None:
            te.action.action_profile_member_id = self.member_id
        elif self.group_id is not None:
            te.action.action_profile_group_id = self.group_id
        return msg

    @classmethod
    def from_proto(cls, index: P4InfoIndex, msg: p4runtime_pb2.Entity) -> TableEntry:
        """Decode a P4Runtime Entity holding a table_entry."""
        if msg.WhichOneof("entity") != "table_entry":
            raise EntityError(f"expected a table_entry entity, got {msg.WhichOneof('entity')!r}")
        te = msg.table_entry
        table = index.table(te.table_id)
        match = [
            (
                table.match_field(f.field_id).name,
                _field_from_proto(table.match_field(f.field_id), f),
            )
            for f in te.match
        ]
        action: str | None = None
        params: tuple[tuple[str, int], ...] = ()
        member_id = group_id = None
        kind = te.action.WhichOneof("type") if te.HasField("action") else None
        if kind == "action":
            action, params = _action_from_proto(index, te.action.action)
        elif kind == "action_profile_member_id":
            member_id = te.action.action_profile_member_id
        elif kind == "action_profile_group_id":
            group_id = te.action.action_profile_group_id
        elif kind is not None:
            raise EntityError(f"table entry of {table.name!r}: unsupported action kind {kind!r}")
        return cls(
            table=table.name,
            match=tuple(match),
            action=action,
            params=params,
            priority=te.priority,
            is_default=te.is_default_action,
            member_id=member_id,
            group_id=group_id,
            is_const=te.is_const,
        )


@dataclass(frozen=True, slots=True)
class ActionProfileMember:
    """A member of an action profile: an action with its parameters."""

    profile: str
    member_id: int
    action: str | None = None
    params: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        """Sort params by name."""
        object.__setattr__(self, "params", _sorted_items(self.params))

    def key(self) -> tuple[Any, ...]:
        """Return the identity: profile and member id."""
        return ("member", self.profile, self.member_id)

    def to_proto(self, index: P4InfoIndex) -> p4runtime_pb2.Entity:
        """Encode as a P4Runtime Entity."""
        profile = index.action_profile(self.profile)
        msg = p4runtime_pb2.Entity()
        m = msg.action_profile_member
        m.action_profile_id = profile.id
        m.member_id = self.member_id
        if self.action is not None:
            m.action.CopyFrom(_action_to_proto(index, index.action(self.action), self.params))
        return msg

    @classmethod
    def from_proto(cls, index: P4InfoIndex, msg: p4runtime_pb2.Entity) -> ActionProfileMember:
        """Decode a P4Runtime Entity holding an action_profile_member."""
        m = msg.action_profile_member
        action: str | None = None
        params: tuple[tuple[str, int], ...] = ()
        if m.HasField("action"):
            action, params = _action_from_proto(index, m.action)
        return cls(index.action_profile(m.action_profile_id).name, m.member_id, action, params)


@dataclass(frozen=True, slots=True)
class ActionProfileGroup:
    """A group of an action selector: (member_id, weight) pairs, sorted by member id."""

    profile: str
    group_id: int
    members: tuple[tuple[int, int], ...] = ()
    max_size: int = 0

    def __post_init__(self) -> None:
        """Sort members by id."""
        object.__setattr__(self, "members", tuple(sorted(self.members)))

    def key(self) -> tuple[Any, ...]:
        """Return the identity: profile and group id."""
        return ("group", self.profile, self.group_id)

    def to_proto(self, index: P4InfoIndex) -> p4runtime_pb2.Entity:
        """Encode as a P4Runtime Entity."""
        msg = p4runtime_pb2.Entity()
        g = msg.action_profile_group
        g.action_profile_id = index.action_profile(self.profile).id
        g.group_id = self.group_id
        g.max_size = self.max_size
        for member_id, weight in self.members:
            g.members.add(member_id=member_id, weight=weight)
        return msg

    @classmethod
    def from_proto(cls, index: P4InfoIndex, msg: p4runtime_pb2.Entity) -> ActionProfileGroup:
        """Decode a P4Runtime Entity holding an action_profile_group."""
        g = msg.action_profile_group
        return cls(
            index.action_profile(g.action_profile_id).name,
            g.group_id,
            tuple((m.member_id, m.weight) for m in g.members),
            g.max_size,
        )


@dataclass(frozen=True, slots=True)
class CounterEntry:
    """A cell of an indirect counter; ``index`` None reads every cell."""

    counter: str
    index: int | None = None
    packet_count: int = 0
    byte_count: int = 0

    def key(self) -> tuple[Any, ...]:
        """Return the identity: counter and cell index."""
        return ("counter", self.counter, self.index)

    def to_proto(self, index: P4InfoIndex) -> p4runtime_pb2.Entity:
        """Encode as a P4Runtime Entity."""
        msg = p4runtime_pb2.Entity()
        c = msg.counter_entry
        c.counter_id = index.counter(self.counter).id
        if self.index is not None:
            c.index.index = self.index
        if self.packet_count or self.byte_count:
            c.data.packet_count = self.packet_count
            c.data.byte_count = self.byte_count
        return msg

    @classmethod
    def from_proto(cls, index: P4InfoIndex, msg: p4runtime_pb2.Entity) -> CounterEntry:
        """Decode a P4Runtime Entity holding a counter_entry."""
        c = msg.counter_entry
        return cls(
            index.counter(c.counter_id).name,
            c.index.index if c.HasField("index") else None,
            c.data.packet_count,
            c.data.byte_count,
        )


@dataclass(frozen=True, slots=True)
class DirectCounterEntry:
    """The direct counter cell of one table entry."""

    table_entry: TableEntry
    packet_count: int = 0
    byte_count: int = 0

    def key(self) -> tuple[Any, ...]:
        """Return the identity: the table entry's key."""
        return ("direct_counter", *self.table_entry.key())

    def to_proto(self, index: P4InfoIndex) -> p4runtime_pb2.Entity:
        """Encode as a P4Runtime Entity."""
        msg = p4runtime_pb2.Entity()
        d = msg.direct_counter_entry
        d.table_entry.CopyFrom(self.table_entry.to_proto(index).table_entry)
        if self.packet_count or self.byte_count:
            d.data.packet_count = self.packet_count
            d.data.byte_count = self.byte_count
        return msg

    @classmethod
    def from_proto(cls, index: P4InfoIndex, msg: p4runtime_pb2.Entity) -> DirectCounterEntry:
        """Decode a P4Runtime Entity holding a direct_counter_entry."""
        d = msg.direct_counter_entry
        te = TableEntry.from_proto(index, p4runtime_pb2.Entity(table_entry=d.table_entry))
        return cls(te, d.data.packet_count, d.data.byte_count)


@dataclass(frozen=True, slots=True)
class MeterConfig:
    """Two-rate three-colour meter rates (units per second) and bursts."""

    cir: int
    cburst: int
    pir: int
    pburst: int


@dataclass(frozen=True, slots=True)
class MeterEntry:
    """A cell of an indirect meter; ``config`` None means the default (all green)."""

    meter: str
    index: int | None = None
    config: MeterConfig | None = None

    def key(self) -> tuple[Any, ...]:
        """Return the identity: meter and cell index."""
        return ("meter", self.meter, self.index)

    def to_proto(self, index: P4InfoIndex) -> p4runtime_pb2.Entity:
        """Encode as a P4Runtime Entity."""
        msg = p4runtime_pb2.Entity()
        m = msg.meter_entry
        m.meter_id = index.meter(self.meter).id
        if self.index is not None:
            m.index.index = self.index
        if self.config is not None:
            c = self.config
            m.config.CopyFrom(
                p4runtime_pb2.MeterConfig(cir=c.cir, cburst=c.cburst, pir=c.pir, pburst=c.pburst)
            )
        return msg

    @classmethod
    def from_proto(cls, index: P4InfoIndex, msg: p4runtime_pb2.Entity) -> MeterEntry:
        """Decode a P4Runtime Entity holding a meter_entry."""
        m = msg.meter_entry
        config = None
        if m.HasField("config"):
            c = m.config
            config = MeterConfig(c.cir, c.cburst, c.pir, c.pburst)
        return cls(
            index.meter(m.meter_id).name, m.index.index if m.HasField("index") else None, config
        )


@dataclass(frozen=True, slots=True)
class RegisterEntry:
    """A cell of a bit<W> register; ``index`` None reads every cell."""

    register: str
    index: int | None = None
    value: int | None = None

    def key(self) -> tuple[Any, ...]:
        """Return the identity: register and cell index."""
        return ("register", self.register, self.index)

    def to_proto(self, index: P4InfoIndex) -> p4runtime_pb2.Entity:
        """Encode as a P4Runtime Entity."""
        info = index.register(self.register)
        msg = p4runtime_pb2.Entity()
        r = msg.register_entry
        r.register_id = info.id
        if self.index is not None:
            if not 0 <= self.index < info.size:
                raise EntityError(
                    f"register {info.name!r}: index {self.index!r} out of range 0..{info.size - 1}"
                )
            r.index.index = self.index
        if self.value is not None:
            if info.bitwidth == 0:
                raise EntityError(f"register {info.name!r} is not a bit<W> register")
            r.data.bitstring = codec.encode(self.value, info.bitwidth)
        return msg

    @classmethod
    def from_proto(cls, index: P4InfoIndex, msg: p4runtime_pb2.Entity) -> RegisterEntry:
        """Decode a P4Runtime Entity holding a register_entry."""
        r = msg.register_entry
        info = index.register(r.register_id)
        value = None
        if r.HasField("data"):
            kind = r.data.WhichOneof("data")
            if kind != "bitstring":
                raise EntityError(f"register {info.name!r}: unsupported data kind {kind!r}")
            value = codec.decode(r.data.bitstring, info.bitwidth or None)
        return cls(info.name, r.index.index if r.HasField("index") else None, value)


@dataclass(frozen=True, slots=True)
class Replica:
    """A packet copy to ``port`` with replication ``instance``."""

    port: int
    instance: int = 0


def _replicas_to_proto(replicas: tuple[Replica, ...], out: Any) -> None:
    for r in replicas:
        # egress_port (deprecated in 1.4 for the bytes 'port') is what
        # BMv2-era servers read, so it stays the encoding used here.
        out.add(egress_port=r.port, instance=r.instance)


def _replicas_from_proto(replicas: Iterable[p4runtime_pb2.Replica]) -> tuple[Replica, ...]:
    out = []
    for r in replicas:
        port = codec.decode(r.port) if r.WhichOneof("port_kind") == "port" else r.egress_port
        out.append(Replica(port, r.instance))
    return tuple(sorted(out, key=lambda x: (x.port, x.instance)))


@dataclass(frozen=True, slots=True)
class MulticastGroupEntry:
    """A multicast group of the packet replication engine."""

    group_id: int
    replicas: tuple[Replica, ...] = ()

    def __post_init__(self) -> None:
        """Sort replicas by (port, instance)."""
        object.__setattr__(
            self, "replicas", tuple(sorted(self.replicas, key=lambda x: (x.port, x.instance)))
        )

    def key(self) -> tuple[Any, ...]:
        """Return the identity: the group id."""
        return ("multicast", self.group_id)

    def to_proto(self, index: P4InfoIndex) -> p4runtime_pb2.Entity:
        """Encode as a P4Runtime Entity (``index`` is unused: PRE entities have no P4Info)."""
        msg = p4runtime_pb2.Entity()
        g = msg.packet_replication_engine_entry.multicast_group_entry
        g.multicast_group_id = self.group_id
        _replicas_to_proto(self.replicas, g.replicas)
        return msg

    @classmethod
    def from_proto(cls, index: P4InfoIndex, msg: p4runtime_pb2.Entity) -> MulticastGroupEntry:
        """Decode a P4Runtime Entity holding a multicast_group_entry."""
        g = msg.packet_replication_engine_entry.multicast_group_entry
        return cls(g.multicast_group_id, _replicas_from_proto(g.replicas))


@dataclass(frozen=True, slots=True)
class CloneSessionEntry:
    """A clone (mirror) session of the packet replication engine."""

    session_id: int
    replicas: tuple[Replica, ...] = ()
    class_of_service: int = 0
    packet_length_bytes: int = 0

    def __post_init__(self) -> None:
        """Sort replicas by (port, instance)."""
        object.__setattr__(
            self, "replicas", tuple(sorted(self.replicas, key=lambda x: (x.port, x.instance)))
        )

    def key(self) -> tuple[Any, ...]:
        """Return the identity: the session id."""
        return ("clone", self.session_id)

    def to_proto(self, index: P4InfoIndex) -> p4runtime_pb2.Entity:
        """Encode as a P4Runtime Entity (``index`` is unused: PRE entities have no P4Info)."""
        msg = p4runtime_pb2.Entity()
        s = msg.packet_replication_engine_entry.clone_session_entry
        s.session_id = self.session_id
        s.class_of_service = self.class_of_service
        s.packet_length_bytes = self.packet_length_bytes
        _replicas_to_proto(self.replicas, s.replicas)
        return msg

    @classmethod
    def from_proto(cls, index: P4InfoIndex, msg: p4runtime_pb2.Entity) -> CloneSessionEntry:
        """Decode a P4Runtime Entity holding a clone_session_entry."""
        s = msg.packet_replication_engine_entry.clone_session_entry
        return cls(
            s.session_id,
            _replicas_from_proto(s.replicas),
            s.class_of_service,
            s.packet_length_bytes,
        )


@dataclass(frozen=True, slots=True)
class DigestEntry:
    """The configuration of a digest; switches send no digest lists until it is written.

    With ``max_list_size`` 1 and ``max_timeout_ns`` 0 every message goes out
    alone and at once. ``config`` False reads or deletes by name only.
    """

    digest: str
    max_timeout_ns: int = 0
    max_list_size: int = 1
    ack_timeout_ns: int = 1_000_000_000
    config: bool = True

    def key(self) -> tuple[Any, ...]:
        """Return the identity: the digest name."""
        return ("digest", self.digest)

    def to_proto(self, index: P4InfoIndex) -> p4runtime_pb2.Entity:
        """Encode as a P4Runtime Entity."""
        msg = p4runtime_pb2.Entity()
        d = msg.digest_entry
        d.digest_id = index.digest(self.digest).id
        if self.config:
            d.config.max_timeout_ns = self.max_timeout_ns
            d.config.max_list_size = self.max_list_size
            d.config.ack_timeout_ns = self.ack_timeout_ns
        return msg

    @classmethod
    def from_proto(cls, index: P4InfoIndex, msg: p4runtime_pb2.Entity) -> DigestEntry:
        """Decode a P4Runtime Entity holding a digest_entry."""
        d = msg.digest_entry
        name = index.digest(d.digest_id).name
        if not d.HasField("config"):
            return cls(name, config=False)
        c = d.config
        return cls(name, c.max_timeout_ns, c.max_list_size, c.ack_timeout_ns)


Entity = (
    TableEntry
    | ActionProfileMember
    | ActionProfileGroup
    | CounterEntry
    | DirectCounterEntry
    | MeterEntry
    | RegisterEntry
    | MulticastGroupEntry
    | CloneSessionEntry
    | DigestEntry
)
"""Any entity this layer can write or read."""


def entity_from_proto(index: P4InfoIndex, msg: p4runtime_pb2.Entity) -> Entity:
    """Decode any supported P4Runtime Entity into its dataclass."""
    kind = msg.WhichOneof("entity")
    match kind:
        case "table_entry":
            return TableEntry.from_proto(index, msg)
        case "action_profile_member":
            return ActionProfileMember.from_proto(index, msg)
        case "action_profile_group":
            return ActionProfileGroup.from_proto(index, msg)
        case "counter_entry":
            return CounterEntry.from_proto(index, msg)
        case "direct_counter_entry":
            return DirectCounterEntry.from_proto(index, msg)
        case "meter_entry":
            return MeterEntry.from_proto(index, msg)
        case "register_entry":
            return RegisterEntry.from_proto(index, msg)
        case "digest_entry":
            return DigestEntry.from_proto(index, msg)
        case "packet_replication_engine_entry":
            pre = msg.packet_replication_engine_entry
            if pre.WhichOneof("type") == "clone_session_entry":
                return CloneSessionEntry.from_proto(index, msg)
            return MulticastGroupEntry.from_proto(index, msg)
    raise EntityError(f"unsupported entity kind {kind!r}")


class UpdateType(enum.StrEnum):
    """The kind of a Write update."""

    INSERT = "INSERT"
    MODIFY = "MODIFY"
    DELETE = "DELETE"


_UPDATE_TYPES = {
    UpdateType.INSERT: p4runtime_pb2.Update.INSERT,
    UpdateType.MODIFY: p4runtime_pb2.Update.MODIFY,
    UpdateType.DELETE: p4runtime_pb2.Update.DELETE,
}


@dataclass(frozen=True, slots=True)
class Update:
    """One update of a Write: an entity and what to do with it."""

    type: UpdateType
    entity: Entity

    def to_proto(self, index: P4InfoIndex) -> p4runtime_pb2.Update:
        """Encode as a P4Runtime Update."""
        return p4runtime_pb2.Update(
            type=_UPDATE_TYPES[self.type], entity=self.entity.to_proto(index)
        )


def inserts(entities: Iterable[Entity]) -> list[Update]:
    """Wrap entities as INSERT updates."""
    return [Update(UpdateType.INSERT, e) for e in entities]


def modifies(entities: Iterable[Entity]) -> list[Update]:
    """Wrap entities as MODIFY updates."""
    return [Update(UpdateType.MODIFY, e) for e in entities]


def deletes(entities: Iterable[Entity]) -> list[Update]:
    """Wrap entities as DELETE updates."""
    return [Update(UpdateType.DELETE, e) for e in entities]


# Builder -----------------------------------------------------------------------

MatchInput = Any
"""A user-written match value: int, str ("10.0.0.0/8", "v&&&m", "lo..hi"), tuple or FieldMatch."""


@dataclass(frozen=True, slots=True)
class EntityBuilder:
    """Builds checked entities from names and user-written values for one P4Info."""

    index: P4InfoIndex

    def match_value(self, table: TableInfo, name: str, value: MatchInput) -> FieldMatch | None:
        """Parse one match value for field ``name`` of ``table``; None means don't care."""
        info = table.match_field(name)
        w = info.bitwidth
        if value is None:
            if info.match_type == "exact":
                raise EntityError(
                    f"match field {info.name!r} of table {table.name!r} is exact: "
                    "expected a value, got None"
                )
            return None
        kind = info.match_type
        try:
            if isinstance(value, Exact | Lpm | Ternary | Range | OptionalMatch):
                _field_to_proto(info, value)
                return value
            if kind == "exact":
                return Exact(codec.parse_value(value, w))
            if kind == "lpm":
                return Lpm(*codec.parse_lpm(value, w))
            if kind == "ternary":
                return Ternary(*codec.parse_ternary(value, w))
            if kind == "range":
                return Range(*codec.parse_range(value, w))
            if kind == "optional":
                return OptionalMatch(codec.parse_value(value, w))
        except EncodingError as exc:
            raise EntityError(f"match field {info.name!r} of table {table.name!r}: {exc}") from exc
        raise EntityError(f"match field {info.name!r}: unsupported match kind {kind!r}")

    def params(self, action: ActionInfo, params: Mapping[str, Any]) -> tuple[tuple[str, int], ...]:
        """Parse and check the parameters of ``action``: every one, no others."""
        given = dict(params)
        out = []
        for p in action.params:
            if p.name not in given:
                raise EntityError(
                    f"action {action.name!r} is missing parameter {p.name!r} "
                    f"(expected {[q.name for q in action.params]!r})"
                )
            try:
                out.append((p.name, codec.parse_value(given.pop(p.name), p.bitwidth)))
            except EncodingError as exc:
                raise EntityError(f"parameter {p.name!r} of action {action.name!r}: {exc}") from exc
        if given:
            action.param(next(iter(given)))  # raises with a suggestion
        return tuple(out)

    def table_entry(
        self,
        table: str,
        match: Mapping[str, MatchInput] | None = None,
        action: str | None = None,
        params: Mapping[str, Any] | None = None,
        *,
        priority: int | None = None,
        is_default: bool = False,
        member_id: int | None = None,
        group_id: int | None = None,
    ) -> TableEntry:
        """Return a checked TableEntry with full names and parsed values."""
        info = self.index.table(table)
        fields: list[tuple[str, FieldMatch]] = []
        for name, value in (match or {}).items():
            parsed = self.match_value(info, name, value)
            if parsed is not None and not _is_dont_care(parsed, info.match_field(name).bitwidth):
                fields.append((info.match_field(name).name, parsed))
        if not is_default:
            given = {n for n, _ in fields}
            for f in info.match_fields:
                if f.match_type == "exact" and f.name not in given:
                    raise EntityError(
                        f"table {info.name!r} needs a value for exact match field {f.name!r}"
                    )
        if is_default and match:
            raise EntityError(f"default entry of table {info.name!r}: expected no match")
        if info.needs_priority and not is_default:
            if priority is None or not 0 < priority <= _MAX_PRIORITY:
                raise EntityError(
                    f"table {info.name!r} has ternary, range or optional fields: "
                    f"expected a priority in 1..{_MAX_PRIORITY}, got {priority!r}"
                )
        elif priority:
            raise EntityError(
                f"table {info.name!r} takes no priority (only exact/lpm fields), got {priority!r}"
            )
        action_name = None
        parsed_params: tuple[tuple[str, int], ...] = ()
        if action is not None:
            ainfo = self.index.table_action(info, action)
            action_name = ainfo.name
            parsed_params = self.params(ainfo, params or {})
        elif params:
            raise EntityError(f"table entry of {info.name!r} has params but no action")
        if (member_id is not None or group_id is not None) and not info.implementation_id:
            raise EntityError(
                f"table {info.name!r} has no action profile: use an action, not a member or group"
            )
        if action is not None and info.implementation_id:
            raise EntityError(
                f"table {info.name!r} is implemented by an action profile: "
                f"use member_id or group_id, not action {action!r}"
            )
        return TableEntry(
            table=info.name,
            match=tuple(fields),
            action=action_name,
            params=parsed_params,
            priority=priority or 0,
            is_default=is_default,
            member_id=member_id,
            group_id=group_id,
        )

    def member(
        self, profile: str, member_id: int, action: str, params: Mapping[str, Any] | None = None
    ) -> ActionProfileMember:
        """Return a checked action profile member."""
        pinfo = self.index.action_profile(profile)
        ainfo = self.index.action(action)
        for tid in pinfo.table_ids:
            self.index.table_action(self.index.table(tid), ainfo.id)
        return ActionProfileMember(
            pinfo.name, member_id, ainfo.name, self.params(ainfo, params or {})
        )

    def group(
        self,
        profile: str,
        group_id: int,
        members: Mapping[int, int] | Iterable[int],
        max_size: int = 0,
    ) -> ActionProfileGroup:
        """Return a checked group; ``members`` maps member id to weight, or lists ids."""
        pinfo = self.index.action_profile(profile)
        if not pinfo.with_selector:
            raise EntityError(f"action profile {pinfo.name!r} has no selector: it takes no groups")
        pairs = list(members.items()) if isinstance(members, Mapping) else [(m, 1) for m in members]
        for member, weight in pairs:
            if weight <= 0:
                raise EntityError(
                    f"group {group_id} of {pinfo.name!r}: member {member} has weight {weight!r}, "
                    "expected > 0"
                )
        limit = max_size or pinfo.max_group_size
        if limit and len(pairs) > limit:
            raise EntityError(
                f"group {group_id} of {pinfo.name!r} has {len(pairs)} members: expected <= {limit}"
            )
        return ActionProfileGroup(pinfo.name, group_id, tuple(pairs), max_size)

    def register(self, register: str, index: int, value: codec.UserValue) -> RegisterEntry:
        """Return a checked register cell write."""
        info = self.index.register(register)
        if not 0 <= index < info.size:
            raise EntityError(
                f"register {info.name!r}: index {index!r} out of range 0..{info.size - 1}"
            )
        return RegisterEntry(info.name, index, codec.parse_value(value, info.bitwidth))
