"""The steering service: registry, path selection, programming, relay and re-partitioning.

:class:`SteeringService` is a controller service over a
:class:`~controller.p4rt.multi.Fabric` of any number of switches::

    service = SteeringService(fabric, load_config("steering.json"))
    service.start()      # digests on, listeners added, one background thread
    ...
    service.status()     # nodes, weights, backups, policy, moves (JSON-ready)
    service.stop()

On start it turns on the ``advertisement_digest_t`` digest of every switch
(batched over ``digest_batch_s`` when configured) and listens to its
digests and packet-ins: each advertisement updates the
:class:`~controller.steering.registry.NodeRegistry` and, with ``relay``, is
relayed by packet-out (``mode = 1``) to the other switches that steer to the
instance but did not see it themselves, so that their data plane knows it
alive. Every ``interval_s`` the loop (:meth:`SteeringService.tick`) expires
silent instances, decides each service's weights per switch
(:mod:`~controller.steering.weights`, with hysteresis), builds each switch's
plan (instances with backups and ``stale_after_us`` for the data plane's
failover, selector groups, ``instance_addr`` rows and ``tenant_policy`` for
the policy, the same on every switch) and writes only what changed
(:mod:`~controller.steering.program`): first the rows on every switch, then
the selector groups, so that no switch steers to an instance that a switch
further on does not know yet. With partitions configured it reads the
switches' ``din_events`` counters and moves a model's layers away from an
overloaded switch (:mod:`~controller.steering.repartition`); the policy
needs no change for that, since the data plane decides per packet whether
it carries raw inputs. Each decision is logged and kept in
:attr:`SteeringService.decisions`.

No module state: several services (each with its own fabric) may run in one
process. May import the standard library, ``controller.entries``,
``controller.p4rt``, ``controller.install`` and ``controller.steering``.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from controller.entries import types as et
from controller.entries.errors import EntriesError
from controller.entries.steering import Plan
from controller.install import InstallError
from controller.p4rt import entities as pe
from controller.p4rt.client import DigestList, PacketIn, SwitchConnection
from controller.p4rt.errors import P4RTError, P4RuntimeWriteError
from controller.p4rt.multi import Fabric
from controller.steering.adverts import (
    DIGEST_NAME,
    PUNT_ADVERTISE,
    Advertisement,
    advert_frame,
    from_digest,
    from_frame,
)
from controller.steering.config import SteeringConfig
from controller.steering.errors import SteeringError
from controller.steering.plan import (
    ServiceChoice,
    candidates,
    plan_entities,
    steered_instances,
    switch_plan,
)
from controller.steering.probe import Prober
from controller.steering.program import SwitchProgrammer, WriteReport
from controller.steering.registry import InstanceView, NodeRegistry
from controller.steering.repartition import Repartitioner, SwitchLoad
from controller.steering.weights import Candidate, WeightState, decide

log = logging.getLogger(__name__)

EVENTS_COUNTER = "MyIngress.din_events"
EV_REQUEST = 0
EV_RECIRCULATE = 4
DIGEST_ACK_TIMEOUT_NS = 100_000_000
DIGEST_BATCH_SIZE = 256  # advertisements per digest list, when batched
MAX_DECISIONS = 500
_WRITE_ERRORS = (P4RTError, InstallError, EntriesError, SteeringError)


@dataclass(frozen=True, slots=True)
class _Pending:
    """A switch's new plan, decided but not written yet."""

    switch: str
    choices: list[ServiceChoice]
    states: dict[tuple[str, int], WeightState]
    reasons: list[str]
    plan: Plan
    entities: list[et.Entity]


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """One steering decision: when (wall clock), where, what kind, and the details."""

    time: float
    switch: str
    kind: str  # weights, expired, new, program, error, move
    detail: str
    # The instance an "expired" or "new" decision is about; for "program", the
    # instances the switch's groups hold once written.
    instances: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "time": self.time,
            "switch": self.switch,
            "kind": self.kind,
            "detail": self.detail,
            "instances": list(self.instances),
        }


