"""Measured latency: probe requests injected by packet-out, answers back as packet-ins.

For each instance a switch steers to, the controller sends a DIN request by
packet-out (``mode = 1``: processed like a received frame, no flow features,
no MLP) from a reserved source address, with ``instance_id`` already set (so
it is not steered) and addressed to the instance: ``ipv4_lpm`` routes it
there like any request, the node computes every layer and answers the
source address. Every switch holds a ``/32`` route for that address to the
CPU port, so the answer comes back as a packet-in (reason 0) from the first
switch it reaches: the latency is from the probing switch to the instance
and back to the instance's own switch, node queueing and compute included,
plus the P4Runtime stream's own delay. Busy answers count but give no
latency; probes without answer after ``timeout_s`` count as lost. A probe
goes through the policy gate like any request of its tenant (the probe's
``tenant``, sensitivity 0): a policy that restricts that tenant keeps probes
off the instances it does not allow.

May import the standard library, ``controller.entries``, ``controller.p4rt``,
``controller.install`` and ``controller.steering``'s pure modules.
"""

from __future__ import annotations

import ipaddress
import itertools
import logging
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from controller import install
from controller.entries.steering import Route, route_entries
from controller.p4rt import entities as pe
from controller.p4rt.errors import P4RTError, P4RuntimeWriteError
from controller.p4rt.multi import Fabric
from controller.p4rt.p4info import P4InfoIndex
from controller.steering.adverts import (
    DIN_UDP_PORT,
    DIN_VERSION,
    ETH_HLEN,
    ETHERTYPE_IPV4,
    IPV4_HLEN,
    PROTO_UDP,
    UDP_HLEN,
    ipv4_checksum,
)
from controller.steering.config import ProbeConfig

log = logging.getLogger(__name__)

CPU_PORT = 255  # p4src/include/headers.p4 CPU_PORT
MSG_REQUEST = 1
MSG_RESPONSE = 2
FLAG_BUSY = 0x40  # nodes.server: not served, the queue was full
SMOOTHING = 0.3
_ETH = struct.Struct("!6s6sH")
_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_UDP = struct.Struct("!HHHH")
_COMMON = struct.Struct("!BBHBBHBBIBBHHI")
_VECTOR_LEN = 16


@dataclass(frozen=True, slots=True)
class ProbeAnswer:
    """A probe answered: by which instance, for which model, how fast, and whether busy."""

    switch: str  # where the probe was sent
    model_id: int
    instance_id: int
    seconds: float
    busy: bool


@dataclass(frozen=True, slots=True)
class _Pending:
    switch: str
    model_id: int
    instance_id: int
    sent: float


def probe_frame(
    config: ProbeConfig, dst: str, model_id: int, instance_id: int, request_id: int
) -> bytes:
    """A DIN request from the probe address to ``dst``, already steered to ``instance_id``."""
    din = _COMMON.pack(
        (DIN_VERSION << 4) | MSG_REQUEST, 0, model_id, 0, 0, config.tenant, 0, 0,
        request_id, 0, 0, instance_id, 0, 0,
    ) + bytes(_VECTOR_LEN)  # fmt: skip
    udp = _UDP.pack(config.port, DIN_UDP_PORT, UDP_HLEN + len(din), 0) + din
    src = ipaddress.IPv4Address(config.addr).packed
    head = _IPV4.pack(
        0x45, 0, IPV4_HLEN + len(udp), 0, 0x4000, 64, PROTO_UDP, 0, src,
        ipaddress.IPv4Address(dst).packed,
    )  # fmt: skip
    head = head[:10] + ipv4_checksum(head).to_bytes(2, "big") + head[12:]
    return _ETH.pack(b"\xff" * 6, b"\x02\x00\x00\x00\x00\x02", ETHERTYPE_IPV4) + head + udp


def parse_answer(frame: bytes, config: ProbeConfig) -> tuple[int, int, int] | None:
    """(request_id, instance_id, flags) of a DIN response to the probe address, else None."""
    if len(frame) < ETH_HLEN + IPV4_HLEN + UDP_HLEN + _COMMON.size:
        return None
    if _ETH.unpack_from(frame)[2] != ETHERTYPE_IPV4:
        return None
    ver_ihl, *_rest, proto, _csum, _src, dst = _IPV4.unpack_from(frame, ETH_HLEN)
    ihl = (ver_ihl & 0x0F) * 4
    if ver_ihl >> 4 != 4 or proto != PROTO_UDP or dst != ipaddress.IPv4Address(config.addr).packed:
        return None
    at = ETH_HLEN + ihl
    if len(frame) < at + UDP_HLEN + _COMMON.size:
        return None
    _sport, dport, _len, _ucsum = _UDP.unpack_from(frame, at)
    if dport != config.port:
        return None
    common = _COMMON.unpack_from(frame, at + UDP_HLEN)
    if common[0] != (DIN_VERSION << 4) | MSG_RESPONSE:
        return None
    return common[8], common[11], common[1]


