"""What the running switches report: digests, packet-ins, counters and flow registers.

``Observer`` listens on every switch's P4Runtime StreamChannel (through the
controller's ``Fabric``) and keeps the flow-class digests, the latest node
advertisement each switch saw per instance, and packet-in counts by reason.
``read_counters`` reads din.p4's telemetry counters (per class, per
instance, policy drops, events, drops); ``read_flow`` reads one flow's
register slot, from which ``FlowState.features`` gives the 12 features the
switch classified the flow's last packet on. ``status_text`` formats it all
for ``din_status``, and ``steering_lines`` the steering service's view (its
``status()``: nodes, weights and backups per switch, recent decisions).

Imports controller.p4rt, controller.entries (constants and the crc16 of the
simulator), topologies.deployment and the standard library.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from controller.entries.schema import NUM_CLASSES
from controller.entries.simulator import crc16
from controller.p4rt import entities as pe
from controller.p4rt.client import DigestList, PacketIn, SwitchConnection
from controller.p4rt.multi import Fabric
from topologies.deployment import Deployment

log = logging.getLogger(__name__)

FLOW_DIGEST = "flow_class_digest_t"
ADVERT_DIGEST = "advertisement_digest_t"
FLOW_TABLE_SIZE = 4096  # FLOW_TABLE_SIZE in p4src/include/headers.p4
U32_MAX = 0xFFFFFFFF
# Index names of din.p4's counters (p4src/README.md, "Counters, registers, digests").
EVENTS = (
    "request",
    "layer computed",
    "early exit",
    "escalation",
    "recirculation",
    "failover",
    "policy re-steer",
    "policy drop",
    "advertisement",
    "flow collision",
    "new flow",
    "response seen",
    "steered",
    "exit-head pass",
    "role without layer",
)
DROPS = (
    "parser error",
    "bad DIN",
    "TTL",
    "policy",
    "no route",
    "too many passes",
    "IPv4 checksum",
    "not IPv4",
)
PUNT_REASONS = {1: "advertisement with no route", 2: "DIN request with no route"}
MAX_INSTANCES = 64


@dataclass(frozen=True, slots=True)
class FlowKey:
    """A unidirectional 5-tuple, as din.p4 keys its flow registers."""

    src: str
    dst: str
    protocol: int
    sport: int
    dport: int

    def _packed(self) -> tuple[bytes, bytes, bytes, bytes, bytes]:
        return (
            ipaddress.IPv4Address(self.src).packed,
            ipaddress.IPv4Address(self.dst).packed,
            bytes([self.protocol]),
            self.sport.to_bytes(2, "big"),
            self.dport.to_bytes(2, "big"),
        )

    @property
    def slot(self) -> int:
        """The register slot: crc32(src, dst, protocol, sport, dport) mod FLOW_TABLE_SIZE."""
        return zlib.crc32(b"".join(self._packed())) % FLOW_TABLE_SIZE

    @property
    def signature(self) -> int:
        """The slot owner's signature: crc16(dst, src, dport, sport, protocol)."""
        src, dst, proto, sport, dport = self._packed()
        return crc16(dst + src + dport + sport + proto)

    def __str__(self) -> str:
        kind = {6: "tcp", 17: "udp"}.get(self.protocol, str(self.protocol))
        return f"{kind} {self.src}:{self.sport} -> {self.dst}:{self.dport}"


@dataclass(frozen=True, slots=True)
class FlowReport:
    """A flow-class digest: the switch classified ``key`` as ``flow_class`` at packet ``pkts``."""

    switch: str
    key: FlowKey
    cls_model: int
    flow_class: int
    confidence: int
    pkts: int
    received: float  # time.monotonic() when it arrived


@dataclass(frozen=True, slots=True)
class Advert:
    """The latest advertisement of an instance a switch saw (from its digest)."""

    switch: str
    instance_id: int
    model_id: int
    queue_len: int
    utilisation: int
    req_rate: int
    capacity: int
    received: float


