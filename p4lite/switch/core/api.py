"""Public runtime API of the p4lite switch core: value types, errors, the Switch protocol.

This module is the contract between the BMv2 JSON interpreter (``p4lite.switch.core``)
and its users: the P4Runtime server, port drivers, the STF runner and tests. It may
import only the standard library.

Conventions, chosen so a P4Runtime server can map id-based entities with the P4Info
beside it (P4Info ``preamble.name`` is the BMv2 name used here):

* Objects are named as in the BMv2 JSON and P4Info: ``MyIngress.t_fwd``,
  ``MyIngress.fwd``, ``NoAction``, ``MyIngress.cnt``.
* Match values are given per key, in the table's key order (the P4Info
  ``match_fields`` order); ``None`` means "don't care" (an omitted P4Runtime field)
  for lpm, ternary, range and optional keys.
* Action parameters are ints in the action's parameter order (P4Info ``params``).
* ``priority``: larger wins, as in P4Runtime (BMv2's CLI uses the opposite).
* Meter rates are in units per microsecond and bursts in units, as in
  ``simple_switch_CLI meter_set_rates``.
* Times (``ingress_global_timestamp`` etc.) are microseconds from the switch clock.
* Idle timeout (BMv2's ageing): only tables whose JSON says ``support_timeout``
  record when each entry is hit; an entry's TTL is in microseconds, 0 never ages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

# ---------------------------------------------------------------------------
# Errors: one base for the whole switch core.


class SwitchError(Exception):
    """Base of every error raised by the switch core."""


class LoadError(SwitchError):
    """The BMv2 JSON is invalid or uses something the core does not implement.

    The message starts with the JSON path of the bad node, e.g.
    ``pipelines[0].tables[3].key[1].match_type: unknown match type 'foo'``.
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.detail = message


class RuntimeApiError(SwitchError):
    """A control-plane call was rejected; subclasses say why."""


class NotFoundError(RuntimeApiError):
    """The named object, entry handle, member, group, node or session does not exist."""


class AlreadyExistsError(RuntimeApiError):
    """An entry with the same key (and priority), or the same id, already exists."""


class InvalidArgumentError(RuntimeApiError):
    """A value does not fit: wrong key count, bad width, unknown action for the table..."""


class TableFullError(RuntimeApiError):
    """The table already holds ``max_size`` entries."""


class ConstTableError(RuntimeApiError):
    """The table's entries or default action are const and cannot be changed."""


class InUseError(RuntimeApiError):
    """A member or group cannot be deleted while a group or a table entry uses it."""


# ---------------------------------------------------------------------------
# Match values.


@dataclass(frozen=True, slots=True)
class ExactMatch:
    """Exact key value."""

    value: int


@dataclass(frozen=True, slots=True)
class LpmMatch:
    """Longest-prefix key: value and prefix length in bits."""

    value: int
    prefix_len: int


@dataclass(frozen=True, slots=True)
class TernaryMatch:
    """Ternary key: the key matches when ``key & mask == value & mask``."""

    value: int
    mask: int


@dataclass(frozen=True, slots=True)
class RangeMatch:
    """Range key: ``low <= key <= high``."""

    low: int
    high: int


@dataclass(frozen=True, slots=True)
class OptionalMatch:
    """Optional key (v1model ``optional``): exact value; use ``None`` for don't care."""

    value: int


KeyMatch = ExactMatch | LpmMatch | TernaryMatch | RangeMatch | OptionalMatch


class MatchKind(Enum):
    """Match kind of one table key, as named in the BMv2 JSON."""

    EXACT = "exact"
    LPM = "lpm"
    TERNARY = "ternary"
    RANGE = "range"
    OPTIONAL = "optional"
    VALID = "valid"


# ---------------------------------------------------------------------------
# Actions and entries.


@dataclass(frozen=True, slots=True)
class ActionCall:
    """An action by name with its parameter values in declaration order."""

    name: str
    params: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class MemberRef:
    """A table entry's action given by an action-profile member id."""

    member_id: int


@dataclass(frozen=True, slots=True)
class GroupRef:
    """A table entry's action given by an action-selector group id."""

    group_id: int


