"""P4Runtime client for one switch: channel, stream, pipeline, writes and reads.

One :class:`SwitchConnection` per switch; any number of them may live in one
process (no module state). The StreamChannel runs in a background thread
that handles master arbitration, packet-in, digests and stream errors.
Writes are batched and their per-update errors unwrapped from the
``grpc-status-details-bin`` trailer into :class:`P4RuntimeWriteError`.
May import the standard library, grpc, protobuf, the P4Runtime stubs,
``google.rpc`` and the lower layers of ``controller.p4rt``.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import grpc

# googleapis-common-protos ships .pyi files but no py.typed marker.
from google.rpc import code_pb2, status_pb2  # type: ignore[import-untyped]
from p4.config.v1 import p4info_pb2
from p4.v1 import p4data_pb2, p4runtime_pb2

from controller.p4rt import codec
from controller.p4rt.entities import DigestEntry, Entity, Update, UpdateType, entity_from_proto
from controller.p4rt.errors import (
    ArbitrationError,
    P4InfoLookupError,
    P4RTError,
    P4RuntimeRPCError,
    P4RuntimeWriteError,
    SwitchConnectionError,
    UpdateFailure,
    UsageError,
)
from controller.p4rt.p4info import P4InfoIndex
from controller.p4rt.reconcile import Diff, diff, wildcard_reads

logger = logging.getLogger(__name__)

_SERVICE = "/p4.v1.P4Runtime/"
_STATUS_TRAILER = "grpc-status-details-bin"
_ATOMICITY = {
    "CONTINUE_ON_ERROR": p4runtime_pb2.WriteRequest.CONTINUE_ON_ERROR,
    "ROLLBACK_ON_ERROR": p4runtime_pb2.WriteRequest.ROLLBACK_ON_ERROR,
    "DATAPLANE_ATOMIC": p4runtime_pb2.WriteRequest.DATAPLANE_ATOMIC,
}
_PIPELINE_ACTIONS = {
    "VERIFY": p4runtime_pb2.SetForwardingPipelineConfigRequest.VERIFY,
    "VERIFY_AND_SAVE": p4runtime_pb2.SetForwardingPipelineConfigRequest.VERIFY_AND_SAVE,
    "VERIFY_AND_COMMIT": p4runtime_pb2.SetForwardingPipelineConfigRequest.VERIFY_AND_COMMIT,
    "COMMIT": p4runtime_pb2.SetForwardingPipelineConfigRequest.COMMIT,
    "RECONCILE_AND_COMMIT": p4runtime_pb2.SetForwardingPipelineConfigRequest.RECONCILE_AND_COMMIT,
}


_RETRY_INTERVAL = 0.05  # seconds between stream attempts to an unreachable switch


def _retryable(error: P4RTError) -> bool:
    return isinstance(error, P4RuntimeRPCError) and error.code == "UNAVAILABLE"


def _code_name(code: int) -> str:
    try:
        return str(code_pb2.Code.Name(code))
    except ValueError:
        return f"CODE_{code}"


@dataclass(frozen=True, slots=True)
class TLSConfig:
    """TLS settings: server root certificate, and for mutual TLS a client key and chain."""

    root_certificates: bytes | None = None
    private_key: bytes | None = None
    certificate_chain: bytes | None = None
    server_name: str | None = None

    @classmethod
    def from_files(
        cls,
        root_cert: str | Path | None = None,
        cert_chain: str | Path | None = None,
        private_key: str | Path | None = None,
        server_name: str | None = None,
    ) -> TLSConfig:
        """Read PEM files; ``server_name`` overrides the name checked in the server cert."""

        def _read(p: str | Path | None) -> bytes | None:
            if p is None:
                return None
            try:
                return Path(p).read_bytes()
            except OSError as exc:
                raise SwitchConnectionError(f"cannot read TLS file {str(p)!r}: {exc}") from exc

        if (cert_chain is None) != (private_key is None):
            raise SwitchConnectionError(
                "mutual TLS needs both cert_chain and private_key, got "
                f"cert_chain={cert_chain!r}, private_key={private_key!r}"
            )
        return cls(_read(root_cert), _read(private_key), _read(cert_chain), server_name)

    def credentials(self) -> grpc.ChannelCredentials:
        """Return gRPC channel credentials."""
        return grpc.ssl_channel_credentials(
            self.root_certificates, self.private_key, self.certificate_chain
        )


@dataclass(frozen=True, slots=True)
class PacketIn:
    """A packet sent to the controller, with its decoded packet_in metadata."""

    payload: bytes
    metadata: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DigestList:
    """A batch of digest messages; members decoded by name when the P4Info allows it."""

    digest: str
    list_id: int
    timestamp: int
    data: tuple[Mapping[str, int], ...]
    raw: tuple[p4data_pb2.P4Data, ...] = field(repr=False, compare=False, default=())


@dataclass(frozen=True, slots=True)
class ArbitrationStatus:
    """The last arbitration answer: whether this client is primary, and the primary's id."""

    is_primary: bool
    code: str
    message: str
    election_id: int