class Prober:
    """Probe requests to instances through each switch, and the latency of their answers."""

    def __init__(
        self,
        fabric: Fabric,
        config: ProbeConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Probe through ``fabric``'s switches (nothing is written before :meth:`install`)."""
        self.fabric = fabric
        self.config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._latency: dict[tuple[str, int], float] = {}
        self.counts: Counter[str] = Counter()
        self._last_round = -float("inf")

    def _route(self, index: P4InfoIndex) -> list[pe.Entity]:
        route = Route(f"{self.config.addr}/32", 0, 0, CPU_PORT)
        return install.convert(route_entries([route]), index)

    def install(self) -> None:
        """Route the probe address to the CPU port on every switch."""
        for conn in self.fabric:
            entities = self._route(conn.index if conn.index is not None else conn.load_index())
            try:
                conn.insert(entities)
            except P4RuntimeWriteError as exc:
                if not exc.errors or any(f.code != "ALREADY_EXISTS" for f in exc.errors):
                    raise
                conn.modify(entities)
        log.info("probe answers to %s come back through the CPU port", self.config.addr)

    def uninstall(self) -> None:
        """Remove the probe route from every switch (errors only logged)."""
        for conn in self.fabric:
            try:
                conn.delete(
                    self._route(conn.index if conn.index is not None else conn.load_index())
                )
            except P4RTError as exc:
                log.debug("%s: probe route not removed: %s", conn.name, exc)

    def due(self) -> bool:
        """Whether a round of probes is due (and start the round's clock)."""
        now = self._clock()
        if now - self._last_round < self.config.interval_s:
            return False
        self._last_round = now
        return True

    def send(self, switch: str, targets: Iterable[tuple[int, str, int]]) -> int:
        """Send one probe per (instance_id, addr, model_id) through ``switch``; return the count."""
        conn = self.fabric[switch]
        sent = 0
        for instance_id, addr, model_id in targets:
            rid = next(self._ids) & 0xFFFFFFFF
            frame = probe_frame(self.config, addr, model_id, instance_id, rid)
            with self._lock:
                self._pending[rid] = _Pending(switch, model_id, instance_id, self._clock())
            try:
                conn.packet_out(frame, {"egress_port": 0, "_pad": 0, "mode": 1})
            except P4RTError as exc:
                with self._lock:
                    self._pending.pop(rid, None)
                self.counts["send_errors"] += 1
                log.debug("%s: probe to instance %d not sent: %s", switch, instance_id, exc)
                continue
            sent += 1
        self.counts["sent"] += sent
        return sent

    def on_packet_in(self, payload: bytes) -> ProbeAnswer | None:
        """Match a packet-in to a probe; the answer, or None for anything else."""
        parsed = parse_answer(payload, self.config)
        if parsed is None:
            return None
        rid, instance_id, flags = parsed
        now = self._clock()
        with self._lock:
            pending = self._pending.pop(rid, None)
        if pending is None:
            self.counts["unmatched"] += 1
            return None
        busy = bool(flags & FLAG_BUSY)
        answer = ProbeAnswer(
            pending.switch, pending.model_id, instance_id, now - pending.sent, busy
        )
        if busy:
            self.counts["busy"] += 1
            return answer
        self.counts["answered"] += 1
        key = (pending.switch, instance_id)
        with self._lock:
            old = self._latency.get(key)
            self._latency[key] = (
                answer.seconds if old is None else old + SMOOTHING * (answer.seconds - old)
            )
        return answer

    def expire(self) -> int:
        """Forget probes older than the timeout; return how many were lost now."""
        now = self._clock()
        with self._lock:
            lost = [r for r, p in self._pending.items() if now - p.sent > self.config.timeout_s]
            for r in lost:
                del self._pending[r]
        self.counts["lost"] += len(lost)
        return len(lost)

    def latency(self, switch: str, instance_id: int) -> float | None:
        """Smoothed probe latency from ``switch`` to ``instance_id``, if measured."""
        with self._lock:
            return self._latency.get((switch, instance_id))

    def forget(self, instance_id: int) -> None:
        """Drop what is known of an instance (it expired)."""
        with self._lock:
            for key in [k for k in self._latency if k[1] == instance_id]:
                del self._latency[key]