class Observer:
    """Collects the digests and packet-ins of every switch of a fabric (thread-safe)."""

    def __init__(self, fabric: Fabric) -> None:
        """Register as the digest and packet-in listener of every connection."""
        self._lock = threading.Lock()
        self._flows: list[FlowReport] = []
        self._adverts: dict[tuple[str, int], Advert] = {}
        self.packet_ins: Counter[tuple[str, int]] = Counter()
        self.advert_digests = 0
        for conn in fabric:
            conn.add_digest_listener(partial(self._on_digest, conn.name))
            conn.add_packet_in_listener(partial(self._on_packet_in, conn.name))

    def _on_digest(self, switch: str, digest: DigestList) -> None:
        now = time.monotonic()
        with self._lock:
            for d in digest.data:
                if digest.digest == FLOW_DIGEST:
                    key = FlowKey(
                        str(ipaddress.IPv4Address(d.get("src_addr", 0))),
                        str(ipaddress.IPv4Address(d.get("dst_addr", 0))),
                        d.get("protocol", 0),
                        d.get("src_port", 0),
                        d.get("dst_port", 0),
                    )
                    self._flows.append(
                        FlowReport(
                            switch,
                            key,
                            d.get("cls_model", 0),
                            d.get("flow_class", 0),
                            d.get("confidence", 0),
                            d.get("pkts", 0),
                            now,
                        )
                    )
                elif digest.digest == ADVERT_DIGEST:
                    self.advert_digests += 1
                    inst = d.get("instance_id", 0)
                    self._adverts[(switch, inst)] = Advert(
                        switch,
                        inst,
                        d.get("model_id", 0),
                        d.get("queue_len", 0),
                        d.get("utilisation", 0),
                        d.get("req_rate", 0),
                        d.get("capacity", 0),
                        now,
                    )

    def _on_packet_in(self, switch: str, packet: PacketIn) -> None:
        with self._lock:
            self.packet_ins[(switch, packet.metadata.get("reason", 0))] += 1

    def flow_reports(
        self, key: FlowKey | None = None, switch: str | None = None
    ) -> list[FlowReport]:
        """Flow-class digests so far, in arrival order, of one flow and/or switch."""
        with self._lock:
            return [
                r
                for r in self._flows
                if (key is None or r.key == key) and (switch is None or r.switch == switch)
            ]

    def adverts(self) -> dict[tuple[str, int], Advert]:
        """The latest advertisement per (switch, instance)."""
        with self._lock:
            return dict(self._adverts)

    def wait_for_flow(self, key: FlowKey, switch: str, pkts: int, timeout: float) -> bool:
        """Wait until a digest of ``key`` at packet ``pkts`` or later arrived (or timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(r.pkts >= pkts for r in self.flow_reports(key, switch)):
                return True
            time.sleep(0.01)  # polling the digest list; the stream thread appends to it
        return False


# Counters ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Counters:
    """din.p4's telemetry counters of one switch (packets; bytes where counted)."""

    switch: str
    class_packets: tuple[int, ...]
    class_bytes: tuple[int, ...]
    instance_requests: tuple[int, ...]
    policy_drops: tuple[int, ...]
    events: tuple[int, ...]
    drops: tuple[int, ...]

    def event(self, name: str) -> int:
        """An event count by its name in ``EVENTS``."""
        return self.events[EVENTS.index(name)]

    def drop(self, name: str) -> int:
        """A drop count by its name in ``DROPS``."""
        return self.drops[DROPS.index(name)]


COUNTERS = {
    "class_packets": "MyIngress.class_packets",
    "instance_requests": "MyIngress.instance_requests",
    "policy_drops": "MyIngress.policy_drops",
    "events": "MyIngress.din_events",
    "drops": "MyIngress.drops",
}