_MAX_METADATA_BYTES = 16 << 20


class SwitchConnection:
    """P4Runtime client for one switch (device) at one gRPC address."""

    def __init__(
        self,
        address: str,
        *,
        name: str | None = None,
        device_id: int = 0,
        election_id: int = 1,
        role: str = "",
        tls: TLSConfig | None = None,
        timeout: float = 10.0,
        batch_size: int = 500,
        index: P4InfoIndex | None = None,
        auto_ack_digests: bool = True,
        queue_size: int = 10_000,
        grpc_options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        """Create the channel (no RPC yet); call :meth:`connect` to arbitrate."""
        if batch_size < 1:
            raise UsageError(f"batch_size {batch_size!r}: expected >= 1")
        if not 0 < election_id < 1 << 128:
            raise UsageError(f"election_id {election_id!r}: expected 1..2**128-1")
        self.address = address
        self.name = name or address
        self.device_id = device_id
        self.election_id = election_id
        self.role = role
        self.timeout = timeout
        self.batch_size = batch_size
        self.index = index
        self.auto_ack_digests = auto_ack_digests
        # A batch's error trailer holds one p4.v1.Error per update: for 1,000 updates
        # it is ~50 KB, past gRPC's default 16 KiB limit on received metadata.
        options = [("grpc.max_metadata_size", _MAX_METADATA_BYTES), *grpc_options]
        if tls is not None and tls.server_name:
            options.append(("grpc.ssl_target_name_override", tls.server_name))
        if tls is None:
            self._channel = grpc.insecure_channel(address, options=options)
        else:
            self._channel = grpc.secure_channel(address, tls.credentials(), options=options)
        ch = self._channel
        self._write_rpc: grpc.UnaryUnaryMultiCallable[
            p4runtime_pb2.WriteRequest, p4runtime_pb2.WriteResponse
        ] = ch.unary_unary(
            _SERVICE + "Write",
            p4runtime_pb2.WriteRequest.SerializeToString,
            p4runtime_pb2.WriteResponse.FromString,
        )
        self._read_rpc: grpc.UnaryStreamMultiCallable[
            p4runtime_pb2.ReadRequest, p4runtime_pb2.ReadResponse
        ] = ch.unary_stream(
            _SERVICE + "Read",
            p4runtime_pb2.ReadRequest.SerializeToString,
            p4runtime_pb2.ReadResponse.FromString,
        )
        self._set_rpc: grpc.UnaryUnaryMultiCallable[
            p4runtime_pb2.SetForwardingPipelineConfigRequest,
            p4runtime_pb2.SetForwardingPipelineConfigResponse,
        ] = ch.unary_unary(
            _SERVICE + "SetForwardingPipelineConfig",
            p4runtime_pb2.SetForwardingPipelineConfigRequest.SerializeToString,
            p4runtime_pb2.SetForwardingPipelineConfigResponse.FromString,
        )
        self._get_rpc: grpc.UnaryUnaryMultiCallable[
            p4runtime_pb2.GetForwardingPipelineConfigRequest,
            p4runtime_pb2.GetForwardingPipelineConfigResponse,
        ] = ch.unary_unary(
            _SERVICE + "GetForwardingPipelineConfig",
            p4runtime_pb2.GetForwardingPipelineConfigRequest.SerializeToString,
            p4runtime_pb2.GetForwardingPipelineConfigResponse.FromString,
        )
        self._stream_rpc: grpc.StreamStreamMultiCallable[
            p4runtime_pb2.StreamMessageRequest, p4runtime_pb2.StreamMessageResponse
        ] = ch.stream_stream(
            _SERVICE + "StreamChannel",
            p4runtime_pb2.StreamMessageRequest.SerializeToString,
            p4runtime_pb2.StreamMessageResponse.FromString,
        )
        self._lock = threading.Condition()
        self._closed = False
        self._requests: queue.Queue[p4runtime_pb2.StreamMessageRequest | None] = queue.Queue()
        self._stream: grpc.CallIterator[p4runtime_pb2.StreamMessageResponse] | None = None
        self._thread: threading.Thread | None = None
        self._arbitration: ArbitrationStatus | None = None
        self._arbitration_seq = 0
        self._stream_error: P4RTError | None = None
        self.packet_ins: queue.Queue[PacketIn] = queue.Queue(queue_size)
        self.digests: queue.Queue[DigestList] = queue.Queue(queue_size)
        self.stream_errors: queue.Queue[p4runtime_pb2.StreamError] = queue.Queue(queue_size)
        self._packet_listeners: list[Callable[[PacketIn], None]] = []
        self._digest_listeners: list[Callable[[DigestList], None]] = []
        self.dropped = 0

    # Life cycle ------------------------------------------------------------------

    def __enter__(self) -> SwitchConnection:
        """Return self; :meth:`close` runs on exit."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the connection."""
        self.close()

    def __repr__(self) -> str:
        """Show name, address and device id."""
        return f"SwitchConnection({self.name!r}, {self.address!r}, device_id={self.device_id})"

    def close(self) -> None:
        """Stop the stream thread and close the channel; safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._lock.notify_all()
        self._requests.put(None)
        if self._stream is not None:
            self._stream.cancel()  # type: ignore[no-untyped-call]
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(self.timeout)
        self._channel.close()
        logger.debug("%s: closed", self.name)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise SwitchConnectionError(f"connection to {self.name!r} is closed")

    # Stream channel and arbitration ------------------------------------------------

    def _request_iter(
        self, requests: queue.Queue[p4runtime_pb2.StreamMessageRequest | None]
    ) -> Iterator[p4runtime_pb2.StreamMessageRequest]:
        while True:
            msg = requests.get()
            if msg is None:
                return
            yield msg

    def _election(self) -> p4runtime_pb2.Uint128:
        return p4runtime_pb2.Uint128(
            high=self.election_id >> 64, low=self.election_id & ((1 << 64) - 1)
        )

    def connect(self, timeout: float | None = None) -> ArbitrationStatus:
        """Open the StreamChannel, send MasterArbitrationUpdate and wait for the answer.

        A switch that is unreachable (still starting, restarting) is retried
        until ``timeout``; the error then names the last failure.
        """
        self._check_open()
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        last_error: P4RTError | None = None
        while True:
            with self._lock:
                thread = self._thread
                if thread is None or self._stream_error is not None or not thread.is_alive():
                    self._open_stream()
                seq = self._arbitration_seq
            self.send_arbitration()
            with self._lock:
                self._lock.wait_for(
                    functools.partial(self._settled, seq), max(0.0, deadline - time.monotonic())
                )
                self._check_open()
                status, error = self._arbitration, self._stream_error
                last_error = error or last_error
                if self._arbitration_seq > seq and status is not None:
                    break
                remaining = deadline - time.monotonic()
                if error is None or remaining <= 0 or not _retryable(error):
                    break
                # Unreachable: pause briefly (close() wakes us) and open a new stream.
                self._lock.wait(min(_RETRY_INTERVAL, remaining))
        if status is None or self._arbitration_seq <= seq:
            if last_error is not None:
                raise ArbitrationError(
                    f"arbitration with {self.name!r} ({self.address}) failed: {last_error}"
                ) from last_error
            raise ArbitrationError(
                f"no arbitration answer from {self.name!r} ({self.address}) within {timeout} s"
            )
        logger.info(
            "%s: arbitration done, %s (election id %d)",
            self.name,
            "primary" if status.is_primary else "backup",
            self.election_id,
        )
        return status

    def wait_ready(self, timeout: float | None = None) -> None:
        """Wait until the switch's gRPC server accepts this channel; no arbitration.

        For observers: Read and GetForwardingPipelineConfig need no
        StreamChannel, so a client that only reads takes no part in the
        election and cannot disturb the primary (nor collide with its id).
        """
        self._check_open()
        timeout = self.timeout if timeout is None else timeout
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise SwitchConnectionError(
                f"{self.name!r} ({self.address}) did not answer within {timeout} s"
            ) from None

    def _settled(self, seq: int) -> bool:
        """Whether an arbitration answer newer than ``seq`` came, the stream failed or closed."""
        return self._arbitration_seq > seq or self._stream_error is not None or self._closed

    def _open_stream(self) -> None:
        """Start a new StreamChannel and its thread (first connect, or after a loss)."""
        # The caller holds self._lock. A None ends the previous request iterator.
        self._requests.put(None)
        self._requests = queue.Queue()
        self._stream_error = None
        self._arbitration = None
        stream = self._stream_rpc(self._request_iter(self._requests))
        self._stream = stream
        self._thread = threading.Thread(
            target=self._receive, args=(stream,), name=f"p4rt-stream-{self.name}", daemon=True
        )
        self._thread.start()

    def send_arbitration(self, election_id: int | None = None) -> None:
        """Send a MasterArbitrationUpdate, optionally with a new election id."""
        self._check_open()
        if election_id is not None:
            self.election_id = election_id
        req = p4runtime_pb2.StreamMessageRequest()
        arb = req.arbitration
        arb.device_id = self.device_id
        arb.election_id.CopyFrom(self._election())
        if self.role:
            arb.role.name = self.role
        self._requests.put(req)

    @property
    def arbitration(self) -> ArbitrationStatus | None:
        """The last arbitration answer, or None before the first."""
        return self._arbitration

    @property
    def stream_error(self) -> P4RTError | None:
        """Why the StreamChannel ended, or None while it is up (or not started)."""
        return self._stream_error

    @property
    def is_primary(self) -> bool:
        """Whether the last arbitration answer made this client primary."""
        a = self._arbitration
        return a is not None and a.is_primary

    def _receive(self, stream: grpc.CallIterator[p4runtime_pb2.StreamMessageResponse]) -> None:
        error: P4RTError | None = None
        try:
            for msg in stream:
                self._dispatch(msg)
            error = SwitchConnectionError(f"switch {self.name!r} closed the StreamChannel")
        except grpc.RpcError as exc:
            error = P4RuntimeRPCError("StreamChannel", exc.code().name, exc.details() or "")
        except Exception as exc:
            # A bad message must not leave waiters hanging: record and wake them.
            logger.exception("%s: stream handler failed", self.name)
            error = P4RTError(f"stream handler failed: {exc!r}")
        with self._lock:
            # A stream replaced by a reconnect, or ended by close(), reports nothing.
            if stream is self._stream and not self._closed:
                # Failed attempts to reach a switch are routine while connect() retries.
                level = logging.WARNING if self._arbitration is not None else logging.DEBUG
                logger.log(level, "%s: stream ended: %s", self.name, error)
                self._stream_error = error
                self._arbitration = None
            self._lock.notify_all()

    def _dispatch(self, msg: p4runtime_pb2.StreamMessageResponse) -> None:
        kind = msg.WhichOneof("update")
        if kind == "arbitration":
            arb = msg.arbitration
            eid = (arb.election_id.high << 64) | arb.election_id.low
            status = ArbitrationStatus(
                is_primary=arb.status.code == code_pb2.OK,
                code=_code_name(arb.status.code),
                message=arb.status.message,
                election_id=eid,
            )
            with self._lock:
                self._arbitration = status
                self._arbitration_seq += 1
                self._lock.notify_all()
        elif kind == "packet":
            pkt = PacketIn(msg.packet.payload, self._decode_packet_metadata(msg.packet.metadata))
            self._deliver(pkt, self._packet_listeners, self.packet_ins)
        elif kind == "digest":
            dl = self._decode_digest(msg.digest)
            if self.auto_ack_digests:
                self.ack_digest(dl)
            self._deliver(dl, self._digest_listeners, self.digests)
        elif kind == "error":
            err = msg.error
            logger.warning(
                "%s: stream error %s: %s", self.name, _code_name(err.canonical_code), err.message
            )
            self._deliver(err, [], self.stream_errors)
        else:
            logger.debug("%s: ignored stream message %r", self.name, kind)

    def _deliver(
        self, item: Any, listeners: list[Callable[[Any], None]], q: queue.Queue[Any]
    ) -> None:
        if listeners:
            for cb in list(listeners):
                try:
                    cb(item)
                except Exception:
                    # One failing listener must not stop the stream thread.
                    logger.exception("%s: listener %r failed", self.name, cb)
            return
        try:
            q.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            logger.warning("%s: queue full, dropped %r", self.name, type(item).__name__)

    def _decode_packet_metadata(
        self, metadata: Iterable[p4runtime_pb2.PacketMetadata]
    ) -> dict[str, int]:
        info = None
        if self.index is not None and "packet_in" in self.index.packet_metadata:
            info = self.index.controller_packet_metadata("packet_in")
        out: dict[str, int] = {}
        for m in metadata:
            name = str(m.metadata_id)
            if info is not None:
                with contextlib.suppress(P4InfoLookupError):
                    name = info.field(m.metadata_id).name
            out[name] = codec.decode(m.value) if m.value else 0
        return out

    def _decode_digest(self, msg: p4runtime_pb2.DigestList) -> DigestList:
        name = str(msg.digest_id)
        fields: tuple[Any, ...] = ()
        if self.index is not None and msg.digest_id in self.index.digests:
            d = self.index.digest(msg.digest_id)
            name, fields = d.name, d.fields
        data = []
        for item in msg.data:
            members = item.struct.members if item.HasField("struct") else [item]
            values: dict[str, int] = {}
            for i, m in enumerate(members):
                key = fields[i].name if i < len(fields) else str(i)
                if m.WhichOneof("data") == "bitstring":
                    values[key] = codec.decode(m.bitstring)
            data.append(values)
        return DigestList(name, msg.list_id, msg.timestamp, tuple(data), tuple(msg.data))

    def add_packet_in_listener(self, callback: Callable[[PacketIn], None]) -> None:
        """Call ``callback`` (in the stream thread) for every packet-in instead of queueing."""
        self._packet_listeners.append(callback)

    def add_digest_listener(self, callback: Callable[[DigestList], None]) -> None:
        """Call ``callback`` (in the stream thread) for every digest list instead of queueing."""
        self._digest_listeners.append(callback)

    def remove_packet_in_listener(self, callback: Callable[[PacketIn], None]) -> None:
        """Stop calling ``callback``; packet-ins queue again once no listener is left.

        Raises ``ValueError`` for a callback that was not added.
        """
        self._packet_listeners.remove(callback)

    def remove_digest_listener(self, callback: Callable[[DigestList], None]) -> None:
        """Stop calling ``callback``; digest lists queue again once no listener is left.

        Raises ``ValueError`` for a callback that was not added.
        """
        self._digest_listeners.remove(callback)

    def ack_digest(self, digest: DigestList) -> None:
        """Acknowledge a digest list so that the switch may send the next one."""
        req = p4runtime_pb2.StreamMessageRequest()
        did = self.index.digest(digest.digest).id if self.index is not None else int(digest.digest)
        req.digest_ack.digest_id = did
        req.digest_ack.list_id = digest.list_id
        self._requests.put(req)

    def packet_out(self, payload: bytes, metadata: Mapping[str, int] | None = None) -> None:
        """Send a packet to the switch with packet_out metadata given by field name."""
        self._check_open()
        req = p4runtime_pb2.StreamMessageRequest()
        req.packet.payload = payload
        if metadata:
            if self.index is None:
                raise P4RTError(f"{self.name!r}: packet_out metadata needs a P4Info index")
            info = self.index.controller_packet_metadata("packet_out")
            for fname, value in metadata.items():
                f = info.field(fname)
                req.packet.metadata.add(metadata_id=f.id, value=codec.encode(value, f.bitwidth))
        self._requests.put(req)

    # Pipeline --------------------------------------------------------------------

    def set_pipeline(
        self,
        p4info: P4InfoIndex | p4info_pb2.P4Info,
        device_config: bytes,
        *,
        action: str = "VERIFY_AND_COMMIT",
        cookie: int = 0,
        timeout: float | None = None,
    ) -> None:
        """SetForwardingPipelineConfig with a P4Info and a device config (BMv2 JSON)."""
        self._check_open()
        index = p4info if isinstance(p4info, P4InfoIndex) else P4InfoIndex(p4info)
        if action not in _PIPELINE_ACTIONS:
            raise UsageError(
                f"pipeline action {action!r}: expected one of {list(_PIPELINE_ACTIONS)}"
            )
        req = p4runtime_pb2.SetForwardingPipelineConfigRequest(
            device_id=self.device_id,
            election_id=self._election(),
            action=_PIPELINE_ACTIONS[action],
        )
        if self.role:
            req.role = self.role
        req.config.p4info.CopyFrom(index.p4info)
        req.config.p4_device_config = device_config
        req.config.cookie.cookie = cookie
        self._call("SetForwardingPipelineConfig", self._set_rpc, req, timeout)
        self.index = index
        logger.info("%s: pipeline set (%s)", self.name, action)

    def get_pipeline(
        self, response_type: str = "ALL", timeout: float | None = None
    ) -> p4runtime_pb2.ForwardingPipelineConfig:
        """GetForwardingPipelineConfig; ``response_type`` as in the spec (ALL, COOKIE_ONLY...)."""
        self._check_open()
        types = p4runtime_pb2.GetForwardingPipelineConfigRequest.ResponseType
        names = list(types.keys())
        if response_type not in names:
            raise UsageError(f"response_type {response_type!r}: expected one of {names}")
        req = p4runtime_pb2.GetForwardingPipelineConfigRequest(
            device_id=self.device_id, response_type=response_type
        )
        try:
            resp = self._get_rpc(req, timeout=self.timeout if timeout is None else timeout)
        except grpc.RpcError as exc:
            raise P4RuntimeRPCError(
                f"GetForwardingPipelineConfig from {self.name!r}",
                exc.code().name,
                exc.details() or "",
            ) from exc
        return resp.config

    def load_index(self, timeout: float | None = None) -> P4InfoIndex:
        """Fetch the switch's P4Info and use it as this connection's index."""
        config = self.get_pipeline("P4INFO_AND_COOKIE", timeout)
        self.index = P4InfoIndex(config.p4info)
        return self.index

    def _call(self, rpc: str, method: Any, req: Any, timeout: float | None) -> Any:
        try:
            return method(req, timeout=self.timeout if timeout is None else timeout)
        except grpc.RpcError as exc:
            raise P4RuntimeRPCError(
                f"{rpc} to {self.name!r}", exc.code().name, exc.details() or ""
            ) from exc

    def _require_index(self) -> P4InfoIndex:
        if self.index is None:
            raise P4RTError(
                f"{self.name!r} has no P4Info: call set_pipeline() or load_index() first"
            )
        return self.index

    # Write -----------------------------------------------------------------------

    def write(
        self,
        updates: Iterable[Update | p4runtime_pb2.Update],
        *,
        atomicity: str = "CONTINUE_ON_ERROR",
        batch_size: int | None = None,
        timeout: float | None = None,
        stop_on_error: bool = False,
    ) -> int:
        """Write updates in batches; raise P4RuntimeWriteError listing every failed update.

        All updates are encoded before anything is sent, so an encoding error
        writes nothing. A batch that fails without per-update details (a
        transport error) stops the write; otherwise later batches still go
        unless ``stop_on_error``. Returns the number of updates sent.
        """
        self._check_open()
        if atomicity not in _ATOMICITY:
            raise UsageError(f"atomicity {atomicity!r}: expected one of {list(_ATOMICITY)}")
        originals = list(updates)
        protos = [
            u if isinstance(u, p4runtime_pb2.Update) else u.to_proto(self._require_index())
            for u in originals
        ]
        size = batch_size or self.batch_size
        failures: list[UpdateFailure] = []
        first_error: tuple[str, str] | None = None
        sent = 0
        for start in range(0, len(protos), size):
            req = p4runtime_pb2.WriteRequest(
                device_id=self.device_id,
                election_id=self._election(),
                atomicity=_ATOMICITY[atomicity],
            )
            if self.role:
                req.role = self.role
            req.updates.extend(protos[start : start + size])
            try:
                self._write_rpc(req, timeout=self.timeout if timeout is None else timeout)
            except grpc.RpcError as exc:
                code, details = exc.code().name, exc.details() or ""
                first_error = first_error or (code, details)
                batch = originals[start : start + size]
                per_update = _unwrap_write_errors(exc.trailing_metadata())
                if per_update is None:
                    failures += [
                        UpdateFailure(start + i, u, code, details) for i, u in enumerate(batch)
                    ]
                    raise P4RuntimeWriteError(code, details, failures) from exc
                failures += [
                    UpdateFailure(start + i, batch[i] if i < len(batch) else None, c, m)
                    for i, c, m in per_update
                ]
                if stop_on_error:
                    raise P4RuntimeWriteError(code, details, failures) from exc
            sent += len(req.updates)
        if first_error is not None:
            raise P4RuntimeWriteError(first_error[0], first_error[1], failures)
        logger.debug("%s: wrote %d updates", self.name, sent)
        return sent

    def insert(self, entities: Iterable[Entity], **kwargs: Any) -> int:
        """INSERT entities (see :meth:`write` for keyword arguments)."""
        return self.write((Update(UpdateType.INSERT, e) for e in entities), **kwargs)

    def modify(self, entities: Iterable[Entity], **kwargs: Any) -> int:
        """MODIFY entities (see :meth:`write` for keyword arguments)."""
        return self.write((Update(UpdateType.MODIFY, e) for e in entities), **kwargs)

    def delete(self, entities: Iterable[Entity], **kwargs: Any) -> int:
        """DELETE entities (see :meth:`write` for keyword arguments)."""
        return self.write((Update(UpdateType.DELETE, e) for e in entities), **kwargs)

    # Read ------------------------------------------------------------------------

    def read(
        self,
        entities: Iterable[Entity | p4runtime_pb2.Entity],
        *,
        timeout: float | None = None,
    ) -> Iterator[p4runtime_pb2.Entity]:
        """Read entities (wildcards allowed: unset ids read all); a generator of protos."""
        self._check_open()
        req = p4runtime_pb2.ReadRequest(device_id=self.device_id)
        if self.role:
            req.role = self.role
        for e in entities:
            req.entities.append(
                e if isinstance(e, p4runtime_pb2.Entity) else e.to_proto(self._require_index())
            )
        try:
            for resp in self._read_rpc(req, timeout=self.timeout if timeout is None else timeout):
                yield from resp.entities
        except grpc.RpcError as exc:
            raise P4RuntimeRPCError(
                f"Read from {self.name!r}", exc.code().name, exc.details() or ""
            ) from exc

    def read_entities(
        self, entities: Iterable[Entity | p4runtime_pb2.Entity], *, timeout: float | None = None
    ) -> Iterator[Entity]:
        """Read and decode entities into dataclasses; a generator."""
        index = self._require_index()
        for msg in self.read(entities, timeout=timeout):
            yield entity_from_proto(index, msg)

    # Reconcile -------------------------------------------------------------------

    def sync(
        self,
        intended: Iterable[Entity],
        *,
        prune: bool = True,
        keep: Callable[[Entity], bool] | None = None,
        include_defaults: bool = False,
        timeout: float | None = None,
    ) -> Diff:
        """Read the switch state and write the difference to ``intended``; return the diff.

        ``include_defaults`` also reads default entries (the server must
        support reading them) so that unchanged ones are not re-sent.
        """
        index = self._require_index()
        intended = list(intended)
        queries = wildcard_reads(index, include_defaults=include_defaults)
        # Digest configs are read only when intended: not every server reads them.
        queries += [
            DigestEntry(e.digest, config=False) for e in intended if isinstance(e, DigestEntry)
        ]
        current = list(self.read_entities(queries, timeout=timeout))
        d = diff(intended, current, index=index, prune=prune, keep=keep)
        if d:
            self.write(d.updates(), timeout=timeout)
        logger.info("%s: sync wrote %s", self.name, d.summary())
        return d


def _unwrap_write_errors(
    trailers: Iterable[Any] | None,
) -> list[tuple[int, str, str]] | None:
    """Return (position, code, message) of each failed update, or None without details."""
    # Items are (key, value) pairs; grpc gives tuples or named tuples.
    for item in trailers or ():
        key, value = item[0], item[1]
        if key != _STATUS_TRAILER:
            continue
        status = status_pb2.Status()
        status.ParseFromString(value if isinstance(value, bytes) else value.encode())
        if not status.details:
            return None
        out = []
        for i, detail in enumerate(status.details):
            err = p4runtime_pb2.Error()
            if not detail.Unpack(err):
                continue
            if err.canonical_code != code_pb2.OK:
                out.append((i, _code_name(err.canonical_code), err.message))
        return out
    return None
