"""The data-plane loop: one thread polls every port and runs the pipeline.

Frames are read with one epoll/selector over the ports, handed to a
`process(ingress_port, frame) -> [(egress_port, frame), ...]` function (the
switch core behind the server's lock), and the results are sent, captured
to pcap, delayed per port (WAN emulation where netem is missing) or passed
to the CPU-port callback (PacketIn). Frames from other threads (PacketOut)
come in through a queue and a wake-up socket. Imports only the standard
library and sibling modules of `ports`.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from p4lite.switch.ports.base import Port, PortError
from p4lite.switch.ports.pcap import PcapSet

logger = logging.getLogger(__name__)

ProcessFn = Callable[[int, bytes], Iterable[tuple[int, bytes]]]
CpuFn = Callable[[bytes], None]

# Frames read from one port per wake-up before the other ports get a turn.
_BURST = 64


@dataclass(slots=True)
class PortStats:
    """Frame counters of the data-plane loop."""

    received: int = 0
    processed: int = 0
    sent: int = 0
    to_cpu: int = 0
    dropped_no_port: int = 0
    errors: int = 0
    per_port_rx: dict[int, int] = field(default_factory=dict)
    per_port_tx: dict[int, int] = field(default_factory=dict)


def _drop_all(_port: int, _frame: bytes) -> list[tuple[int, bytes]]:
    return []


class DataPlane:
    """Moves frames between ports and the pipeline on one thread."""

    def __init__(
        self,
        ports: Sequence[Port],
        process: ProcessFn | None = None,
        *,
        cpu_port: int | None = None,
        on_cpu_packet: CpuFn | None = None,
        pcap: PcapSet | None = None,
        delays: Mapping[int, float] | None = None,
    ) -> None:
        self.ports: dict[int, Port] = {}
        for port in ports:
            if port.number in self.ports:
                raise PortError(f"port number {port.number!r} is given twice ({port.name!r})")
            if cpu_port is not None and port.number == cpu_port:
                raise PortError(f"port {port.name!r}: number {port.number!r} is the CPU port")
            self.ports[port.number] = port
        self.process: ProcessFn = process if process is not None else _drop_all
        self.cpu_port = cpu_port
        self.on_cpu_packet = on_cpu_packet
        self.pcap = pcap
        self.delays = {p: d for p, d in (delays or {}).items() if d > 0}
        self.stats = PortStats()
        self._pending: deque[tuple[int, bytes]] = deque()
        self._delayed: list[tuple[float, int, int, bytes]] = []
        self._seq = itertools.count()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._debug = False

    def start(self) -> None:
        """Start the loop thread."""
        if self._thread is not None:
            raise PortError("data plane: already started")
        self._thread = threading.Thread(target=self._run, name="p4lite-dataplane", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the loop thread and close every port and capture."""
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        for port in self.ports.values():
            port.close()
        if self.pcap is not None:
            self.pcap.close()
        self._wake_r.close()
        self._wake_w.close()

    def inject(self, port: int, frame: bytes) -> None:
        """Process `frame` as received on `port` (thread-safe; PacketOut uses it)."""
        self._pending.append((port, frame))
        self._wake()

    def _wake(self) -> None:
        # A full buffer already holds a wake-up; a closed socket means stopped.
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def _run(self) -> None:
        self._debug = logger.isEnabledFor(logging.DEBUG)
        sel = selectors.DefaultSelector()
        sel.register(self._wake_r, selectors.EVENT_READ, None)
        for port in self.ports.values():
            sel.register(port.fileno(), selectors.EVENT_READ, port)
        # Per-frame logging and capture need the general path; without them the
        # burst runs in one tight loop (this thread is the switch's bottleneck).
        burst = self._ingress_burst if not self._debug and self.pcap is None else self._burst
        try:
            while not self._stop.is_set():
                timeout = None
                if self._delayed:
                    timeout = max(0.0, self._delayed[0][0] - time.monotonic())
                for key, _ in sel.select(timeout):
                    port = key.data
                    if port is None:
                        self._drain_wake()
                        continue
                    try:
                        burst(port)
                    except PortError as exc:
                        # A vanished interface must not stop the other ports.
                        logger.error("data plane: port %s removed: %s", port, exc)
                        sel.unregister(key.fileobj)
                while self._pending:
                    number, frame = self._pending.popleft()
                    self._handle(number, frame)
                if self._delayed:
                    self._release_delayed()
        except Exception:
            logger.exception("data plane: loop failed")
        finally:
            sel.close()

    def _burst(self, port: Port) -> None:
        for _ in range(_BURST):
            frame = port.recv()
            if frame is None:
                break
            self._ingress(port, frame)

    def _ingress_burst(self, port: Port) -> None:
        """Up to _BURST frames of `port` through the pipeline: `_ingress` without
        logging or capture, with attribute look-ups and counters hoisted out of
        the per-frame loop. The outcome for every frame is the same."""
        stats = self.stats
        process = self.process
        ports = self.ports
        delays = self.delays
        tx = stats.per_port_tx
        number = port.number
        recv = port.recv
        received = processed = sent = 0
        try:
            while received < _BURST:
                frame = recv()
                if frame is None:
                    break
                received += 1
                try:
                    outputs = process(number, frame)
                    if type(outputs) is not list:
                        outputs = list(outputs)
                except Exception:
                    # A malformed packet or an interpreter fault must not stop the switch.
                    stats.errors += 1
                    processed += 1
                    logger.exception(
                        "data plane: frame of %d bytes from port %d", len(frame), number
                    )
                    continue
                for egress, out in outputs:
                    out_port = ports.get(egress)
                    # The CPU port is never in `ports`, so it takes the general path.
                    if out_port is None or (delays and egress in delays):
                        self._output(egress, out)
                        continue
                    sent += 1
                    tx[egress] = tx.get(egress, 0) + 1
                    out_port.send(out)
                processed += 1
        finally:
            stats.received += received
            stats.processed += processed
            stats.sent += sent
            if received:
                rx = stats.per_port_rx
                rx[number] = rx.get(number, 0) + received

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _ingress(self, port: Port, frame: bytes) -> None:
        if self._debug:
            logger.debug("port %d: received %d bytes: %s", port.number, len(frame), frame.hex())
        stats = self.stats
        stats.received += 1
        stats.per_port_rx[port.number] = stats.per_port_rx.get(port.number, 0) + 1
        if self.pcap is not None:
            self.pcap.record_in(port.name, frame)
        self._handle(port.number, frame)

    def _handle(self, number: int, frame: bytes) -> None:
        try:
            outputs = self.process(number, frame)
            if type(outputs) is not list:
                outputs = list(outputs)
        except Exception:
            # A malformed packet or an interpreter fault must not stop the switch.
            self.stats.errors += 1
            self.stats.processed += 1
            logger.exception("data plane: frame of %d bytes from port %d", len(frame), number)
            return
        for egress, out in outputs:
            self._output(egress, out)
        self.stats.processed += 1

    def _output(self, egress: int, out: bytes) -> None:
        delay = self.delays.get(egress) if self.delays else None
        if delay:
            due = time.monotonic() + delay
            heapq.heappush(self._delayed, (due, next(self._seq), egress, out))
        else:
            self._egress(egress, out)

    def _release_delayed(self) -> None:
        now = time.monotonic()
        while self._delayed and self._delayed[0][0] <= now:
            _, _, egress, out = heapq.heappop(self._delayed)
            self._egress(egress, out)

    def _egress(self, number: int, frame: bytes) -> None:
        if self.cpu_port is not None and number == self.cpu_port:
            self.stats.to_cpu += 1
            if self.on_cpu_packet is not None:
                try:
                    self.on_cpu_packet(frame)
                except Exception:
                    self.stats.errors += 1
                    logger.exception("data plane: CPU-port handler failed")
            return
        port = self.ports.get(number)
        if port is None:
            self.stats.dropped_no_port += 1
            logger.debug("data plane: dropped a frame for missing port %d", number)
            return
        if self._debug:
            logger.debug("port %d: sending %d bytes: %s", number, len(frame), frame.hex())
        self.stats.sent += 1
        self.stats.per_port_tx[number] = self.stats.per_port_tx.get(number, 0) + 1
        if self.pcap is not None:
            self.pcap.record_out(port.name, frame)
        port.send(frame)