def read_counters(conn: SwitchConnection) -> Counters:
    """Every cell of din.p4's counters on one switch, in one Read."""
    index = conn.index if conn.index is not None else conn.load_index()
    sizes = {name: index.counter(name).size for name in COUNTERS.values()}
    cells: dict[str, list[tuple[int, int]]] = {n: [(0, 0)] * s for n, s in sizes.items()}
    for e in conn.read_entities([pe.CounterEntry(n) for n in COUNTERS.values()]):
        if isinstance(e, pe.CounterEntry) and e.index is not None and e.index < sizes[e.counter]:
            cells[e.counter][e.index] = (e.packet_count, e.byte_count)

    def packets(key: str) -> tuple[int, ...]:
        return tuple(p for p, _ in cells[COUNTERS[key]])

    return Counters(
        conn.name,
        packets("class_packets"),
        tuple(b for _, b in cells[COUNTERS["class_packets"]]),
        packets("instance_requests"),
        packets("policy_drops"),
        packets("events"),
        packets("drops"),
    )


def read_all_counters(fabric: Fabric) -> dict[str, Counters]:
    """``read_counters`` on every switch of the fabric, concurrently."""
    outcomes = fabric.run(read_counters, label="read counters")
    return {name: o.value for name, o in sorted(outcomes.items()) if o.value is not None}


# Flow registers -------------------------------------------------------------------

FLOW_REGISTERS = (
    "sig",
    "pkts",
    "bytes",
    "first_ts",
    "last_ts",
    "iat_min",
    "iat_max",
    "iat_ewma",
    "size_min",
    "size_max",
    "tcp_flags",
    "class",
)
REGISTER_PREFIX = "MyIngress.classifier.flow_"


@dataclass(frozen=True, slots=True)
class FlowState:
    """One flow register slot as the switch holds it after the flow's last packet."""

    sig: int
    pkts: int
    bytes: int
    first_ts: int
    last_ts: int
    iat_min: int
    iat_max: int
    iat_ewma: int
    size_min: int
    size_max: int
    tcp_flags: int
    flow_class: int  # the last class reported + 1; 0 = none

    def features(self, pkt_len: int, service_port: int, previous_ts: int) -> tuple[int, ...]:
        """The 12 features (FEATURE_NAMES order) of the packet that left the slot like this.

        ``pkt_len`` is that packet's IPv4 total length and ``previous_ts`` the
        slot's ``last_ts`` before it arrived: the registers keep neither.
        """
        iat = self.last_ts - previous_ts if self.pkts > 1 else 0
        duration = min(self.last_ts - self.first_ts, U32_MAX)
        return (
            pkt_len,
            service_port,
            iat,
            self.pkts,
            self.bytes,
            duration,
            self.iat_min,
            self.iat_max,
            self.iat_ewma,
            self.size_min,
            self.size_max,
            self.tcp_flags,
        )


def read_flow(conn: SwitchConnection, key: FlowKey) -> FlowState:
    """The registers of ``key``'s slot on one switch, in one Read."""
    slot = key.slot
    values: dict[str, int] = {}
    names = [REGISTER_PREFIX + r for r in FLOW_REGISTERS]
    for e in conn.read_entities([pe.RegisterEntry(n, slot) for n in names]):
        if isinstance(e, pe.RegisterEntry):
            values[e.register.removeprefix(REGISTER_PREFIX)] = e.value or 0
    missing = [r for r in FLOW_REGISTERS if r not in values]
    if missing:
        raise LookupError(f"{conn.name}: flow slot {slot} of {key}: registers {missing} not read")
    return flow_state(values)


def flow_state(values: Mapping[str, int]) -> FlowState:
    """A FlowState from register values by short name (``FLOW_REGISTERS``)."""
    return FlowState(*(values[r] for r in FLOW_REGISTERS))


# Status text -------------------------------------------------------------------


def _nonzero(names: Sequence[str], values: Sequence[int]) -> str:
    parts = [f"{n} {v}" for n, v in zip(names, values, strict=False) if v]
    return ", ".join(parts) or "none"


