"""The v1model/simple_switch architecture around a loaded BMv2 program.

``Switch`` runs parser, checksum verification, ingress, the traffic manager
(clone, digest, resubmit, multicast, unicast, drop), egress, checksum update,
deparser and recirculation for each input packet, and implements the runtime API
of ``api.SwitchApi``. No I/O: packets come in and go out as bytes. May import only
the standard library and the sibling modules.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

from p4lite.switch.core.api import (
    ActionCall,
    ActionInfo,
    ActionProfileInfo,
    AlreadyExistsError,
    ArrayInfo,
    CloneSession,
    CounterValue,
    Digest,
    DigestHandler,
    DigestInfo,
    EntryAction,
    GroupRef,
    IdleSweep,
    InUseError,
    InvalidArgumentError,
    KeyInfo,
    KeyMatch,
    LoadError,
    MemberRef,
    MeterRates,
    NotFoundError,
    PacketHandler,
    PacketOut,
    ParamInfo,
    PortStats,
    Replica,
    RuntimeApiError,
    SwitchApi,
    SwitchOptions,
    TableEntry,
    TableInfo,
)
from p4lite.switch.core.codegen import make_packer
from p4lite.switch.core.engine import HeaderLayout, MeterCell, Pkt, Program
from p4lite.switch.core.tables import ActionProfile, Table

logger = logging.getLogger(__name__)

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _vl_packer(lay: HeaderLayout) -> Callable[[list[int]], bytes]:
    """Deparse a header with a variable-length field (its length is the last value)."""
    widths, vl = lay.widths, lay.vl

    def pack(v: list[int]) -> bytes:
        acc = 0
        bits = 0
        for j, fw in enumerate(widths):
            w = v[-1] if j == vl else fw
            acc = (acc << w) | (v[j] & ((1 << w) - 1))
            bits += w
        return acc.to_bytes(bits // 8, "big")

    return pack


def _locked(method: Callable[Concatenate[Switch, _P], _R]) -> Callable[Concatenate[Switch, _P], _R]:
    """Serialise a method on the switch's lock (ports and the server use other threads)."""

    def wrapper(self: Switch, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._lock:
            return method(self, *args, **kwargs)

    wrapper.__name__ = method.__name__
    wrapper.__qualname__ = method.__qualname__
    wrapper.__doc__ = method.__doc__
    return wrapper


NORMAL, I2E_CLONE, E2E_CLONE, RECIRC, REPLICA, RESUBMIT = 0, 1, 2, 4, 5, 6
_SM_FIELDS = (
    "ingress_port",
    "packet_length",
    "instance_type",
    "ingress_global_timestamp",
    "egress_global_timestamp",
    "egress_spec",
    "egress_port",
    "mcast_grp",
    "parser_error",
    "checksum_error",
    "enq_timestamp",
    "deq_timedelta",
    "egress_rid",
    "priority",
)


class Switch:
    """A simple_switch-like software switch running one BMv2 JSON program."""

    def __init__(self, program: Program, options: SwitchOptions) -> None:
        self._prog = program
        self.options = options
        self._lock = threading.RLock()
        self._drop_port = options.drop_port
        self._packet_in: PacketHandler | None = None
        self._digest_handler: DigestHandler | None = None
        self._digests: deque[Digest] = deque()
        self._stats: dict[int, list[int]] = {}
        self._groups: dict[int, list[int]] = {}
        self._nodes: dict[int, tuple[int, tuple[int, ...]]] = {}
        self._next_node = 0
        self._sessions: dict[int, CloneSession] = {}
        self._ingress = program.pipelines["ingress"]
        self._egress = program.pipelines["egress"]
        self._sm = program.sm
        # Fields simple_switch writes; a program lacking one gets a scratch slot.
        sm_tmpl = program.hdr_templates[program.sm]
        self._f: dict[str, int] = dict(program.smf)
        for name in _SM_FIELDS:
            if name not in self._f:
                self._f[name] = len(sm_tmpl)
                sm_tmpl.append(0)
        f = self._f
        self._i_in_port = f["ingress_port"]
        self._i_len = f["packet_length"]
        self._i_itype = f["instance_type"]
        self._i_its = f["ingress_global_timestamp"]
        self._i_ets = f["egress_global_timestamp"]
        self._i_espec = f["egress_spec"]
        self._i_eport = f["egress_port"]
        self._i_mgid = f["mcast_grp"]
        self._i_perr = f["parser_error"]
        self._i_cerr = f["checksum_error"]
        self._i_enq = f["enq_timestamp"]
        self._i_deq = f["deq_timedelta"]
        self._i_rid = f["egress_rid"]
        self._i_prio = f["priority"]
        layouts = program.layouts
        self._deparse_items = [
            (h, make_packer(layouts[h].widths) if layouts[h].vl < 0 else _vl_packer(layouts[h]))
            for h in program.deparse_order
        ]
        self._verify = [c for c in program.checksums if c.verify]
        self._update = [c for c in program.checksums if c.update]
        self._ageing_tables = [t for t in program.tables.values() if t.support_timeout]

    # ------------------------------------------------------------------ load
    @classmethod
    def from_json(
        cls, source: str | bytes | dict[str, Any], options: SwitchOptions | None = None
    ) -> Switch:
        """Load a BMv2 JSON program (text or parsed); raise ``LoadError`` if invalid."""
        options = options or SwitchOptions()
        if isinstance(source, (str, bytes)):
            try:
                doc = json.loads(source)
            except ValueError as exc:
                raise LoadError("", f"invalid JSON: {exc}") from exc
        else:
            doc = source
        clock = options.clock_us
        if clock is None:
            start = time.monotonic_ns()

            def clock() -> int:
                return (time.monotonic_ns() - start) // 1000

        return cls(Program(doc, clock, options.drop_port, options.seed), options)

    # --------------------------------------------------------------- packets
    def _stat(self, port: int) -> list[int]:
        st = self._stats.get(port)
        if st is None:
            st = self._stats[port] = [0, 0, 0, 0]
        return st

    def process(self, port: int, data: bytes) -> list[PacketOut]:
        """Process one packet to completion; return its outputs in BMv2's order."""
        # The lock is taken here rather than through @_locked: this runs once per
        # packet and the generic wrapper's argument packing shows in the profile.
        with self._lock:
            stats = self._stats
            st = stats.get(port)
            if st is None:
                st = stats[port] = [0, 0, 0, 0]
            st[0] += 1
            out: list[PacketOut] = []
            try:
                self._run(port, bytes(data), out)
            except Exception:
                # A program bug or an unexpected packet must never stop the switch.
                logger.exception("packet from port %d could not be processed; dropped", port)
                st[2] += 1
                st[3] += 1
                return []
            if not out:
                st[2] += 1
                return out
            cpu = self.options.cpu_port
            if cpu is None:
                for oport, _ in out:
                    self._stat(oport)[1] += 1
                return out
            delivered: list[PacketOut] = []
            for oport, odata in out:
                self._stat(oport)[1] += 1
                if oport == cpu and self._packet_in is not None:
                    self._packet_in(oport, odata)
                else:
                    delivered.append((oport, odata))
            return delivered

    def _new_pkt(self, data: bytes) -> Pkt:
        prog = self._prog
        # map(list, ...) copies the templates faster than a comprehension.
        return Pkt(
            list(map(list, prog.hdr_templates)), list(prog.valid_template), len(prog.stacks), data
        )

    def _reset_metadata(self, p: Pkt) -> None:
        tmpl = self._prog.hdr_templates
        for h in self._prog.metadata_ids:
            p.h[h] = list(tmpl[h])

    def _copy_fields(self, dst: Pkt, src: Pkt, fl_id: int) -> None:
        for h, f in self._prog.field_lists.get(fl_id, ()):
            if f >= 0:
                dst.h[h][f] = src.h[h][f]

    def _setf(self, p: Pkt, name: str, value: int) -> None:
        p.h[self._sm][self._f[name]] = value

    def _getf(self, p: Pkt, name: str) -> int:
        return int(p.h[self._sm][self._f[name]])

    def _parse(self, p: Pkt) -> None:
        self._prog.parse(p)
        sm = p.h[self._sm]
        sm[self._i_perr] = p.err
        if p.err:
            self._stat(sm[self._i_in_port])[3] += 1
        err = 0
        for ck in self._verify:
            h, f = ck.target
            if not p.v[h]:
                continue
            if ck.cond is not None and not ck.cond(p, ()):
                continue
            if ck.calc(p) != p.h[h][f]:
                err = 1
        sm[self._i_cerr] = err

    def _run(self, port: int, data: bytes, out: list[PacketOut]) -> None:
        p = self._new_pkt(data)
        sm = p.h[self._sm]
        sm[self._i_in_port] = port
        sm[self._i_len] = len(data)
        sm[self._i_its] = self._prog.clock()
        ingress_q: deque[Pkt] = deque([p])
        budget = self.options.max_recirculations + 1
        while ingress_q:
            budget -= 1
            if budget < 0:
                logger.warning("recirculation limit reached; packet dropped")
                return
            pkt = ingress_q.popleft()
            egress_q: deque[tuple[int, Pkt]] = deque()
            self._ingress_pass(pkt, egress_q, ingress_q)
            while egress_q:
                eport, ep = egress_q.popleft()
                self._egress_pass(eport, ep, egress_q, ingress_q, out)

    def _ingress_pass(
        self, p: Pkt, egress_q: deque[tuple[int, Pkt]], ingress_q: deque[Pkt]
    ) -> None:
        data = p.data
        ingress_size = p.plen
        self._parse(p)
        self._ingress.run(p)
        p.exit = False
        sm = p.h[self._sm]
        egress_spec = int(sm[self._i_espec])
        mgid = int(sm[self._i_mgid])
        if p.clone_sess:
            sess = self._sessions.get(p.clone_sess & 0x7FFFFFFF)
            if sess is not None:
                c = self._new_pkt(data)
                c.plen = ingress_size
                c.ingress_len = p.ingress_len
                # BMv2 keeps ingress_port for the re-parse, then resets metadata.
                self._setf(c, "ingress_port", self._getf(p, "ingress_port"))
                self._prog.parse(c)
                self._reset_metadata(c)
                self._copy_fields(c, p, p.clone_fl)
                self._setf(c, "instance_type", I2E_CLONE)
                self._replicate(c, sess, egress_q)
        if p.learn:
            self._learn(p)
        if p.resub:
            r = self._new_pkt(data)
            self._copy_fields(r, p, p.resub - 1)
            self._setf(r, "instance_type", RESUBMIT)
            r.plen = ingress_size
            r.ingress_len = p.ingress_len
            self._setf(r, "packet_length", ingress_size)
            ingress_q.append(r)
            return
        if mgid:
            self._setf(p, "instance_type", REPLICA)
            self._multicast(p, mgid, egress_q)
            return
        if egress_spec == self._drop_port:
            return
        sm[self._i_itype] = NORMAL
        self._enqueue(egress_spec, p, egress_q)

    def _enqueue(self, port: int, p: Pkt, egress_q: deque[tuple[int, Pkt]]) -> None:
        sm = p.h[self._sm]
        if sm[self._i_prio] >= self.options.priority_queues:
            # simple_switch: "Priority out of range, dropping packet".
            logger.debug("priority %d out of range; packet dropped", sm[self._i_prio])
            return
        sm[self._i_enq] = self._prog.clock() & 0xFFFFFFFF
        egress_q.append((port, p))

    def _multicast(
        self, p: Pkt, mgid: int, egress_q: deque[tuple[int, Pkt]], trunc: int = 0
    ) -> None:
        sm = p.h[self._sm]
        for node in self._groups.get(mgid, ()):
            n = self._nodes.get(node)
            if n is None:
                continue
            rid, ports = n
            for port in ports:
                sm[self._i_rid] = rid
                c = p.copy()
                c.trunc = trunc
                self._enqueue(port, c, egress_q)

    def _replicate(self, c: Pkt, sess: CloneSession, egress_q: deque[tuple[int, Pkt]]) -> None:
        if sess.mgrp is not None:
            self._multicast(c, sess.mgrp, egress_q, sess.truncate_length)
        if sess.port is not None:
            c.trunc = sess.truncate_length
            self._enqueue(sess.port, c, egress_q)

    def _learn(self, p: Pkt) -> None:
        ll = self._prog.learn_lists.get(p.learn)
        if ll is None:
            return
        prog = self._prog
        values = tuple(
            int(p.h[h][f]) & ((1 << prog.layouts[h].widths[f]) - 1) if f >= 0 else int(p.v[h])
            for h, f in ll.fields
        )
        d = Digest(ll.name, values, prog.clock())
        if self._digest_handler is not None:
            self._digest_handler(d)
        else:
            self._digests.append(d)

    def _egress_pass(
        self,
        port: int,
        p: Pkt,
        egress_q: deque[tuple[int, Pkt]],
        ingress_q: deque[Pkt],
        out: list[PacketOut],
    ) -> None:
        now = self._prog.clock()
        sm = p.h[self._sm]
        sm[self._i_ets] = now
        sm[self._i_deq] = max(0, (now & 0xFFFFFFFF) - sm[self._i_enq])
        sm[self._i_eport] = port
        # simple_switch 1.15 shows 0 in egress_spec during egress.
        sm[self._i_espec] = 0
        sm[self._i_len] = p.plen
        p.clone_sess = 0
        self._egress.run(p)
        p.exit = False
        if p.clone_sess:
            sess = self._sessions.get(p.clone_sess & 0x7FFFFFFF)
            if sess is not None:
                c = p.copy()
                self._reset_metadata(c)
                self._copy_fields(c, p, p.clone_fl)
                self._setf(c, "instance_type", E2E_CLONE)
                self._replicate(c, sess, egress_q)
        if sm[self._i_espec] == self._drop_port:
            return
        data = self._deparse(p)
        if p.recirc:
            r = self._new_pkt(data)
            self._copy_fields(r, p, p.recirc - 1)
            self._setf(r, "instance_type", RECIRC)
            self._setf(r, "packet_length", len(data))
            ingress_q.append(r)
            return
        out.append((port, data))

    def _deparse(self, p: Pkt) -> bytes:
        hs = p.h
        valid = p.v
        for ck in self._update:
            h, f = ck.target
            if not valid[h]:
                continue
            if ck.cond is not None and not ck.cond(p, ()):
                continue
            hs[h][f] = ck.calc(p) & ((1 << ck.width) - 1)
        parts = []
        for h, pack in self._deparse_items:
            if valid[h]:
                parts.append(pack(hs[h]))
        parts.append(p.data[p.off :])
        data = b"".join(parts)
        if p.trunc and p.trunc < len(data):
            data = data[: p.trunc]
        return data

    # ------------------------------------------------------------ callbacks
    def set_packet_in_handler(self, handler: PacketHandler | None) -> None:
        """Send packets for ``options.cpu_port`` to ``handler(port, data)``."""
        self._packet_in = handler

    def set_digest_handler(self, handler: DigestHandler | None) -> None:
        """Deliver digests to ``handler``; without one they queue for ``poll_digests``."""
        self._digest_handler = handler

    @_locked
    def poll_digests(self) -> list[Digest]:
        """Return and clear the queued digests."""
        out = list(self._digests)
        self._digests.clear()
        return out

    def port_stats(self, port: int) -> PortStats:
        """Counters of one port."""
        st = self._stats.get(port, [0, 0, 0, 0])
        return PortStats(st[0], st[1], st[2], st[3])

    # ----------------------------------------------------------- description
    def _table(self, name: str) -> Table:
        t = self._prog.tables.get(name)
        if t is None:
            raise NotFoundError(f"no table {name!r}")
        return t

    def _profile(self, name: str) -> ActionProfile:
        prof = self._prog.profiles.get(name)
        if prof is None:
            raise NotFoundError(f"no action profile {name!r}")
        return prof

    def table_info(self, table: str) -> TableInfo:
        """One table by name."""
        t = self._table(table)
        default = None
        if t.program_default is not None:
            default = ActionCall(t.program_default[0].name, t.program_default[1])
        return TableInfo(
            name=t.name,
            keys=tuple(KeyInfo(k.name, k.kind, k.width) for k in t.keys),
            actions=tuple(t.actions),
            max_size=t.max_size,
            match_type=t.match_type,
            action_profile=t.profile.name if t.profile else None,
            with_selector=bool(t.profile and t.profile.selector),
            direct_counter=t.direct_counter,
            direct_meter=t.direct_meter.name if t.direct_meter is not None else None,
            const_entries=t.const_entries,
            const_default_action=t.const_default,
            default_action=default,
            needs_priority=t.needs_priority,
            support_timeout=t.support_timeout,
        )

    def tables(self) -> list[TableInfo]:
        """All tables of all pipelines."""
        return [self.table_info(n) for n in self._prog.tables]

    def action_info(self, action: str) -> ActionInfo:
        """One action by name."""
        a = self._prog.actions_by_name.get(action)
        if a is None:
            raise NotFoundError(f"no action {action!r}")
        return ActionInfo(a.name, a.id, tuple(ParamInfo(n, w) for n, w in a.params))

    def arrays(self) -> list[ArrayInfo]:
        """All registers, counters and meters."""
        prog = self._prog
        out = [
            ArrayInfo(r.name, "register", len(r.cells), r.width) for r in prog.registers.values()
        ]
        out += [
            ArrayInfo(c.name, "counter", c.size, 0, c.is_direct, c.binding)
            for c in prog.counters.values()
        ]
        out += [
            ArrayInfo(m.name, "meter", m.size, 0, m.is_direct, m.binding, m.packets)
            for m in prog.meters.values()
        ]
        return out

    def action_profiles(self) -> list[ActionProfileInfo]:
        """All action profiles and selectors."""
        return [
            ActionProfileInfo(p.name, p.max_size, p.selector is not None, tuple(p.tables))
            for p in self._prog.profiles.values()
        ]

    def digests_info(self) -> list[DigestInfo]:
        """All learn lists."""
        return [
            DigestInfo(ll.name, ll.id, tuple(ll.field_names))
            for ll in self._prog.learn_lists.values()
        ]

    # ---------------------------------------------------------------- tables
    @_locked
    def add_entry(
        self,
        table: str,
        matches: Sequence[KeyMatch | None],
        action: EntryAction,
        priority: int = 0,
    ) -> int:
        """Add an entry and return its handle."""
        return self._table(table).add(matches, action, priority)

    @_locked
    def modify_entry(self, table: str, handle: int, action: EntryAction) -> None:
        """Replace an entry's action."""
        self._table(table).modify(handle, action)

    @_locked
    def delete_entry(self, table: str, handle: int) -> None:
        """Delete an entry by handle."""
        self._table(table).delete(handle)

    @_locked
    def find_entry(
        self, table: str, matches: Sequence[KeyMatch | None], priority: int = 0
    ) -> int | None:
        """Handle of the entry with exactly this key and priority."""
        return self._table(table).find(matches, priority)

    @_locked
    def entries(self, table: str) -> list[TableEntry]:
        """Snapshot of all entries in handle order."""
        t = self._table(table)
        return [t.snapshot(e) for _, e in sorted(t.entries.items())]

    @_locked
    def get_entry(self, table: str, handle: int) -> TableEntry:
        """Snapshot of one entry."""
        t = self._table(table)
        return t.snapshot(t.get(handle))

    @_locked
    def clear_table(self, table: str) -> None:
        """Delete every non-const entry."""
        t = self._table(table)
        for h, e in list(t.entries.items()):
            if not e.const:
                t.delete(h)

    @_locked
    def set_default_action(self, table: str, action: ActionCall) -> None:
        """Replace the default action."""
        self._table(table).set_default(action)

    @_locked
    def reset_default_action(self, table: str) -> None:
        """Restore the program's default action."""
        self._table(table).reset_default()

    @_locked
    def get_default_action(self, table: str) -> ActionCall | None:
        """The current default action."""
        d = self._table(table).default
        return None if d is None else ActionCall(d[0].name, d[1])

    # -------------------------------------------------------- direct resources
    @_locked
    def read_direct_counter(self, table: str, handle: int) -> CounterValue:
        """Direct counter of one entry."""
        e = self._table(table).get(handle)
        return CounterValue(e.counter[0], e.counter[1])

    @_locked
    def write_direct_counter(self, table: str, handle: int, value: CounterValue) -> None:
        """Overwrite the direct counter of one entry."""
        e = self._table(table).get(handle)
        e.counter[0], e.counter[1] = value.packets, value.bytes

    @_locked
    def set_direct_meter_rates(self, table: str, handle: int, rates: MeterRates | None) -> None:
        """Configure the direct meter of one entry."""
        t = self._table(table)
        if t.direct_meter is None:
            raise InvalidArgumentError(f"table {table!r} has no direct meter")
        e = t.get(handle)
        e.rates = rates
        e.meter = (
            None if rates is None else MeterCell(rates.cir, rates.cburst, rates.pir, rates.pburst)
        )

    # ---------------------------------------------------------- idle timeout
    @_locked
    def set_entry_ttl(self, table: str, handle: int, ttl_us: int) -> None:
        """Set an entry's TTL (0: never ages) and restart its idle timer."""
        self._table(table).set_ttl(handle, ttl_us)

    @_locked
    def sweep_idle(self) -> IdleSweep:
        """Find the entries idle for their TTL and restart their timers."""
        now = self._prog.clock()
        aged: list[tuple[str, int]] = []
        due: int | None = None
        for t in self._ageing_tables:
            aged.extend((t.name, h) for h in t.sweep(now))
            nxt = t.next_due()
            if nxt is not None and (due is None or nxt < due):
                due = nxt
        return IdleSweep(tuple(aged), None if due is None else max(0, due - now))

    # ------------------------------------------------------- action profiles
    @_locked
    def add_member(self, profile: str, member_id: int, action: ActionCall) -> None:
        """Create a member."""
        prof = self._profile(profile)
        if member_id in prof.members:
            raise AlreadyExistsError(f"{profile!r}: member {member_id!r} already exists")
        prof.add_member(member_id, self._member_action(prof, action))

    def _member_action(
        self, prof: ActionProfile, action: ActionCall
    ) -> tuple[Any, tuple[int, ...]]:
        allowed: set[str] = set()
        for tname in prof.tables:
            allowed.update(self._prog.tables[tname].actions)
        a = self._prog.actions_by_name.get(action.name)
        if a is None or (allowed and action.name not in allowed):
            raise InvalidArgumentError(
                f"{prof.name!r}: action {action.name!r} is not one of {sorted(allowed)}"
            )
        if prof.tables:
            a = self._prog.tables[prof.tables[0]].actions.get(action.name, a)
        return (a, a.check(action.params))

    @_locked
    def modify_member(self, profile: str, member_id: int, action: ActionCall) -> None:
        """Change a member's action."""
        prof = self._profile(profile)
        if member_id not in prof.members:
            raise NotFoundError(f"{profile!r}: no member {member_id!r}")
        prof.members[member_id] = self._member_action(prof, action)

    @_locked
    def delete_member(self, profile: str, member_id: int) -> None:
        """Delete a member that no entry or group uses."""
        prof = self._profile(profile)
        if member_id not in prof.members:
            raise NotFoundError(f"{profile!r}: no member {member_id!r}")
        if any(member_id in g for g in prof.groups.values()):
            raise InUseError(f"{profile!r}: member {member_id!r} is in a group")
        for tname in prof.tables:
            for e in self._prog.tables[tname].entries.values():
                if e.action == MemberRef(member_id):
                    raise InUseError(f"{profile!r}: member {member_id!r} is used by {tname!r}")
        prof.delete_member(member_id)

    @_locked
    def members(self, profile: str) -> dict[int, ActionCall]:
        """All members by id."""
        prof = self._profile(profile)
        return {mid: ActionCall(a.name, d) for mid, (a, d) in prof.members.items()}

    @_locked
    def add_group(
        self, profile: str, group_id: int, members: Sequence[int] = (), max_size: int = 0
    ) -> None:
        """Create a selector group."""
        prof = self._profile(profile)
        if prof.selector is None:
            raise InvalidArgumentError(f"{profile!r} is an action profile without a selector")
        if group_id in prof.groups:
            raise AlreadyExistsError(f"{profile!r}: group {group_id!r} already exists")
        prof.groups[group_id] = []
        prof.group_max[group_id] = max_size
        try:
            self.set_group_members(profile, group_id, members)
        except RuntimeApiError:
            prof.delete_group(group_id)
            raise

    @_locked
    def set_group_members(self, profile: str, group_id: int, members: Sequence[int]) -> None:
        """Replace a group's members."""
        prof = self._profile(profile)
        if group_id not in prof.groups:
            raise NotFoundError(f"{profile!r}: no group {group_id!r}")
        for m in members:
            if m not in prof.members:
                raise NotFoundError(f"{profile!r}: no member {m!r}")
        limit = prof.group_max.get(group_id, 0)
        if limit and len(members) > limit:
            raise InvalidArgumentError(
                f"{profile!r}: group {group_id!r} holds at most {limit} members, got {len(members)}"
            )
        prof.set_group(group_id, members)

    @_locked
    def delete_group(self, profile: str, group_id: int) -> None:
        """Delete a group that no entry uses."""
        prof = self._profile(profile)
        if group_id not in prof.groups:
            raise NotFoundError(f"{profile!r}: no group {group_id!r}")
        for tname in prof.tables:
            for e in self._prog.tables[tname].entries.values():
                if e.action == GroupRef(group_id):
                    raise InUseError(f"{profile!r}: group {group_id!r} is used by {tname!r}")
        prof.delete_group(group_id)

    @_locked
    def groups(self, profile: str) -> dict[int, tuple[int, ...]]:
        """All groups by id: member ids in selection order, once per unit of weight."""
        return {g: tuple(m) for g, m in self._profile(profile).groups.items()}

    # --------------------------------------------- registers, counters, meters
    def _register(self, name: str) -> Any:
        r = self._prog.registers.get(name)
        if r is None:
            raise NotFoundError(f"no register {name!r}")
        return r

    @staticmethod
    def _check_index(kind: str, name: str, index: int, size: int) -> None:
        if not isinstance(index, int) or not 0 <= index < size:
            raise InvalidArgumentError(
                f"{kind} {name!r}: index {index!r} out of range 0..{size - 1}"
            )

    @_locked
    def register_read(self, name: str, index: int) -> int:
        """One register cell."""
        r = self._register(name)
        self._check_index("register", name, index, len(r.cells))
        return int(r.cells[index])

    @_locked
    def register_write(self, name: str, index: int, value: int) -> None:
        """Write one register cell."""
        r = self._register(name)
        self._check_index("register", name, index, len(r.cells))
        r.cells[index] = int(value) & ((1 << r.width) - 1)

    @_locked
    def register_reset(self, name: str) -> None:
        """Zero every cell."""
        r = self._register(name)
        r.cells[:] = [0] * len(r.cells)

    def _counter(self, name: str) -> Any:
        c = self._prog.counters.get(name)
        if c is None or c.is_direct:
            raise NotFoundError(f"no indexed counter {name!r}")
        return c

    @_locked
    def counter_read(self, name: str, index: int) -> CounterValue:
        """One counter cell."""
        c = self._counter(name)
        self._check_index("counter", name, index, c.size)
        return CounterValue(c.cells[index][0], c.cells[index][1])

    @_locked
    def counter_write(self, name: str, index: int, value: CounterValue) -> None:
        """Overwrite one counter cell."""
        c = self._counter(name)
        self._check_index("counter", name, index, c.size)
        c.cells[index] = [value.packets, value.bytes]

    @_locked
    def counter_reset(self, name: str) -> None:
        """Zero every cell."""
        c = self._counter(name)
        c.cells[:] = [[0, 0] for _ in range(c.size)]

    def _meter(self, name: str) -> Any:
        m = self._prog.meters.get(name)
        if m is None or m.is_direct:
            raise NotFoundError(f"no indexed meter {name!r}")
        return m

    @_locked
    def meter_set_rates(self, name: str, index: int, rates: MeterRates | None) -> None:
        """Configure one meter cell; buckets start full."""
        m = self._meter(name)
        self._check_index("meter", name, index, m.size)
        if rates is None:
            m.cells[index] = None
            m.rates[index] = None
            return
        if rates.cir < 0 or rates.pir < 0 or rates.cburst < 0 or rates.pburst < 0:
            raise InvalidArgumentError(f"meter {name!r}: negative rate or burst in {rates!r}")
        m.cells[index] = MeterCell(rates.cir, rates.cburst, rates.pir, rates.pburst)
        m.rates[index] = rates

    @_locked
    def meter_get_rates(self, name: str, index: int) -> MeterRates | None:
        """The configuration of one meter cell."""
        m = self._meter(name)
        self._check_index("meter", name, index, m.size)
        r = m.rates[index]
        return r if isinstance(r, MeterRates) else None

    # ------------------------------------------------------------------ PRE
    @_locked
    def set_multicast_group(self, group: int, replicas: Sequence[Replica]) -> None:
        """Create or replace a group with these copies, in order."""
        self.delete_multicast_group(group, missing_ok=True)
        self._groups[group] = []
        for rep in replicas:
            handle = self.mc_node_create(rep.rid, [rep.port])
            self._groups[group].append(handle)

    @_locked
    def delete_multicast_group(self, group: int, missing_ok: bool = False) -> None:
        """Delete a multicast group (and the nodes it owns)."""
        nodes = self._groups.pop(group, None)
        if nodes is None:
            if missing_ok:
                return
            raise NotFoundError(f"no multicast group {group!r}")
        for n in nodes:
            used = any(n in g for g in self._groups.values())
            if not used:
                self._nodes.pop(n, None)

    @_locked
    def multicast_groups(self) -> dict[int, tuple[Replica, ...]]:
        """All groups with their copies."""
        out: dict[int, tuple[Replica, ...]] = {}
        for g, nodes in self._groups.items():
            reps: list[Replica] = []
            for n in nodes:
                node = self._nodes.get(n)
                if node is not None:
                    reps.extend(Replica(port, node[0]) for port in node[1])
            out[g] = tuple(reps)
        return out

    @_locked
    def mc_mgrp_create(self, group: int) -> None:
        """Create an empty group."""
        if group in self._groups:
            raise AlreadyExistsError(f"multicast group {group!r} already exists")
        self._groups[group] = []

    @_locked
    def mc_node_create(self, rid: int, ports: Sequence[int]) -> int:
        """Create a node; handles are 0, 1, 2, ... in creation order."""
        handle = self._next_node
        self._next_node += 1
        # BMv2 keeps a node's ports in a bitmap: copies leave in port order.
        self._nodes[handle] = (rid, tuple(sorted(set(ports))))
        return handle

    @_locked
    def mc_node_associate(self, group: int, node: int) -> None:
        """Append a node to a group."""
        if group not in self._groups:
            raise NotFoundError(f"no multicast group {group!r}")
        if node not in self._nodes:
            raise NotFoundError(f"no multicast node {node!r}")
        self._groups[group].append(node)

    @_locked
    def set_clone_session(self, session: int, config: CloneSession | None) -> None:
        """Create, replace or delete a mirror session."""
        if config is None:
            if self._sessions.pop(session, None) is None:
                raise NotFoundError(f"no mirror session {session!r}")
            return
        self._sessions[session] = config

    @_locked
    def clone_sessions(self) -> dict[int, CloneSession]:
        """All mirror sessions."""
        return dict(self._sessions)

    # ---------------------------------------------------------- value sets
    @_locked
    def parse_vset_add(self, name: str, value: int, mask: int = -1) -> None:
        """Add a value (with mask) to a parser value set."""
        vs = self._prog.vsets.get(name)
        if vs is None:
            raise NotFoundError(f"no parser value set {name!r}")
        vs.add((value, mask))

    @_locked
    def parse_vset_clear(self, name: str) -> None:
        """Empty a parser value set."""
        vs = self._prog.vsets.get(name)
        if vs is None:
            raise NotFoundError(f"no parser value set {name!r}")
        vs.clear()


def as_api(sw: Switch) -> SwitchApi:
    """The switch typed as the ``SwitchApi`` protocol (mypy checks that it conforms)."""
    return sw
