"""The inference node's UDP server: finish partitioned DIN requests, answer the client.

A request (msg_type 1) arrives at any ``stage``: the layers before it were
computed by switches on the path, and its vector holds the input of layer
``stage``. The node computes the remaining layers with the models layer's
integer reference (``nodes.catalog.finish``) and answers the request's source
(addresses and ports swapped) with a response (msg_type 2). An escalation
(msg_type 3) is served by the node's large model for that model id when the
large model can start at its stage (stage 0, or a stage within the leading
layers the large model shares with the small one), else by the small model.

Answer conventions (p4src/README.md defines flags 0x01, 0x02 and 0x04 and says
the other bits are 0 in switch-made messages; a node's answers use them):

* ``flags``: the request's 0x02 (failover) and 0x04 (policy) bits are kept;
  0x08 ``FLAG_NODE`` answered by an inference node; 0x10 ``FLAG_IN_NETWORK``
  the request arrived with ``stage > 0`` (earlier layers ran in switches);
  0x20 ``FLAG_LARGE`` the large (escalation) model answered; 0x40
  ``FLAG_BUSY`` not served, the queue was full (or the node was stopping);
  0x80 ``FLAG_ERROR`` not served: unknown model / version, or a stage the
  model cannot start at.
* served answers: ``stage`` 255, ``result_class`` the argmax of the class
  scores (ties: lower index), ``confidence`` = top1 - top2 of the scores
  (clamped to 0..255), ``v0..`` the uint8 class scores of the output layer
  (as a switch's answer carries them), ``model_version`` the version that served it (echoed
  when the large model answered).
* busy and error answers: ``stage``, vector and ``model_version`` as received,
  ``result_class`` and ``confidence`` 0.
* every answer: ``instance_id`` = the node's instance id, ``request_id``,
  ``tenant_id``, ``sensitivity``, ``hop_count`` and ``ingress_ts`` echoed,
  trailing bytes after the vector carried unchanged.

Datagrams that are not DIN requests or escalations (too short, wrong version,
unknown type, responses and advertisements) are counted by reason in the
metrics' ``bad`` table and not answered.

A single worker serves the bounded queue. Service time per request is
``max(compute + delay_ms, 1 / service_rate)``, so a node can be made slow or
overloaded on purpose; :meth:`NodeServer.tune` changes both while it runs
(``din-node --tuning FILE`` reloads them on SIGHUP). Requests are counted per
tenant and sensitivity (``tenants`` in the metrics) and each one served is
logged at debug level with its tenant.

Imports ``nodes.catalog``, ``nodes.metrics``, ``nodes.advertise``,
``traffic.wire`` and the standard library only.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from dataclasses import dataclass, field, replace

from nodes.advertise import Advertiser, AdvertiseSettings
from nodes.catalog import Catalog, NodeError, Result, ServedModel, can_start, finish
from nodes.metrics import UTIL_WINDOW_S, Metrics
from traffic.wire import (
    COMMON_LEN,
    DIN_UDP_PORT,
    DIN_VERSION,
    FLAG_FAILOVER,
    FLAG_POLICY,
    STAGE_DONE,
    DinFormatError,
    DinHeader,
    DinMessage,
    MsgType,
    decode,
    pack_vector,
)

log = logging.getLogger(__name__)

FLAG_NODE = 0x08
FLAG_IN_NETWORK = 0x10
FLAG_LARGE = 0x20
FLAG_BUSY = 0x40
FLAG_ERROR = 0x80
KEPT_FLAGS = FLAG_FAILOVER | FLAG_POLICY  # path facts the client should still see

MAX_INSTANCE_ID = 63  # the data plane's instance registers have 64 cells, 0 = unsteered
RECV_TIMEOUT_S = 0.05  # how often the receiver checks for a stop
RECV_BUFFER = 1 << 20  # absorb bursts while the receiver thread is descheduled
MAX_DATAGRAM = 65535
DEFAULT_CAPACITY = 10000  # requests/s advertised before any service time is known


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """Everything a node needs besides its models."""

    instance_id: int
    bind: str = "0.0.0.0"
    port: int = DIN_UDP_PORT
    queue_size: int = 64
    service_rate: float = 0.0  # requests/s; 0 = as fast as the model computes
    delay_ms: float = 0.0
    capacity: int = 0  # advertised requests/s; 0 = derived from rate and service time
    advertise: AdvertiseSettings | None = None

    def __post_init__(self) -> None:
        """Refuse values the wire format or the queue cannot take."""
        if not 1 <= self.instance_id <= MAX_INSTANCE_ID:
            raise NodeError(f"instance id {self.instance_id!r}: expected 1..{MAX_INSTANCE_ID}")
        if not 0 <= self.port <= 0xFFFF:
            raise NodeError(f"port {self.port!r}: expected 0..65535 (0 = any free port)")
        if self.queue_size < 1:
            raise NodeError(f"queue size {self.queue_size!r}: expected at least 1")
        if self.service_rate < 0:
            raise NodeError(f"service rate {self.service_rate!r}: expected >= 0 requests/s")
        if self.delay_ms < 0:
            raise NodeError(f"delay {self.delay_ms!r} ms: expected >= 0")
        if not 0 <= self.capacity < 1 << 32:
            raise NodeError(f"capacity {self.capacity!r}: expected 0..2**32-1 requests/s")


@dataclass(frozen=True, slots=True)
class _Job:
    msg: DinMessage
    client: tuple[str, int]
    served: ServedModel
    large: bool
    received: float = field(default_factory=time.monotonic)


class NodeServer:
    """One inference node: socket, receiver, bounded queue, worker and advertiser."""

    def __init__(self, config: NodeConfig, catalog: Catalog) -> None:
        """Prepare the node; nothing is bound before ``start``."""
        if not catalog.models:
            raise NodeError(
                f"instance {config.instance_id!r}: no model to serve: expected at least one"
            )
        self.config = config
        self.catalog = catalog
        # Utilisation over one advertisement interval: what each advertisement reports.
        window = config.advertise.interval_s if config.advertise else UTIL_WINDOW_S
        self.metrics = Metrics(window_s=window)
        self._queue: queue.Queue[_Job] = queue.Queue(maxsize=config.queue_size)
        # Read by the worker for each request; replaced whole by tune().
        self._pace = (config.delay_ms / 1e3, _floor(config.service_rate))
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._advertiser: Advertiser | None = None

    @property
    def address(self) -> tuple[str, int]:
        """The bound (address, port)."""
        if self._sock is None:
            raise NodeError(
                f"instance {self.config.instance_id!r}: not started: expected start() first"
            )
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    def start(self) -> None:
        """Bind the socket and start the threads."""
        if self._sock is not None:
            raise NodeError(
                f"instance {self.config.instance_id!r}: already started: expected one start()"
            )
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECV_BUFFER)
            sock.bind((self.config.bind, self.config.port))
        except OSError as exc:
            sock.close()
            raise NodeError(
                f"instance {self.config.instance_id!r}: cannot bind UDP "
                f"{self.config.bind!r}:{self.config.port!r}: {exc.strerror or exc}"
            ) from exc
        sock.settimeout(RECV_TIMEOUT_S)
        self._sock = sock
        self._threads = [
            threading.Thread(target=self._receive_loop, name="din-node-recv", daemon=True),
            threading.Thread(target=self._work_loop, name="din-node-worker", daemon=True),
        ]
        if self.config.advertise is not None:
            self._advertiser = Advertiser(
                self.config.advertise,
                instance_id=self.config.instance_id,
                models=self.catalog.models,
                metrics=self.metrics,
                queue_len=self._queue.qsize,
                queue_size=self.config.queue_size,
                capacity=self.capacity,
                send=self._send,
            )
        for thread in self._threads:
            thread.start()
        if self._advertiser is not None:
            self._advertiser.start()
        log.info(
            "instance %d listening on %s:%d, models %s",
            self.config.instance_id,
            *self.address,
            ", ".join(
                f"{m.model_id}v{m.version}{' (large)' if m.large else ''}"
                for m in self.catalog.models
            ),
        )

    def stop(self) -> None:
        """Stop the threads, answer what is still queued as busy, close the socket."""
        self._stop.set()
        if self._advertiser is not None:
            self._advertiser.stop()
        for thread in self._threads:
            thread.join(timeout=5.0)
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            self.metrics.count("busy_at_stop")
            self._answer_unserved(job.msg, job.client, FLAG_BUSY)
        if self._sock is not None:
            self._sock.close()
        log.info("instance %d stopped", self.config.instance_id)

    def __enter__(self) -> NodeServer:
        """Start on entering a ``with`` block."""
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop on leaving it."""
        self.stop()

    def tune(self, *, delay_ms: float | None = None, service_rate: float | None = None) -> None:
        """Change the added delay and/or the service rate limit of the requests to come."""
        delay_s, floor_s = self._pace
        if delay_ms is not None:
            if delay_ms < 0:
                raise NodeError(f"delay {delay_ms!r} ms: expected >= 0")
            delay_s = delay_ms / 1e3
        if service_rate is not None:
            if service_rate < 0:
                raise NodeError(f"service rate {service_rate!r}: expected >= 0 requests/s")
            floor_s = _floor(service_rate)
        self._pace = (delay_s, floor_s)
        log.info(
            "instance %d tuned: delay %.1f ms, service rate %s",
            self.config.instance_id,
            delay_s * 1e3,
            f"{1 / floor_s:.1f}/s" if floor_s else "unlimited",
        )
        if self._advertiser is not None:
            self._advertiser.poke()

    @property
    def pace(self) -> tuple[float, float]:
        """(added delay, minimum service time) in seconds, as the worker uses them now."""
        return self._pace

    def capacity(self) -> int:
        """The advertised capacity in requests/s (the CATS service metric)."""
        if self.config.capacity:
            return self.config.capacity
        delay_s, floor_s = self._pace
        per_request = max(floor_s, self.metrics.service_ewma_s(), delay_s)
        if per_request <= 0:
            return DEFAULT_CAPACITY
        return min((1 << 32) - 1, max(1, int(1.0 / per_request)))

    def _send(self, data: bytes, addr: tuple[str, int]) -> bool:
        sock = self._sock
        if sock is None:
            return False
        try:
            sock.sendto(data, addr)
        except OSError as exc:
            # A vanished client or route must not stop the node.
            self.metrics.count("send_errors")
            log.warning("cannot send %d bytes to %s:%d: %s", len(data), *addr, exc)
            return False
        return True

    def _receive_loop(self) -> None:
        sock = self._sock
        assert sock is not None
        while not self._stop.is_set():
            try:
                data, addr = sock.recvfrom(MAX_DATAGRAM)
            except TimeoutError:
                continue
            except OSError as exc:
                if self._stop.is_set():
                    break
                self.metrics.count("recv_errors")
                log.warning("receive failed: %s", exc)
                continue
            self.metrics.count("received")
            try:
                self._accept(data, (str(addr[0]), int(addr[1])))
            except Exception:
                # Whatever a datagram holds, the node keeps serving.
                self.metrics.count_bad("internal")
                log.exception("datagram from %s:%d not handled", addr[0], addr[1])

    def _accept(self, data: bytes, client: tuple[str, int]) -> None:
        msg = self._parse(data, client)
        if msg is None:
            return
        head = msg.header
        self.metrics.count_tenant(head.tenant_id, head.sensitivity)
        served, large = self._choose(msg)
        if served is None:
            self.metrics.count_bad("unknown_model")
            log.debug(
                "request %d: no model %d version %d",
                head.request_id,
                head.model_id,
                head.model_version,
            )
            self._answer_unserved(msg, client, FLAG_ERROR)
            return
        if not can_start(served, head.stage):
            self.metrics.count_bad("bad_stage")
            log.debug(
                "request %d: model %d cannot start at stage %d",
                head.request_id,
                head.model_id,
                head.stage,
            )
            self._answer_unserved(msg, client, FLAG_ERROR)
            return
        kind = "escalations" if head.msg_type == MsgType.ESCALATION else "requests"
        self.metrics.count(kind)
        try:
            self._queue.put_nowait(_Job(msg, client, served, large))
        except queue.Full:
            self.metrics.count("busy")
            self._answer_unserved(msg, client, FLAG_BUSY)
            return
        self.metrics.set_queue(self._queue.qsize())
        if self._advertiser is not None:
            self._advertiser.poke()

    def _parse(self, data: bytes, client: tuple[str, int]) -> DinMessage | None:
        if len(data) < COMMON_LEN:
            self.metrics.count_bad("short")
            log.debug("%d-byte datagram from %s:%d: too short for DIN", len(data), *client)
            return None
        version = data[0] >> 4
        if version != DIN_VERSION:
            self.metrics.count_bad("version")
            log.debug("datagram from %s:%d: DIN version %d", *client, version)
            return None
        try:
            msg = decode(data)
        except DinFormatError as exc:
            reason = "type" if (data[0] & 0x0F) not in tuple(MsgType) else "short"
            self.metrics.count_bad(reason)
            log.debug("datagram from %s:%d: %s", *client, exc)
            return None
        if msg.header.msg_type not in (MsgType.REQUEST, MsgType.ESCALATION):
            self.metrics.count_bad("not_a_request")
            return None
        return msg

    def _choose(self, msg: DinMessage) -> tuple[ServedModel | None, bool]:
        head = msg.header
        if head.msg_type == MsgType.ESCALATION:
            large = self.catalog.escalation(head.model_id)
            # The large model reads the vector only where its layers agree with
            # the small model's: the raw inputs, or activations of shared layers.
            if large is not None and head.stage <= large.model.shared_layers:
                return large, True
        return self.catalog.lookup(head.model_id, head.model_version), False

    def _work_loop(self) -> None:
        while not self._stop.is_set():
            try:
                job = self._queue.get(timeout=RECV_TIMEOUT_S)
            except queue.Empty:
                continue
            self.metrics.set_queue(self._queue.qsize())
            started = self.metrics.begin_service(time.monotonic() - job.received)
            try:
                result = finish(job.served, job.msg.header.stage, job.msg.vector or ())
            except NodeError as exc:
                self.metrics.end_service(started)
                self.metrics.count_bad("compute")
                log.warning("request %d not computed: %s", job.msg.header.request_id, exc)
                self._answer_unserved(job.msg, job.client, FLAG_ERROR)
                continue
            computed = time.monotonic()
            delay_s, floor_s = self._pace
            until = max(computed + delay_s, started + floor_s)
            # Waiting on the stop event lets a slow node still stop at once.
            self._stop.wait(max(0.0, until - time.monotonic()))
            # Counted before the answer leaves, so a client that has it sees it counted.
            took = self.metrics.end_service(started)
            self.metrics.count("served_large" if job.large else "served_small")
            self.metrics.count_class(job.msg.header.model_id, result.result_class)
            self._answer(job, result)
            log.debug(
                "request %d tenant %d sensitivity %d model %d stage %d: class %d conf %d, "
                "%d layers, waited %.3f ms, service %.3f ms",
                job.msg.header.request_id,
                job.msg.header.tenant_id,
                job.msg.header.sensitivity,
                job.served.model_id,
                job.msg.header.stage,
                result.result_class,
                result.confidence,
                result.layers_run,
                (started - job.received) * 1e3,
                took * 1e3,
            )
            if self._advertiser is not None:
                self._advertiser.poke()

    def _reply_header(self, head: DinHeader, flags: int) -> DinHeader:
        return replace(
            head,
            msg_type=MsgType.RESPONSE,
            flags=(head.flags & KEPT_FLAGS) | FLAG_NODE | flags,
            instance_id=self.config.instance_id,
        )

    def _answer(self, job: _Job, result: Result) -> None:
        head = job.msg.header
        flags = (FLAG_IN_NETWORK if head.stage > 0 else 0) | (FLAG_LARGE if job.large else 0)
        reply = replace(
            self._reply_header(head, flags),
            # A large model answers for the small one the client named.
            model_version=head.model_version if job.large else job.served.version,
            stage=STAGE_DONE,
            result_class=result.result_class,
            confidence=result.confidence,
        )
        if self._send(reply.pack() + pack_vector(result.vector) + job.msg.rest, job.client):
            self.metrics.count("answered")

    def _answer_unserved(self, msg: DinMessage, client: tuple[str, int], flags: int) -> None:
        reply = replace(self._reply_header(msg.header, flags), result_class=0, confidence=0)
        vector = pack_vector(msg.vector or ())
        if self._send(reply.pack() + vector + msg.rest, client):
            self.metrics.count("answered_busy" if flags & FLAG_BUSY else "answered_error")


def _floor(service_rate: float) -> float:
    """The minimum service time of a rate limit (0: none)."""
    return 1.0 / service_rate if service_rate > 0 else 0.0
