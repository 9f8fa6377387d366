"""Match tables, actions and action profiles of the switch core.

Exact tables are dicts keyed by the key tuple; lpm tables keep one dict per prefix
length, searched longest first; ternary/range tables keep a list sorted by
priority, which a generated function searches once the entries have settled
(small tables; the others use tuple-space search or a scan). Tables with
``support_timeout`` stamp each hit entry with the clock and keep a heap of the
times their entries with a TTL may age (a hit only moves an entry's time on; the
sweep re-files it). Each entry holds its action's closure and data bound once,
so that a hit runs it without a look-up; the key is built by a generated
function. May import only the standard library and the sibling modules ``api``
and ``codegen``.
"""

from __future__ import annotations

import bisect
import heapq
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from p4lite.switch.core.api import (
    ActionCall,
    AlreadyExistsError,
    ConstTableError,
    CounterValue,
    EntryAction,
    ExactMatch,
    GroupRef,
    InvalidArgumentError,
    KeyMatch,
    LpmMatch,
    MatchKind,
    MemberRef,
    MeterRates,
    NotFoundError,
    OptionalMatch,
    RangeMatch,
    TableEntry,
    TableFullError,
    TernaryMatch,
)
from p4lite.switch.core.codegen import Scope

logger = logging.getLogger(__name__)

# A ternary or range table unchanged for this many look-ups gets a generated
# search, if it holds at most _GENERATE_MAX entries.
_SETTLE = 32
_GENERATE_MAX = 64

Run = Callable[[Any, tuple[int, ...]], None]


@dataclass(slots=True)
class Action:
    """A compiled action: its parameters (name, width) and its closure."""

    name: str
    id: int
    params: tuple[tuple[str, int], ...]
    run: Run

    def check(self, values: Sequence[int]) -> tuple[int, ...]:
        """Validate action data against the parameter widths."""
        if len(values) != len(self.params):
            raise InvalidArgumentError(
                f"action {self.name!r} takes {len(self.params)} parameters, got {len(values)}"
            )
        out = []
        for (pname, width), val in zip(self.params, values, strict=True):
            if not isinstance(val, int) or val < 0 or val >> width:
                raise InvalidArgumentError(
                    f"action {self.name!r} parameter {pname!r}: value {val!r} "
                    f"does not fit in {width} bits"
                )
            out.append(val)
        return tuple(out)


@dataclass(slots=True)
class KeySpec:
    """One key field of a table."""

    name: str
    kind: MatchKind
    width: int
    getter: Callable[[Any, tuple[int, ...]], int]
    mask: int | None
    # the getter as Python source over ``h = p.h`` and ``v = p.v`` (None: none)
    source: str | None = None


@dataclass(slots=True)
class ActionProfile:
    """Members and groups of an action profile or selector.

    A selector picks ``hash % len(group)`` in its group, a group being its
    members ordered by BMv2 member handle. The handles are modelled on BMv2
    under PI: a new member takes the lowest free handle, and a member of
    weight w in a group takes w handles, its own and w-1 copies made (in
    member id order) when a group first needs them and freed when no group
    does.
    """

    name: str
    max_size: int
    selector: Callable[[Any], int] | None
    members: dict[int, tuple[Action, tuple[int, ...]]] = field(default_factory=dict)
    # Group id -> member ids in handle order, a member once per unit of weight.
    groups: dict[int, list[int]] = field(default_factory=dict)
    group_max: dict[int, int] = field(default_factory=dict)
    weights: dict[int, dict[int, int]] = field(default_factory=dict)
    handles: dict[int, list[int]] = field(default_factory=dict)
    free_handles: list[int] = field(default_factory=list)
    fresh_handle: int = 0
    tables: list[str] = field(default_factory=list)

    def _take_handle(self) -> int:
        if self.free_handles:
            return heapq.heappop(self.free_handles)
        self.fresh_handle += 1
        return self.fresh_handle - 1

    def add_member(self, member_id: int, action: tuple[Action, tuple[int, ...]]) -> None:
        """Create a member with the lowest free handle."""
        self.members[member_id] = action
        self.handles[member_id] = [self._take_handle()]

    def delete_member(self, member_id: int) -> None:
        """Delete a member that is in no group; its handle is free again."""
        del self.members[member_id]
        for h in self.handles.pop(member_id):
            heapq.heappush(self.free_handles, h)

    def set_group(self, group_id: int, members: Sequence[int]) -> None:
        """Set a group's members, a member repeated once per unit of weight."""
        new: dict[int, int] = {}
        for m in members:
            new[m] = new.get(m, 0) + 1
        touched = sorted(set(new) | set(self.weights.get(group_id, {})))
        for m in touched:
            hs = self.handles[m]
            while len(hs) < new.get(m, 0):
                hs.append(self._take_handle())
        self.weights[group_id] = new
        self.groups[group_id] = [
            m for _, m in sorted((h, m) for m, w in new.items() for h in self.handles[m][:w])
        ]
        self._free_copies(touched)

    def delete_group(self, group_id: int) -> None:
        """Delete a group and free the member copies no other group uses."""
        del self.groups[group_id]
        self.group_max.pop(group_id, None)
        self._free_copies(sorted(self.weights.pop(group_id, {})))

    def _free_copies(self, member_ids: Sequence[int]) -> None:
        for m in member_ids:
            keep = max([1, *(w.get(m, 0) for w in self.weights.values())])
            hs = self.handles[m]
            while len(hs) > keep:
                heapq.heappush(self.free_handles, hs.pop())