def status_text(
    counters: Mapping[str, Counters],
    deployment: Deployment,
    observer: Observer | None = None,
    class_names: Sequence[str] = (),
) -> str:
    """Per switch: packets per flow class, requests per instance, events, drops."""
    names = list(class_names) + [f"class {c}" for c in range(len(class_names), NUM_CLASSES)]
    hosts = {n.instance_id: n.host for n in deployment.nodes}
    lines = []
    for name, c in counters.items():
        lines.append(f"{name}:")
        lines.append(f"  packets per class: {_nonzero(names, c.class_packets)}")
        inst = [f"{hosts.get(i, i)} {v}" for i, v in enumerate(c.instance_requests) if v]
        lines.append(f"  requests per instance: {', '.join(inst) or 'none'}")
        lines.append(f"  events: {_nonzero(EVENTS, c.events)}")
        lines.append(f"  drops: {_nonzero(DROPS, c.drops)}")
        pol = [f"sensitivity {s}: {v}" for s, v in enumerate(c.policy_drops) if v]
        if pol:
            lines.append(f"  policy drops: {', '.join(pol)}")
    if observer is not None:
        now = time.monotonic()
        seen = observer.adverts()
        for node in deployment.nodes:
            where = [
                f"{a.switch} {1000 * (now - a.received):.0f} ms ago (queue {a.queue_len}, "
                f"{a.utilisation}% busy)"
                for (sw, i), a in sorted(seen.items())
                if i == node.instance_id
            ]
            lines.append(
                f"instance {node.instance_id} {node.host}: last advertisement "
                + ("; ".join(where) or "never seen")
            )
        flows = observer.flow_reports()
        punts = ", ".join(
            f"{sw} {PUNT_REASONS.get(r, f'reason {r}')}: {n}"
            for (sw, r), n in sorted(observer.packet_ins.items())
        )
        lines.append(f"flow-class digests: {len(flows)}; packet-ins: {punts or 'none'}")
    return "\n".join(lines)


def steering_lines(
    status: Mapping[str, Any], deployment: Deployment, *, nodes: bool = True, decisions: int = 8
) -> list[str]:
    """The steering service's view (``SteeringService.status()``) for a person, hosts by name.

    Per node (with ``nodes``): alive or not heard, its last advertisement's
    age and load; per steering switch and model: the programmed weights and
    each instance's backup; then the ``decisions`` most recent decisions.
    """
    hosts = {n.instance_id: n.host for n in deployment.nodes}

    def name(instance: int | str) -> str:
        return hosts.get(int(instance), f"instance {instance}")

    lines: list[str] = []
    if nodes:
        alive = {int(i["instance_id"]): i for i in status.get("instances", [])}
        for node in deployment.nodes:
            i = alive.get(node.instance_id)
            if i is None:
                lines.append(f"node {node.host} (instance {node.instance_id}): not heard (expired)")
                continue
            lines.append(
                f"node {node.host} (instance {node.instance_id}): alive, last advertisement "
                f"{1000 * i['age_s']:.0f} ms ago; queue {i['queue_len']:g}, "
                f"{i['utilisation']:g}% busy, {i['req_rate']:g} req/s of {i['capacity']:g}"
            )
    for switch, sw in status.get("switches", {}).items():
        backups = {int(r["instance_id"]): int(r["backup_id"]) for r in sw.get("instances", [])}
        for svc in sw.get("services", []):
            weights = ", ".join(f"{name(i)} {w}" for i, w in svc["weights"].items()) or "none"
            backup = ", ".join(
                f"{name(i)} -> {name(backups[int(i)])}"
                for i in svc["weights"]
                if backups.get(int(i))
            )
            lines.append(
                f"steering on {switch}: model {svc['model_id']} -> {weights}"
                + (f"; backups {backup}" if backup else "")
            )
    recent = list(status.get("decisions", []))[-decisions:] if decisions else []
    if recent:
        lines.append("recent steering decisions:")
        for d in recent:
            when = time.strftime("%H:%M:%S", time.localtime(d["time"]))
            millis = int(d["time"] * 1000) % 1000
            lines.append(f"  {when}.{millis:03d} {d['switch'] or '-'} {d['kind']}: {d['detail']}")
    return lines