class SteeringService:
    """Registry, selection and programming over a fabric, in one background thread."""

    def __init__(
        self,
        fabric: Fabric,
        config: SteeringConfig,
        *,
        registry: NodeRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
        warmup_s: float | None = None,
    ) -> None:
        """Prepare (nothing is written before :meth:`start` or :meth:`tick`).

        ``warmup_s`` (default the registry's stale threshold): after start,
        how long to listen before the first write, so that a restarted
        controller hears the live instances before it replaces any entry.
        """
        self.fabric = fabric
        self.config = config
        self.registry = registry or NodeRegistry(config.stale_after_s, clock=clock)
        self._clock = clock
        self.warmup_s = config.stale_after_s if warmup_s is None else warmup_s
        for svc in config.services:
            for sw in svc.switches or ():
                if sw not in fabric:
                    raise SteeringError(
                        f"service of model {svc.model_id}: switch {sw!r}: expected one of "
                        f"{fabric.names!r}"
                    )
        self.repartitioner = (
            Repartitioner(fabric, config.partitions, clock=clock) if config.partitions else None
        )
        self.prober = Prober(fabric, config.probe, clock=clock) if config.probe else None
        self._latency_listeners: list[Callable[[str, int, int, float], None]] = []
        self._programmers = {c.name: SwitchProgrammer(c) for c in fabric}
        self._lock = threading.RLock()
        self._states: dict[tuple[str, int], WeightState] = {}
        self._entities: dict[str, list[et.Entity]] = {}
        self._plans: dict[str, Plan] = {}
        self._choices: dict[str, list[ServiceChoice]] = {}
        self._rows: dict[str, frozenset[int]] = {}
        self._last_adverts: dict[tuple[int, int, bool], Advertisement] = {}
        self._last_events: dict[str, tuple[float, int, int]] = {}
        self._last_counters = -float("inf")
        self._failing: set[str] = set()
        self.switch_loads: dict[str, SwitchLoad] = {}
        self.decisions: deque[DecisionRecord] = deque(maxlen=MAX_DECISIONS)
        self.counts: Counter[str] = Counter()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        # What start() listens with on each switch, for stop() to take back.
        self._listening: list[
            tuple[
                SwitchConnection,
                Callable[[DigestList], None],
                Callable[[PacketIn], None],
            ]
        ] = []
        self._running = False
        self._started_at = clock()
        self.registry.add_listener(self._on_registry)

    # Life cycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Turn digests on, listen to every switch, prepare partitions, start the loop."""
        if self._thread is not None:
            raise SteeringError("steering service already started: expected one start()")
        self._stop.clear()  # a stopped service may start again
        self._wake.clear()
        self._running = True
        for conn in self.fabric:
            if conn.index is None:
                conn.load_index()
            self._enable_digest(conn)
            name = conn.name
            on_digest = functools.partial(self._on_digest, name)
            on_packet_in = functools.partial(self._on_packet_in, name)
            conn.add_digest_listener(on_digest)
            conn.add_packet_in_listener(on_packet_in)
            self._listening.append((conn, on_digest, on_packet_in))
        if self.repartitioner is not None:
            self.repartitioner.prepare()
        if self.prober is not None:
            self.prober.install()
        for prog in self._programmers.values():
            prog.read()
        self._started_at = self._clock()
        self._thread = threading.Thread(target=self._run, name="din-steering", daemon=True)
        self._thread.start()
        log.info(
            "steering %d service(s) on %d switch(es): %s",
            len(self.config.services),
            len(self.fabric),
            ", ".join(self.fabric.names),
        )

    def stop(self) -> None:
        """Stop the loop and stop handling advertisements (entries stay as written)."""
        self._running = False
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        try:
            for conn, on_digest, on_packet_in in self._listening:
                conn.remove_digest_listener(on_digest)
                conn.remove_packet_in_listener(on_packet_in)
        finally:
            self._listening.clear()
            if self.prober is not None:
                self.prober.uninstall()
        log.info("steering stopped")

    def __enter__(self) -> SteeringService:
        """Start; :meth:`stop` runs on exit."""
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop."""
        self.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                # One bad round must not end steering: log it and try again.
                log.exception("steering round failed")
            self._wake.wait(self.config.interval_s)
            self._wake.clear()

    def _enable_digest(self, conn: SwitchConnection) -> None:
        batch_ns = round(self.config.digest_batch_s * 1e9)
        entry = pe.DigestEntry(
            DIGEST_NAME,
            max_timeout_ns=batch_ns,
            max_list_size=DIGEST_BATCH_SIZE if batch_ns else 1,
            ack_timeout_ns=DIGEST_ACK_TIMEOUT_NS,
        )
        try:
            conn.insert([entry])
        except P4RuntimeWriteError as exc:
            if not all(f.code == "ALREADY_EXISTS" for f in exc.errors) or not exc.errors:
                raise
            conn.modify([entry])

    # Advertisements -------------------------------------------------------------------

    def _on_registry(self, event: str, instance_id: int) -> None:
        self._record("", event, f"instance {instance_id}", (instance_id,))
        self._wake.set()

    def _on_digest(self, switch: str, dl: DigestList) -> None:
        if not self._running or dl.digest != DIGEST_NAME:
            return
        for values in dl.data:
            try:
                adv = from_digest(values, switch)
            except SteeringError as exc:
                self.counts["bad_adverts"] += 1
                log.warning("%s: %s", switch, exc)
                continue
            self.counts["adverts_digest"] += 1
            self._learn(adv, relay=True)

    def add_latency_listener(self, callback: Callable[[str, int, int, float], None]) -> None:
        """Call ``callback(switch, model_id, instance_id, seconds)`` for each probe answered."""
        self._latency_listeners.append(callback)

    def _on_probe_answer(self, pkt: PacketIn) -> None:
        if self.prober is None:
            return
        answer = self.prober.on_packet_in(pkt.payload)
        if answer is None or answer.busy:
            return
        self.registry.observe_latency(answer.instance_id, answer.seconds)
        for cb in list(self._latency_listeners):
            try:
                cb(answer.switch, answer.model_id, answer.instance_id, answer.seconds)
            except Exception:
                log.exception("latency listener %r failed", cb)

    def _on_packet_in(self, switch: str, pkt: PacketIn) -> None:
        if not self._running:
            return
        if pkt.metadata.get("reason") != PUNT_ADVERTISE:
            self._on_probe_answer(pkt)
            return
        try:
            adv = from_frame(pkt.payload, switch)
        except SteeringError as exc:
            self.counts["bad_adverts"] += 1
            log.warning("%s: packet-in: %s", switch, exc)
            return
        self.counts["adverts_packet_in"] += 1
        # The same advertisement came as a digest too: that one is relayed.
        self._learn(adv, relay=False)

    def _learn(self, adv: Advertisement, *, relay: bool) -> None:
        self.registry.update(adv)
        self._last_adverts[(adv.instance_id, adv.model_id, adv.large)] = adv
        if relay and self.config.relay:
            for conn in self.fabric:
                if conn.name == adv.switch or adv.instance_id not in self._rows.get(conn.name, ()):
                    continue
                if self.registry.seen_recently(
                    adv.instance_id, conn.name, self.config.relay_window_s
                ):
                    continue
                self._relay(conn, adv)

    def _relay(self, conn: SwitchConnection, adv: Advertisement) -> None:
        try:
            conn.packet_out(advert_frame(adv), {"egress_port": 0, "_pad": 0, "mode": 1})
        except P4RTError as exc:
            self.counts["relay_errors"] += 1
            log.debug("%s: relay of instance %d failed: %s", conn.name, adv.instance_id, exc)
            return
        self.counts["relayed"] += 1

    def _relay_latest(self, switch: str, instances: set[int]) -> None:
        """Tell ``switch`` at once of instances it steers to from now on (before the groups)."""
        conn = self.fabric[switch]
        for (inst, _model, _large), adv in list(self._last_adverts.items()):
            if inst in instances and not self.registry.seen_recently(
                inst, switch, self.config.relay_window_s
            ):
                self._relay(conn, adv)

    # The loop ------------------------------------------------------------------------

    def tick(self) -> None:
        """One round: expire, decide, program; with partitions, check switch load."""
        with self._lock:
            self.counts["ticks"] += 1
            expired = self.registry.expire()
            for inst in expired:
                for key in [k for k in self._last_adverts if k[0] == inst]:
                    del self._last_adverts[key]
                if self.prober is not None:
                    self.prober.forget(inst)
            now = self._clock()
            if now - self._started_at < self.warmup_s and self._thread is not None:
                return
            self._program_all(now)
            if self.prober is not None and self.prober.due():
                self._probe()
            if (
                self.repartitioner is not None
                and now - self._last_counters >= self.config.counters_interval_s
            ):
                self._last_counters = now
                self._check_partitions()

    def _probe(self) -> None:
        assert self.prober is not None
        self.prober.expire()
        for name, choices in self._choices.items():
            plan = self._plans.get(name)
            if plan is None:
                continue
            addrs = {i.instance_id: i.addr for i in plan.instances}
            targets = {
                (inst, str(addrs[inst]), c.spec.model_id)
                for c in choices
                for inst, _ in c.weights
                if inst in addrs
            }
            self.prober.send(name, sorted(targets))

    def _latency(self, switch: str, view: InstanceView) -> float | None:
        measured = self.prober.latency(switch, view.instance_id) if self.prober else None
        return measured if measured is not None else view.latency_s

    def _program_all(self, now: float) -> None:
        views = {v.instance_id: v for v in self.registry.instances()}
        pending = [self._decide(conn.name, views, now) for conn in self.fabric]
        changed = [p for p in pending if p is not None]
        if len(changed) > 1:
            # Rows first on every switch: the policy gate of a switch on a request's
            # path must know an instance (and the policy its bit) before any switch
            # steers there. A switch whose rows failed waits for the next round.
            changed = [p for p in changed if self._write(p, rows_only=True)]
        for p in changed:
            self._write(p, rows_only=False)

    def _decide(
        self, switch: str, views: Mapping[int, InstanceView], now: float
    ) -> _Pending | None:
        """The switch's new plan, or None when it would write nothing new."""
        choices: list[ServiceChoice] = []
        states: dict[tuple[str, int], WeightState] = {}
        reasons: list[str] = []
        for index, spec in enumerate(self.config.services):
            if not spec.on(switch):
                continue
            group_id = index + 1
            able = candidates(spec, list(views.values()))
            previous = self._states.get((switch, group_id), WeightState())
            d = decide(
                previous,
                [Candidate(v.instance_id, v.load, self._latency(switch, v)) for v in able],
                now,
                self.config.weights,
            )
            states[(switch, group_id)] = d.state(previous, now)
            if d.changed:
                reasons.append(f"{spec.name}: {d.reason}")
            choices.append(
                ServiceChoice(group_id, spec, tuple(v.instance_id for v in able), d.weights)
            )
        # A switch that steers nothing still gets the instances and the policy: its
        # policy gate checks what others steered and what clients address.
        plan = switch_plan(choices, views, self.config)
        entities = plan_entities(plan, [c.group_id for c in choices if c.weights])
        old = self._entities.get(switch)
        if old is not None and len(old) == len(entities) and set(old) == set(entities):
            self._states.update(states)
            return None
        return _Pending(switch, choices, states, reasons, plan, entities)

    def _write(self, p: _Pending, *, rows_only: bool) -> bool:
        """Write ``p`` (only its rows, or all of it); False when the write failed."""
        switch = p.switch
        rows = steered_instances(p.plan)
        if self.config.relay and not rows_only:
            self._relay_latest(switch, set(rows - self._rows.get(switch, frozenset())))
        prog = self._programmers[switch]
        try:
            report = prog.add_rows(p.entities) if rows_only else prog.apply(p.entities)
        except _WRITE_ERRORS as exc:
            self.counts["write_errors"] += 1
            if switch not in self._failing:
                log.warning("%s: steering write failed (will retry): %s", switch, exc)
                self._record(switch, "error", str(exc).splitlines()[0])
            self._failing.add(switch)
            return False
        if rows_only:
            self.counts["writes"] += report.writes
            return True
        if switch in self._failing:
            log.info("%s: steering writes work again", switch)
            self._failing.discard(switch)
        self._states.update(p.states)
        self._entities[switch] = p.entities
        self._plans[switch] = p.plan
        self._choices[switch] = p.choices
        self._rows[switch] = rows
        held = sorted({i for c in p.choices for i, w in c.weights if w > 0})
        self._log_write(switch, report, p.reasons, tuple(held))
        return True

    def _log_write(
        self, switch: str, report: WriteReport, reasons: list[str], held: tuple[int, ...] = ()
    ) -> None:
        self.counts["writes"] += report.writes
        detail = "; ".join(reasons) or "entries refreshed"
        if report.changed:
            detail += (
                f" ({report.inserts} inserts, {report.modifies} modifies, "
                f"{report.deletes} deletes, {report.seconds * 1e3:.1f} ms)"
            )
        log.info("%s: %s", switch, detail)
        self._record(switch, "program", detail, held)

    def _record(self, switch: str, kind: str, detail: str, instances: tuple[int, ...] = ()) -> None:
        self.decisions.append(DecisionRecord(time.time(), switch, kind, detail, instances))

    # Partitions ------------------------------------------------------------------------

    def _read_loads(self) -> dict[str, SwitchLoad]:
        assert self.repartitioner is not None
        out: dict[str, SwitchLoad] = {}
        for name in sorted(self.repartitioner.switches()):
            conn = self.fabric[name]
            cells = {EV_REQUEST: 0, EV_RECIRCULATE: 0}
            try:
                for c in conn.read_entities(
                    [pe.CounterEntry(EVENTS_COUNTER, i) for i in sorted(cells)]
                ):
                    if isinstance(c, pe.CounterEntry) and c.index in cells:
                        cells[c.index] = c.packet_count
            except P4RTError as exc:
                log.debug("%s: cannot read %s: %s", name, EVENTS_COUNTER, exc)
                continue
            now = self._clock()
            prev = self._last_events.get(name)
            self._last_events[name] = (now, cells[EV_REQUEST], cells[EV_RECIRCULATE])
            if prev is None or now <= prev[0]:
                continue
            span = now - prev[0]
            out[name] = SwitchLoad(
                max(0, cells[EV_REQUEST] - prev[1]) / span,
                max(0, cells[EV_RECIRCULATE] - prev[2]) / span,
            )
        self.switch_loads.update(out)
        return out

    def _check_partitions(self) -> None:
        rep = self.repartitioner
        assert rep is not None
        for req in rep.check(self._read_loads()):
            self.move(req.model_id, req.index, req.reason, rate=req.rate)

    def move(
        self, model_id: int, index: int, reason: str = "requested", *, rate: float = 0.0
    ) -> None:
        """Move a partitioned model's layers to placement ``index``, re-planning around it.

        ``rate`` as in :meth:`Repartitioner.move` (0: stay until moved again).
        """
        rep = self.repartitioner
        if rep is None:
            raise SteeringError("no partitions configured: nothing can move")

        with self._lock:
            done = rep.move(model_id, index, reason, rate=rate)
            self._program_all(self._clock())
            self._record(
                done.target.label,
                "move",
                f"model {model_id}: {done.source.label} -> {done.target.label}: {reason}",
            )

    # Status ----------------------------------------------------------------------------

    def weights(self, switch: str) -> dict[int, dict[int, int]]:
        """The programmed weights on ``switch``: model id -> instance id -> weight."""
        with self._lock:
            return {
                c.spec.model_id: dict(c.weights) for c in self._choices.get(switch, []) if c.weights
            }

    def status(self) -> dict[str, Any]:
        """Nodes, per-switch steering, partitions, recent decisions and counts (JSON-ready)."""
        with self._lock:
            switches: dict[str, Any] = {}
            for name in self.fabric.names:
                plan = self._plans.get(name)
                switches[name] = {
                    "services": [
                        {
                            "model_id": c.spec.model_id,
                            "group_id": c.group_id,
                            "match": [list(m) for m in c.spec.match],
                            "candidates": list(c.candidates),
                            "weights": {str(i): w for i, w in c.weights},
                            "overloaded": sorted(
                                self._states.get((name, c.group_id), WeightState()).overloaded
                            ),
                        }
                        for c in self._choices.get(name, [])
                    ],
                    "instances": [
                        {
                            "instance_id": i.instance_id,
                            "addr": i.addr,
                            "backup_id": i.backup_id,
                            "stale_after_us": i.stale_after_us,
                        }
                        for i in (plan.instances if plan else ())
                    ],
                    "policies": [
                        {
                            "tenant": p.tenant_id,
                            "sensitivity": p.sensitivity,
                            "allowed": list(p.allowed),
                            "allowed_raw": list(p.raw),
                        }
                        for p in (plan.policies if plan else ())
                    ],
                    "write_failing": name in self._failing,
                }
                if name in self.switch_loads:
                    load = self.switch_loads[name]
                    switches[name]["load"] = {
                        "requests_per_s": round(load.requests_per_s, 3),
                        "recirculations_per_s": round(load.recirculations_per_s, 3),
                    }
            return {
                "instances": self.registry.snapshot(),
                "switches": switches,
                "partitions": self.repartitioner.status() if self.repartitioner else [],
                "decisions": [d.to_dict() for d in list(self.decisions)[-50:]],
                "counts": dict(sorted(self.counts.items())),
                "probes": dict(sorted(self.prober.counts.items())) if self.prober else {},
            }