class Entry:
    """A table entry with its resolved match and its direct resources."""

    __slots__ = (
        "action",
        "aged_at",
        "call",
        "const",
        "counter",
        "due",
        "handle",
        "last_hit",
        "matches",
        "meter",
        "norm",
        "priority",
        "rates",
        "spec",
        "ttl",
    )

    def __init__(
        self,
        *,
        handle: int,
        matches: tuple[KeyMatch | None, ...],
        norm: tuple[Any, ...],
        spec: list[tuple[bool, int, int]],
        action: EntryAction,
        priority: int,
        const: bool,
    ) -> None:
        self.handle = handle
        self.matches = matches
        self.norm = norm
        self.spec = spec
        self.action = action
        # (closure, data, action name) of an ActionCall, bound by the table
        self.call: tuple[Run, tuple[int, ...], str] | None = None
        self.priority = priority
        self.const = const
        self.counter = [0, 0]
        self.meter: Any = None
        self.rates: MeterRates | None = None
        # Idle timeout, used by tables with support_timeout only (clock µs):
        # last hit (or insertion), last report as idle, TTL, time filed in the heap.
        self.last_hit = 0
        self.aged_at = 0
        self.ttl = 0
        self.due = -1


def _bits(kind: MatchKind, width: int, m: KeyMatch | None, key: str) -> tuple[bool, int, int]:
    """Normalise one key match to (is_range, a, b): mask/value or low/high."""
    full = (1 << width) - 1

    def fit(v: int) -> int:
        if not isinstance(v, int) or v < 0 or v > full:
            raise InvalidArgumentError(f"key {key!r}: value {v!r} does not fit in {width} bits")
        return v

    match m:
        case None:
            if kind in (MatchKind.EXACT, MatchKind.VALID):
                raise InvalidArgumentError(f"key {key!r}: an exact key needs a value")
            if kind is MatchKind.RANGE:
                return (True, 0, full)
            return (False, 0, 0)
        case ExactMatch(value=v) | OptionalMatch(value=v):
            if kind is MatchKind.RANGE:
                return (True, fit(v), fit(v))
            return (False, full, fit(v))
        case LpmMatch(value=v, prefix_len=plen):
            if kind not in (MatchKind.LPM, MatchKind.TERNARY):
                raise InvalidArgumentError(f"key {key!r}: lpm value given for a {kind.value} key")
            if not 0 <= plen <= width:
                raise InvalidArgumentError(
                    f"key {key!r}: prefix length {plen!r} out of range 0..{width}"
                )
            mask = full ^ ((1 << (width - plen)) - 1)
            return (False, mask, fit(v) & mask)
        case TernaryMatch(value=v, mask=mask):
            if kind not in (MatchKind.TERNARY, MatchKind.OPTIONAL):
                raise InvalidArgumentError(
                    f"key {key!r}: ternary value given for a {kind.value} key"
                )
            return (False, fit(mask), fit(v) & mask)
        case RangeMatch(low=lo, high=hi):
            if kind is not MatchKind.RANGE:
                raise InvalidArgumentError(f"key {key!r}: range given for a {kind.value} key")
            if fit(lo) > fit(hi):
                raise InvalidArgumentError(f"key {key!r}: empty range {lo!r}..{hi!r}")
            return (True, lo, hi)
    raise InvalidArgumentError(f"key {key!r}: unsupported match value {m!r}")