EntryAction = ActionCall | MemberRef | GroupRef


@dataclass(frozen=True, slots=True)
class CounterValue:
    """Packet and byte counts of one counter cell (BMv2 always keeps both)."""

    packets: int = 0
    bytes: int = 0


@dataclass(frozen=True, slots=True)
class MeterRates:
    """Two-rate three-colour meter config: rates in units/µs, bursts in units."""

    cir: float
    cburst: int
    pir: float
    pburst: int


@dataclass(frozen=True, slots=True)
class TableEntry:
    """A snapshot of one table entry."""

    handle: int
    matches: tuple[KeyMatch | None, ...]
    action: EntryAction
    priority: int = 0
    counter: CounterValue | None = None
    meter: MeterRates | None = None
    is_const: bool = False
    ttl_us: int = 0
    # Microseconds since the entry was last hit (or inserted); None unless the
    # table supports idle timeout.
    time_since_hit_us: int | None = None


# ---------------------------------------------------------------------------
# Program description (what the loaded JSON declares).


@dataclass(frozen=True, slots=True)
class ParamInfo:
    """One action parameter."""

    name: str
    bitwidth: int


@dataclass(frozen=True, slots=True)
class ActionInfo:
    """One action of the program."""

    name: str
    id: int
    params: tuple[ParamInfo, ...]


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """One key field of a table; ``name`` is the P4Info match-field name."""

    name: str
    match_kind: MatchKind
    bitwidth: int


@dataclass(frozen=True, slots=True)
class TableInfo:
    """One table: keys, actions, size, implementation and direct resources."""

    name: str
    keys: tuple[KeyInfo, ...]
    actions: tuple[str, ...]
    max_size: int
    match_type: str
    action_profile: str | None = None
    with_selector: bool = False
    direct_counter: str | None = None
    direct_meter: str | None = None
    const_entries: bool = False
    const_default_action: bool = False
    default_action: ActionCall | None = None
    needs_priority: bool = False
    support_timeout: bool = False


@dataclass(frozen=True, slots=True)
class ArrayInfo:
    """A register, counter or meter array (``kind`` says which)."""

    name: str
    kind: str
    size: int
    bitwidth: int = 0
    is_direct: bool = False
    binding: str | None = None
    packet_units: bool = False


@dataclass(frozen=True, slots=True)
class ActionProfileInfo:
    """An action profile or selector and the tables that use it."""

    name: str
    size: int
    with_selector: bool
    tables: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DigestInfo:
    """A learn list: its name and field names in order."""

    name: str
    id: int
    fields: tuple[str, ...]


# ---------------------------------------------------------------------------
# PRE, digests, stats.


@dataclass(frozen=True, slots=True)
class Replica:
    """One copy of a multicast packet: its egress port and replication id."""

    port: int
    rid: int


@dataclass(frozen=True, slots=True)
class CloneSession:
    """A mirror session: clones go to ``port``, or to multicast group ``mgrp`` when set."""

    port: int | None = None
    mgrp: int | None = None
    truncate_length: int = 0


@dataclass(frozen=True, slots=True)
class Digest:
    """One digest message: the learn list's name and its field values in order."""

    name: str
    values: tuple[int, ...]
    timestamp_us: int = 0


@dataclass(frozen=True, slots=True)
class IdleSweep:
    """What one ageing sweep found: idle entries and when the next one may be due."""

    # (table, handle) of every entry not hit for its TTL since its last hit or
    # its last report; each one's idle timer restarts with this report.
    aged: tuple[tuple[str, int], ...] = ()
    # Microseconds until the earliest entry may age, None when no entry has a TTL.
    next_due_us: int | None = None


@dataclass(frozen=True, slots=True)
class PortStats:
    """Per-port packet counters kept by the switch."""

    rx: int = 0
    tx: int = 0
    dropped: int = 0
    malformed: int = 0


@dataclass(frozen=True, slots=True)
class SwitchOptions:
    """Options of ``Switch.from_json``."""

    cpu_port: int | None = None
    drop_port: int = 511
    max_recirculations: int = 16
    clock_us: Callable[[], int] | None = None
    seed: int | None = None
    # simple_switch --priority-queues: a packet whose priority is >= this is dropped.
    priority_queues: int = 1
    extra: Mapping[str, Any] = field(default_factory=dict)