def _entry_order(e: Entry) -> tuple[int, int]:
    """Sort key: higher priority first, then older entries first."""
    return (-e.priority, e.handle)


def _key_getter(k: KeySpec) -> Callable[[Any, tuple[int, ...]], int]:
    g = k.getter
    m = k.mask
    if m is None:
        return g
    return lambda p, a: int(g(p, a)) & m


class Table:
    """A match-action table."""

    def __init__(
        self,
        *,
        name: str,
        keys: list[KeySpec],
        match_type: str,
        actions: dict[str, Action],
        max_size: int,
        profile: ActionProfile | None,
        direct_counter: str | None,
        direct_meter: Any,
        clock: Callable[[], int],
        support_timeout: bool = False,
    ) -> None:
        self.name = name
        self.keys = keys
        self.match_type = match_type
        self.actions = actions
        self.max_size = max_size
        self.profile = profile
        self.direct_counter = direct_counter
        self.direct_meter = direct_meter
        self.clock = clock
        self.needs_priority = match_type in ("ternary", "range")
        self.const_entries = False
        self.const_default = False
        self.default: tuple[Action, tuple[int, ...]] | None = None
        self.program_default: tuple[Action, tuple[int, ...]] | None = None
        self.entries: dict[int, Entry] = {}
        self.by_key: dict[tuple[Any, ...], Entry] = {}
        self._next_handle = 0
        self._exact: dict[tuple[int, ...], Entry] = {}
        self._lpm: dict[int, dict[tuple[int, ...], Entry]] = {}
        self._lpm_lens: list[int] = []
        self._lpm_pos = next((i for i, k in enumerate(keys) if k.kind is MatchKind.LPM), -1)
        self._sorted: list[Entry] = []
        # Ternary tables without range keys: tuple-space search, one dict per mask
        # vector, visited in order of the best priority they hold.
        self._use_tss = match_type == "ternary" and all(k.kind is not MatchKind.RANGE for k in keys)
        self._tss: dict[tuple[int, ...], dict[tuple[int, ...], list[Entry]]] = {}
        self._tss_order: list[tuple[int, tuple[int, ...], dict[tuple[int, ...], list[Entry]]]] = []
        self.key_fn = self._make_key_fn()
        # Ternary and range tables: the search in use, generated from the entries
        # once they have stayed unchanged for a while (see _settling).
        self._generic: Callable[[Any], Entry | None] = (
            self._lookup_tss if self._use_tss else self._lookup_sorted
        )
        self._find: Callable[[Any], Entry | None] = self._settling
        self._unchanged = 0
        self.lookup: Callable[[Any], Entry | None] = self._pick_lookup()
        self.pkt_bytes: Callable[[Any], int] = lambda p: int(p.ingress_len)
        self.support_timeout = support_timeout
        self._ageing: list[tuple[int, int]] = []
        if support_timeout:
            self.lookup = self._stamping(self.lookup)

    # ------------------------------------------------------------- data path
    def _key_src(self) -> str | None:
        """The key tuple as Python source over ``h = p.h`` and ``v = p.v``."""
        parts = []
        for k in self.keys:
            if k.source is None:
                return None
            parts.append(k.source if k.mask is None else f"({k.source} & {k.mask})")
        return f"({''.join(part + ', ' for part in parts)})"

    def lookup_src(self, scope: Scope) -> str:
        """Python source finding the entry of a packet ``p`` (``h``, ``v`` as above)."""
        key = self._key_src()
        if not self.keys:
            return "None"  # never a hit (p4c's tables for actions called in a control)
        if self.support_timeout:
            return f"{scope.ref(self.lookup, 'lookup')}(p)"
        if self.match_type == "exact" and key:
            return f"{scope.ref(self._exact, 'exact')}.get({key})"
        if self.needs_priority:
            return f"{scope.ref(self, 't')}._find(p)"
        return f"{scope.ref(self.lookup, 'lookup')}(p)"

    def _make_key_fn(self) -> Callable[[Any], tuple[int, ...]]:
        key = self._key_src()
        if key is not None:
            fn = Scope().function("key", "p", ["h = p.h", "v = p.v", f"return {key}"])
            return cast(Callable[[Any], tuple[int, ...]], fn)
        getters = [_key_getter(k) for k in self.keys]
        empty: tuple[int, ...] = ()
        if len(getters) == 1:
            g0 = getters[0]
            return lambda p: (g0(p, empty),)
        if len(getters) == 2:
            g1, g2 = getters
            return lambda p: (g1(p, empty), g2(p, empty))
        return lambda p: tuple([g(p, empty) for g in getters])

    def _pick_lookup(self) -> Callable[[Any], Entry | None]:
        if not self.keys:
            return lambda p: None
        if self.match_type == "exact":
            exact = self._exact
            key_fn = self.key_fn
            return lambda p: exact.get(key_fn(p))
        if self.match_type == "lpm":
            return self._lookup_lpm
        return self._lookup_found

    def _lookup_found(self, p: Any) -> Entry | None:
        return self._find(p)

    def _changed(self) -> None:
        """The entries changed: the generic search runs until they settle again."""
        self._unchanged = 0
        self._find = self._settling

    def _settling(self, p: Any) -> Entry | None:
        # Generating costs about a millisecond: it waits until the entries have
        # stayed unchanged for _SETTLE look-ups, so that a control plane writing
        # between packets never pays it per packet.
        self._unchanged += 1
        if self._unchanged >= _SETTLE:
            self._find = self._generated() or self._generic
        return self._generic(p)

    def _generated(self) -> Callable[[Any], Entry | None] | None:
        """A function testing the entries one by one in priority order (as
        ``_lookup_sorted_key``), or None for tables too large for it."""
        entries = self._sorted
        if len(entries) > _GENERATE_MAX or not self.keys:
            return None
        scope = Scope()
        key = self._key_src()
        if key is None:
            body = [f"k = {scope.ref(self.key_fn, 'key')}(p)"]
            body += [f"k{i} = k[{i}]" for i in range(len(self.keys))]
        else:
            body = [
                "h = p.h",
                "v = p.v",
                f"{''.join(f'k{i}, ' for i in range(len(self.keys)))}= {key}",
            ]
        for e in entries:
            tests = []
            for i, (k, (is_range, a, b)) in enumerate(zip(self.keys, e.spec, strict=True)):
                full = (1 << k.width) - 1
                if is_range:
                    if a > 0:
                        tests.append(f"{a} <= k{i}")
                    if b < full:
                        tests.append(f"k{i} <= {b}")
                elif a == full:
                    tests.append(f"k{i} == {b}")
                elif a:
                    tests.append(f"k{i} & {a} == {b}")
            if not tests:
                # matches every key: the entries after it are never reached
                body.append(f"return {scope.ref(e, 'e')}")
                return scope.function("find", "p", body)
            body += [f"if {' and '.join(tests)}:", f"    return {scope.ref(e, 'e')}"]
        body.append("return None")
        return scope.function("find", "p", body)

    def _stamping(self, find: Callable[[Any], Entry | None]) -> Callable[[Any], Entry | None]:
        """``find`` that also records the hit's time (only tables with support_timeout
        pay for it)."""
        clock = self.clock

        def lookup_and_stamp(p: Any) -> Entry | None:
            e = find(p)
            if e is not None:
                e.last_hit = clock()
            return e

        return lookup_and_stamp

    def _lookup_lpm(self, p: Any) -> Entry | None:
        key = self.key_fn(p)
        pos = self._lpm_pos
        width = self.keys[pos].width
        for plen in self._lpm_lens:
            mask = ((1 << plen) - 1) << (width - plen)
            k = (*key[:pos], key[pos] & mask, *key[pos + 1 :])
            hit = self._lpm[plen].get(k)
            if hit is not None:
                return hit
        return None

    def _lookup_tss(self, p: Any) -> Entry | None:
        key = self.key_fn(p)
        best: Entry | None = None
        for top, masks, bucket in self._tss_order:
            if best is not None and top < best.priority:
                break
            lst = bucket.get(tuple([k & m for k, m in zip(key, masks, strict=True)]))
            if lst:
                e = lst[0]
                if (
                    best is None
                    or e.priority > best.priority
                    or (e.priority == best.priority and e.handle < best.handle)
                ):
                    best = e
        return best

    def _tss_refresh(self) -> None:
        order = [
            (max(lst[0].priority for lst in bucket.values()), masks, bucket)
            for masks, bucket in self._tss.items()
        ]
        order.sort(key=lambda t: -t[0])
        self._tss_order = order

    def _lookup_sorted(self, p: Any) -> Entry | None:
        return self._lookup_sorted_key(self.key_fn(p))

    def _lookup_sorted_key(self, key: tuple[int, ...]) -> Entry | None:
        for e in self._sorted:
            for k, (is_range, a, b) in zip(key, e.spec, strict=True):
                if is_range:
                    if not a <= k <= b:
                        break
                elif k & a != b:
                    break
            else:
                return e
        return None

    def apply(self, p: Any) -> tuple[bool, str | None]:
        """Look up and run the action; return (hit, action name run)."""
        e = self.lookup(p)
        if e is None:
            d = self.default
            if d is None:
                return False, None
            d[0].run(p, d[1])
            return False, d[0].name
        e.counter[0] += 1
        e.counter[1] += self.pkt_bytes(p)
        if self.direct_meter is not None:
            self._direct_meter(p, e)
        act = e.action
        call = e.call
        if call is not None:
            call[0](p, call[1])
            return True, call[2]
        resolved = self._resolve(p, act)
        if resolved is None:
            return False, None
        resolved[0].run(p, resolved[1])
        return True, resolved[0].name

    def _direct_meter(self, p: Any, e: Entry) -> None:
        dm = self.direct_meter
        color = 0
        if e.meter is not None:
            units = 1 if dm.packets else self.pkt_bytes(p)
            color = e.meter.execute(units, self.clock())
        if dm.result is not None:
            h, f = dm.result
            p.h[h][f] = color

    def _resolve(self, p: Any, act: EntryAction) -> tuple[Action, tuple[int, ...]] | None:
        prof = self.profile
        if prof is None:
            return None
        if isinstance(act, MemberRef):
            return prof.members.get(act.member_id)
        if isinstance(act, GroupRef):
            mems = prof.groups.get(act.group_id)
            if not mems:
                return None
            idx = prof.selector(p) % len(mems) if prof.selector is not None and len(mems) > 1 else 0
            return prof.members.get(mems[idx])
        return None

    # ---------------------------------------------------------- control plane
    def set_program_default(
        self, action: Action, data: tuple[int, ...], const: bool, entry_const: bool
    ) -> None:
        """Install the program's default action."""
        self.program_default = (action, data)
        self.default = (action, data)
        self.const_default = const or entry_const

    def _normalise(
        self, matches: Sequence[KeyMatch | None], priority: int
    ) -> tuple[tuple[Any, ...], list[tuple[bool, int, int]], int]:
        if len(matches) != len(self.keys):
            raise InvalidArgumentError(
                f"table {self.name!r} has {len(self.keys)} keys, got {len(matches)} match values"
            )
        spec = [_bits(k.kind, k.width, m, k.name) for k, m in zip(self.keys, matches, strict=True)]
        if self.needs_priority:
            if not isinstance(priority, int) or priority <= 0:
                raise InvalidArgumentError(
                    f"table {self.name!r} needs a priority > 0, got {priority!r}"
                )
        else:
            priority = 0
        return (tuple(spec), priority), spec, priority

    def _check_action(self, action: EntryAction) -> EntryAction:
        if isinstance(action, ActionCall):
            if self.profile is not None:
                raise InvalidArgumentError(
                    f"table {self.name!r} uses action profile {self.profile.name!r}: "
                    "give a member or a group"
                )
            if action.name not in self.actions:
                raise InvalidArgumentError(
                    f"table {self.name!r} has no action {action.name!r}; "
                    f"expected one of {sorted(self.actions)}"
                )
            params = self.actions[action.name].check(action.params)
            return ActionCall(action.name, params)
        if self.profile is None:
            raise InvalidArgumentError(f"table {self.name!r} has no action profile")
        if isinstance(action, MemberRef) and action.member_id not in self.profile.members:
            raise NotFoundError(f"{self.profile.name!r}: no member {action.member_id!r}")
        if isinstance(action, GroupRef):
            if self.profile.selector is None:
                raise InvalidArgumentError(f"{self.profile.name!r} is not a selector")
            if action.group_id not in self.profile.groups:
                raise NotFoundError(f"{self.profile.name!r}: no group {action.group_id!r}")
        return action

    def _bind(self, action: EntryAction) -> tuple[Run, tuple[int, ...], str] | None:
        """An ActionCall's closure, data and name (None for members and groups)."""
        if not isinstance(action, ActionCall):
            return None
        a = self.actions[action.name]
        return (a.run, action.params, a.name)

    def add(
        self,
        matches: Sequence[KeyMatch | None],
        action: EntryAction,
        priority: int = 0,
        const: bool = False,
    ) -> int:
        """Add an entry; return its handle."""
        if self.const_entries and not const:
            raise ConstTableError(f"table {self.name!r} has const entries")
        ident, spec, priority = self._normalise(matches, priority)
        action = self._check_action(action)
        if ident in self.by_key:
            raise AlreadyExistsError(f"table {self.name!r}: an entry with this key already exists")
        if len(self.entries) >= self.max_size:
            raise TableFullError(f"table {self.name!r} is full ({self.max_size} entries)")
        handle = self._next_handle
        self._next_handle += 1
        e = Entry(
            handle=handle,
            matches=tuple(matches),
            norm=ident,
            spec=spec,
            action=action,
            priority=priority,
            const=const,
        )
        e.call = self._bind(action)
        if self.support_timeout:
            e.last_hit = self.clock()
        self.entries[handle] = e
        self.by_key[ident] = e
        self._index(e)
        return handle

    def _index(self, e: Entry) -> None:
        if self.match_type == "exact":
            self._exact[tuple(b for _, _, b in e.spec)] = e
        elif self.match_type == "lpm":
            pos = self._lpm_pos
            mask = e.spec[pos][1]
            plen = bin(mask).count("1")
            k = tuple(b for _, _, b in e.spec)
            self._lpm.setdefault(plen, {})[k] = e
            self._lpm_lens = sorted(self._lpm, reverse=True)
        else:
            # Copy-on-write keeps a concurrent reader's list intact.
            new = list(self._sorted)
            bisect.insort(new, e, key=_entry_order)
            self._sorted = new
            self._changed()
            if self._use_tss:
                masks = tuple(a for _, a, _ in e.spec)
                values = tuple(b for _, _, b in e.spec)
                lst = self._tss.setdefault(masks, {}).setdefault(values, [])
                bisect.insort(lst, e, key=_entry_order)
                self._tss_refresh()

    def _unindex(self, e: Entry) -> None:
        if self.match_type == "exact":
            self._exact.pop(tuple(b for _, _, b in e.spec), None)
        elif self.match_type == "lpm":
            plen = bin(e.spec[self._lpm_pos][1]).count("1")
            bucket = self._lpm.get(plen, {})
            bucket.pop(tuple(b for _, _, b in e.spec), None)
            if not bucket:
                self._lpm.pop(plen, None)
                self._lpm_lens = sorted(self._lpm, reverse=True)
        else:
            self._sorted = [x for x in self._sorted if x is not e]
            self._changed()
            if self._use_tss:
                masks = tuple(a for _, a, _ in e.spec)
                values = tuple(b for _, _, b in e.spec)
                tbucket = self._tss.get(masks, {})
                lst = [x for x in tbucket.get(values, []) if x is not e]
                if lst:
                    tbucket[values] = lst
                else:
                    tbucket.pop(values, None)
                if not tbucket:
                    self._tss.pop(masks, None)
                self._tss_refresh()

    def get(self, handle: int) -> Entry:
        """Entry by handle."""
        e = self.entries.get(handle)
        if e is None:
            raise NotFoundError(f"table {self.name!r}: no entry with handle {handle!r}")
        return e

    def modify(self, handle: int, action: EntryAction) -> None:
        """Replace an entry's action."""
        e = self.get(handle)
        if e.const:
            raise ConstTableError(f"table {self.name!r}: entry {handle!r} is const")
        checked = self._check_action(action)
        e.call = self._bind(checked)
        e.action = checked

    def delete(self, handle: int) -> None:
        """Delete an entry."""
        e = self.get(handle)
        if e.const:
            raise ConstTableError(f"table {self.name!r}: entry {handle!r} is const")
        del self.entries[handle]
        del self.by_key[e.norm]
        self._unindex(e)
        if len(self._ageing) > 2 * len(self.entries) + 64:
            # Deleted entries leave their heap items behind; drop them now and then.
            self._ageing = [(x.due, x.handle) for x in self.entries.values() if x.ttl]
            heapq.heapify(self._ageing)

    def find(self, matches: Sequence[KeyMatch | None], priority: int) -> int | None:
        """Handle of the entry with this key and priority."""
        ident, _, _ = self._normalise(matches, priority)
        e = self.by_key.get(ident)
        return None if e is None else e.handle

    def snapshot(self, e: Entry) -> TableEntry:
        """Frozen view of an entry."""
        return TableEntry(
            e.handle,
            e.matches,
            e.action,
            e.priority,
            CounterValue(e.counter[0], e.counter[1]) if self.direct_counter else None,
            e.rates,
            e.const,
            e.ttl,
            max(0, self.clock() - e.last_hit) if self.support_timeout else None,
        )

    # ------------------------------------------------------------ idle timeout
    def set_ttl(self, handle: int, ttl_us: int) -> None:
        """Set an entry's TTL (0: never ages) and restart its idle timer."""
        if not self.support_timeout:
            raise InvalidArgumentError(f"table {self.name!r} does not support idle timeout")
        if not isinstance(ttl_us, int) or ttl_us < 0:
            raise InvalidArgumentError(f"table {self.name!r}: invalid TTL {ttl_us!r}")
        e = self.get(handle)
        e.ttl = ttl_us
        # BMv2 restarts the timer when the TTL changes; a later hit moves it on.
        e.aged_at = self.clock()
        self._file(e)

    def _file(self, e: Entry) -> None:
        if not e.ttl:
            e.due = -1
            return
        e.due = max(e.last_hit, e.aged_at) + e.ttl
        heapq.heappush(self._ageing, (e.due, e.handle))

    def sweep(self, now: int) -> list[int]:
        """Handles of the entries idle for their TTL at ``now``; their timers restart."""
        heap = self._ageing
        entries = self.entries
        aged: list[int] = []
        while heap and heap[0][0] <= now:
            due, handle = heapq.heappop(heap)
            e = entries.get(handle)
            if e is None or e.due != due:
                continue  # deleted, or filed again since
            if max(e.last_hit, e.aged_at) + e.ttl <= now:
                aged.append(handle)
                e.aged_at = now
            self._file(e)
        return aged

    def next_due(self) -> int | None:
        """The earliest time an entry may age (None when no entry has a TTL)."""
        return self._ageing[0][0] if self._ageing else None

    def set_default(self, action: ActionCall) -> None:
        """Replace the default action."""
        if self.profile is not None:
            raise InvalidArgumentError(f"table {self.name!r} uses an action profile")
        if self.const_default:
            raise ConstTableError(f"table {self.name!r} has a const default action")
        checked = self._check_action(action)
        assert isinstance(checked, ActionCall)
        self.default = (self.actions[checked.name], checked.params)

    def reset_default(self) -> None:
        """Restore the program's default action."""
        self.default = self.program_default