PacketOut = tuple[int, bytes]
PacketHandler = Callable[[int, bytes], None]
DigestHandler = Callable[[Digest], None]


class SwitchApi(Protocol):
    """Everything a server, a port driver or a test may call on a loaded switch.

    Create one with ``p4lite.switch.core.Switch.from_json(text_or_dict, options)``;
    it raises ``LoadError``. All methods below raise ``RuntimeApiError`` subclasses.
    Calls are serialised on one re-entrant lock, so ports and a server may call from
    different threads; handlers run on the thread that called ``process``, under
    that lock, and must not block.
    """

    # -- packets ---------------------------------------------------------
    def process(self, port: int, data: bytes) -> list[PacketOut]:
        """Process one packet to completion; return its outputs in BMv2's order.

        Packets for the CPU port go to the packet-in handler instead when one is set.
        Never raises on packet content: bad packets are dropped and counted.
        """
        ...

    def set_packet_in_handler(self, handler: PacketHandler | None) -> None:
        """Send packets for ``options.cpu_port`` to ``handler(port, data)``."""
        ...

    def set_digest_handler(self, handler: DigestHandler | None) -> None:
        """Deliver digests to ``handler``; without one they queue for ``poll_digests``."""
        ...

    def poll_digests(self) -> list[Digest]:
        """Return and clear the queued digests."""
        ...

    def port_stats(self, port: int) -> PortStats:
        """Return the counters of one port (zeros for a port never seen)."""
        ...

    # -- program description --------------------------------------------
    def tables(self) -> list[TableInfo]:
        """All tables of all pipelines, including p4c's hidden ``tbl_*`` tables."""
        ...

    def table_info(self, table: str) -> TableInfo:
        """One table by name."""
        ...

    def action_info(self, action: str) -> ActionInfo:
        """One action by name."""
        ...

    def arrays(self) -> list[ArrayInfo]:
        """All registers, counters and meters (direct ones included)."""
        ...

    def action_profiles(self) -> list[ActionProfileInfo]:
        """All action profiles and selectors."""
        ...

    def digests_info(self) -> list[DigestInfo]:
        """All learn lists."""
        ...

    # -- tables ----------------------------------------------------------
    def add_entry(
        self,
        table: str,
        matches: Sequence[KeyMatch | None],
        action: EntryAction,
        priority: int = 0,
    ) -> int:
        """Add an entry and return its handle."""
        ...

    def modify_entry(self, table: str, handle: int, action: EntryAction) -> None:
        """Replace an entry's action (its direct counter is kept)."""
        ...

    def delete_entry(self, table: str, handle: int) -> None:
        """Delete an entry by handle."""
        ...

    def find_entry(
        self, table: str, matches: Sequence[KeyMatch | None], priority: int = 0
    ) -> int | None:
        """Return the handle of the entry with exactly this key and priority."""
        ...

    def entries(self, table: str) -> list[TableEntry]:
        """Snapshot of all entries, in handle order."""
        ...

    def get_entry(self, table: str, handle: int) -> TableEntry:
        """Snapshot of one entry."""
        ...

    def clear_table(self, table: str) -> None:
        """Delete every non-const entry."""
        ...

    def set_default_action(self, table: str, action: ActionCall) -> None:
        """Replace the default action (``ConstTableError`` if const)."""
        ...

    def reset_default_action(self, table: str) -> None:
        """Restore the program's default action."""
        ...

    def get_default_action(self, table: str) -> ActionCall | None:
        """The current default action (None for action-profile tables)."""
        ...

    # -- direct resources ------------------------------------------------
    def read_direct_counter(self, table: str, handle: int) -> CounterValue:
        """Direct counter of one entry."""
        ...

    def write_direct_counter(self, table: str, handle: int, value: CounterValue) -> None:
        """Overwrite the direct counter of one entry."""
        ...

    def set_direct_meter_rates(self, table: str, handle: int, rates: MeterRates | None) -> None:
        """Configure (or with None, unconfigure) the direct meter of one entry."""
        ...

    # -- idle timeout (ageing) -------------------------------------------
    def set_entry_ttl(self, table: str, handle: int, ttl_us: int) -> None:
        """Set an entry's TTL (0: never ages) and restart its idle timer.

        ``InvalidArgumentError`` if the table does not support idle timeout.
        """
        ...

    def sweep_idle(self) -> IdleSweep:
        """Find the entries idle for their TTL and restart their timers."""
        ...

    # -- action profiles and selectors -----------------------------------
    def add_member(self, profile: str, member_id: int, action: ActionCall) -> None:
        """Create a member."""
        ...

    def modify_member(self, profile: str, member_id: int, action: ActionCall) -> None:
        """Change a member's action."""
        ...

    def delete_member(self, profile: str, member_id: int) -> None:
        """Delete a member (``InUseError`` while an entry or group uses it)."""
        ...

    def members(self, profile: str) -> dict[int, ActionCall]:
        """All members by id."""
        ...

    def add_group(
        self, profile: str, group_id: int, members: Sequence[int] = (), max_size: int = 0
    ) -> None:
        """Create a selector group with the given members."""
        ...

    def set_group_members(self, profile: str, group_id: int, members: Sequence[int]) -> None:
        """Replace a group's members, a member repeated once per unit of weight.

        The selector picks among them as BMv2 does under PI (see ``groups``).
        """
        ...

    def delete_group(self, profile: str, group_id: int) -> None:
        """Delete a group (``InUseError`` while an entry uses it)."""
        ...

    def groups(self, profile: str) -> dict[int, tuple[int, ...]]:
        """All groups by id: member ids in the order the selector's ``hash % size``
        indexes (BMv2 member handle order), a member once per unit of weight."""
        ...

    # -- registers, counters, meters -------------------------------------
    def register_read(self, name: str, index: int) -> int:
        """One register cell."""
        ...

    def register_write(self, name: str, index: int, value: int) -> None:
        """Write one register cell (value truncated to the register width)."""
        ...

    def register_reset(self, name: str) -> None:
        """Zero every cell."""
        ...

    def counter_read(self, name: str, index: int) -> CounterValue:
        """One counter cell."""
        ...

    def counter_write(self, name: str, index: int, value: CounterValue) -> None:
        """Overwrite one counter cell."""
        ...

    def counter_reset(self, name: str) -> None:
        """Zero every cell."""
        ...

    def meter_set_rates(self, name: str, index: int, rates: MeterRates | None) -> None:
        """Configure one meter cell (None: unconfigured, always GREEN); buckets start full."""
        ...

    def meter_get_rates(self, name: str, index: int) -> MeterRates | None:
        """The configuration of one meter cell."""
        ...

    # -- packet replication engine ---------------------------------------
    def set_multicast_group(self, group: int, replicas: Sequence[Replica]) -> None:
        """Create or replace a group with these (port, rid) copies, in order."""
        ...

    def delete_multicast_group(self, group: int) -> None:
        """Delete a multicast group."""
        ...

    def multicast_groups(self) -> dict[int, tuple[Replica, ...]]:
        """All groups with their copies."""
        ...

    def mc_mgrp_create(self, group: int) -> None:
        """BMv2 CLI style: create an empty group."""
        ...

    def mc_node_create(self, rid: int, ports: Sequence[int]) -> int:
        """BMv2 CLI style: create a node; handles are 0, 1, 2, ... in creation order."""
        ...

    def mc_node_associate(self, group: int, node: int) -> None:
        """BMv2 CLI style: append a node to a group."""
        ...

    def set_clone_session(self, session: int, config: CloneSession | None) -> None:
        """Create, replace or (with None) delete a mirror session."""
        ...

    def clone_sessions(self) -> dict[int, CloneSession]:
        """All mirror sessions."""
        ...

    # -- parser value sets ------------------------------------------------
    def parse_vset_add(self, name: str, value: int, mask: int = -1) -> None:
        """Add a member to a parser value set (value over the byte-padded select key)."""
        ...

    def parse_vset_clear(self, name: str) -> None:
        """Remove every member of a parser value set."""
        ...
