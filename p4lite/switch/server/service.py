"""The `p4.v1.P4Runtime` gRPC service over a `Device`.

Registered through grpc's generic handlers (the generated servicer base
is untyped). Request-level failures become the call's status; a Write
with failed updates returns UNKNOWN with one `p4.v1.Error` per update in
the `grpc-status-details-bin` trailer, as PI does and p4runtime-shell
expects. No request, however malformed, escapes as an exception. Imports
grpc, protobuf stubs, `p4lite.switch.ports` and sibling server modules.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, status_pb2  # type: ignore[import-untyped]
from p4.v1 import p4runtime_pb2

from p4lite.switch.server.arbitration import Arbitration, Client, election_int
from p4lite.switch.server.device import Device, permission_denied
from p4lite.switch.server.errors import P4RuntimeError, invalid

logger = logging.getLogger(__name__)

P4RUNTIME_API_VERSION = "1.4.1"
_SERVICE = "p4.v1.P4Runtime"

InjectFn = Callable[[int, bytes], None]


def _abort(context: grpc.ServicerContext, error: P4RuntimeError) -> NoReturn:
    context.abort(error.code, error.message)


def _error_proto(error: P4RuntimeError | None) -> p4runtime_pb2.Error:
    if error is None:
        return p4runtime_pb2.Error(canonical_code=code_pb2.OK)
    return p4runtime_pb2.Error(canonical_code=error.code.value[0], message=error.message)


def _abort_batch(context: grpc.ServicerContext, results: list[P4RuntimeError | None]) -> NoReturn:
    failed = [r for r in results if r is not None]
    for r in failed:
        logger.info("Write: update failed: %s %s", r.code.name, r.message)
    status = status_pb2.Status(
        code=code_pb2.UNKNOWN,
        message=failed[0].message if len(failed) == 1 else f"{len(failed)} updates failed",
    )
    for result in results:
        detail = any_pb2.Any()
        detail.Pack(_error_proto(result))
        status.details.append(detail)
    context.set_trailing_metadata((("grpc-status-details-bin", status.SerializeToString()),))
    context.abort(grpc.StatusCode.UNKNOWN, status.message)


class P4RuntimeService:
    """The P4Runtime RPCs of one device."""

    def __init__(self, device: Device, inject: InjectFn | None = None) -> None:
        self.device = device
        self.arbitration = Arbitration(device.device_id)
        self.inject = inject
        self._streams: set[Client] = set()
        self._streams_lock = threading.Lock()
        device.on_packet_in = self._packet_in
        device.on_digest = self._digest
        device.on_idle_timeout = self._idle_timeout

    def handler(self) -> grpc.GenericRpcHandler[Any, Any]:
        """The generic handler to add to a grpc server."""
        req = p4runtime_pb2
        methods: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
            "Write": grpc.unary_unary_rpc_method_handler(
                self.Write,
                request_deserializer=req.WriteRequest.FromString,
                response_serializer=req.WriteResponse.SerializeToString,
            ),
            "Read": grpc.unary_stream_rpc_method_handler(
                self.Read,
                request_deserializer=req.ReadRequest.FromString,
                response_serializer=req.ReadResponse.SerializeToString,
            ),
            "SetForwardingPipelineConfig": grpc.unary_unary_rpc_method_handler(
                self.SetForwardingPipelineConfig,
                request_deserializer=req.SetForwardingPipelineConfigRequest.FromString,
                response_serializer=req.SetForwardingPipelineConfigResponse.SerializeToString,
            ),
            "GetForwardingPipelineConfig": grpc.unary_unary_rpc_method_handler(
                self.GetForwardingPipelineConfig,
                request_deserializer=req.GetForwardingPipelineConfigRequest.FromString,
                response_serializer=req.GetForwardingPipelineConfigResponse.SerializeToString,
            ),
            "StreamChannel": grpc.stream_stream_rpc_method_handler(
                self.StreamChannel,
                request_deserializer=req.StreamMessageRequest.FromString,
                response_serializer=req.StreamMessageResponse.SerializeToString,
            ),
            "Capabilities": grpc.unary_unary_rpc_method_handler(
                self.Capabilities,
                request_deserializer=req.CapabilitiesRequest.FromString,
                response_serializer=req.CapabilitiesResponse.SerializeToString,
            ),
        }
        return grpc.method_handlers_generic_handler(_SERVICE, methods)

    def close(self) -> None:
        """End every open stream."""
        with self._streams_lock:
            streams = list(self._streams)
        for client in streams:
            client.send(None)

    # -- checks ------------------------------------------------------------------

    def _check_device(self, device_id: int) -> None:
        if device_id != self.device.device_id:
            raise P4RuntimeError(
                grpc.StatusCode.NOT_FOUND,
                f"device id {device_id!r} is unknown, this switch is {self.device.device_id!r}",
            )

    def _check_primary(self, role: str, election: p4runtime_pb2.Uint128, what: str) -> None:
        if not self.arbitration.is_primary(role, election_int(election)):
            raise permission_denied(
                f"{what}: election id {election_int(election)!r} is not the primary's "
                f"for role {role!r}"
            )

    # -- unary RPCs --------------------------------------------------------------

    def Write(  # noqa: N802 - gRPC method name
        self, request: p4runtime_pb2.WriteRequest, context: grpc.ServicerContext
    ) -> p4runtime_pb2.WriteResponse:
        """Apply a batch of updates."""
        try:
            self._check_device(request.device_id)
            self._check_primary(request.role, request.election_id, "Write")
            results = self.device.write(request)
        except P4RuntimeError as exc:
            _abort(context, exc)
        except Exception as exc:
            logger.exception("Write failed")
            context.abort(grpc.StatusCode.INTERNAL, f"Write: internal error: {exc}")
        if all(r is None for r in results):
            return p4runtime_pb2.WriteResponse()
        return _abort_batch(context, results)

    def Read(  # noqa: N802 - gRPC method name
        self, request: p4runtime_pb2.ReadRequest, context: grpc.ServicerContext
    ) -> Iterator[p4runtime_pb2.ReadResponse]:
        """Stream the entities the request selects."""
        try:
            self._check_device(request.device_id)
            if not request.entities:
                raise invalid("Read: no entities in the request")
            entities = self.device.read(request)
        except P4RuntimeError as exc:
            _abort(context, exc)
        except Exception as exc:
            logger.exception("Read failed")
            context.abort(grpc.StatusCode.INTERNAL, f"Read: internal error: {exc}")
        # Keep each response well under gRPC's 4 MB default message limit.
        chunk = 1000
        for start in range(0, len(entities), chunk):
            yield p4runtime_pb2.ReadResponse(entities=entities[start : start + chunk])
        if not entities:
            yield p4runtime_pb2.ReadResponse()

    def SetForwardingPipelineConfig(  # noqa: N802 - gRPC method name
        self,
        request: p4runtime_pb2.SetForwardingPipelineConfigRequest,
        context: grpc.ServicerContext,
    ) -> p4runtime_pb2.SetForwardingPipelineConfigResponse:
        """Verify, save and/or commit a pipeline."""
        try:
            self._check_device(request.device_id)
            self._check_primary(request.role, request.election_id, "SetForwardingPipelineConfig")
            self.device.set_pipeline(request)
        except P4RuntimeError as exc:
            _abort(context, exc)
        except Exception as exc:
            logger.exception("SetForwardingPipelineConfig failed")
            context.abort(grpc.StatusCode.INTERNAL, f"SetForwardingPipelineConfig: {exc}")
        return p4runtime_pb2.SetForwardingPipelineConfigResponse()

    def GetForwardingPipelineConfig(  # noqa: N802 - gRPC method name
        self,
        request: p4runtime_pb2.GetForwardingPipelineConfigRequest,
        context: grpc.ServicerContext,
    ) -> p4runtime_pb2.GetForwardingPipelineConfigResponse:
        """The running pipeline (empty if none)."""
        try:
            self._check_device(request.device_id)
            config = self.device.get_pipeline(request.response_type)
        except P4RuntimeError as exc:
            _abort(context, exc)
        return p4runtime_pb2.GetForwardingPipelineConfigResponse(config=config)

    def Capabilities(  # noqa: N802 - gRPC method name
        self, request: p4runtime_pb2.CapabilitiesRequest, context: grpc.ServicerContext
    ) -> p4runtime_pb2.CapabilitiesResponse:
        """The P4Runtime version this server implements."""
        return p4runtime_pb2.CapabilitiesResponse(p4runtime_api_version=P4RUNTIME_API_VERSION)

    # -- stream ------------------------------------------------------------------

    def StreamChannel(  # noqa: N802 - gRPC method name
        self,
        request_iterator: Iterator[p4runtime_pb2.StreamMessageRequest],
        context: grpc.ServicerContext,
    ) -> Iterator[p4runtime_pb2.StreamMessageResponse]:
        """Arbitration, PacketOut/PacketIn, digests, idle-timeout notifications."""
        client = Client()
        with self._streams_lock:
            self._streams.add(client)
        reader = threading.Thread(
            target=self._read_stream,
            args=(client, request_iterator),
            name=f"p4rt-stream-{client.id}",
            daemon=True,
        )
        reader.start()
        try:
            while True:
                item = client.queue.get()
                if item is None:
                    return
                if isinstance(item, P4RuntimeError):
                    _abort(context, item)
                yield item
        finally:
            self.arbitration.remove(client)
            with self._streams_lock:
                self._streams.discard(client)

    def _read_stream(
        self, client: Client, requests: Iterator[p4runtime_pb2.StreamMessageRequest]
    ) -> None:
        try:
            for message in requests:
                try:
                    self._stream_message(client, message)
                except P4RuntimeError as exc:
                    client.send(exc)
                    return
                except Exception as exc:
                    logger.exception("StreamChannel: message handling failed")
                    client.send(P4RuntimeError(grpc.StatusCode.INTERNAL, f"StreamChannel: {exc}"))
                    return
        except grpc.RpcError:
            pass
        except Exception:
            logger.exception("StreamChannel: reading the stream failed")
        client.send(None)

    def _stream_message(self, client: Client, message: p4runtime_pb2.StreamMessageRequest) -> None:
        kind = message.WhichOneof("update")
        match kind:
            case "arbitration":
                self.arbitration.arbitrate(client, message.arbitration)
            case "packet":
                self._packet_out(client, message.packet)
            case "digest_ack":
                ack = message.digest_ack
                if not self.device.digest_ack(ack.digest_id, ack.list_id):
                    error = p4runtime_pb2.StreamError(
                        canonical_code=grpc.StatusCode.INVALID_ARGUMENT.value[0],
                        message=f"DigestListAck: digest id {ack.digest_id!r} is not in the P4Info",
                    )
                    error.digest_list_ack.digest_list_ack.CopyFrom(ack)
                    client.send(p4runtime_pb2.StreamMessageResponse(error=error))
            case _:
                self._stream_error(client, grpc.StatusCode.UNIMPLEMENTED, f"message {kind!r}")

    @staticmethod
    def _stream_error(
        client: Client,
        code: grpc.StatusCode,
        message: str,
        packet: p4runtime_pb2.PacketOut | None = None,
    ) -> None:
        error = p4runtime_pb2.StreamError(canonical_code=code.value[0], message=message)
        if packet is not None:
            error.packet_out.packet_out.CopyFrom(packet)
        client.send(p4runtime_pb2.StreamMessageResponse(error=error))

    def _packet_out(self, client: Client, packet: p4runtime_pb2.PacketOut) -> None:
        if not self.arbitration.client_is_primary(client):
            self._stream_error(
                client, grpc.StatusCode.PERMISSION_DENIED, "PacketOut from a non-primary", packet
            )
            return
        cpu_port = self.device.cpu_port
        if cpu_port is None or self.inject is None:
            self._stream_error(
                client, grpc.StatusCode.FAILED_PRECONDITION, "the switch has no CPU port", packet
            )
            return
        try:
            frame = self.device.packet_out_frame(packet)
        except P4RuntimeError as exc:
            self._stream_error(client, exc.code, exc.message, packet)
            return
        except ValueError as exc:
            self._stream_error(client, grpc.StatusCode.INVALID_ARGUMENT, str(exc), packet)
            return
        self.inject(cpu_port, frame)

    def _packet_in(self, packet: p4runtime_pb2.PacketIn) -> None:
        self.arbitration.send_to_primaries(p4runtime_pb2.StreamMessageResponse(packet=packet))

    def _digest(self, digest: p4runtime_pb2.DigestList) -> None:
        self.arbitration.send_to_primaries(p4runtime_pb2.StreamMessageResponse(digest=digest))

    def _idle_timeout(self, notification: p4runtime_pb2.IdleTimeoutNotification) -> None:
        self.arbitration.send_to_primaries(
            p4runtime_pb2.StreamMessageResponse(idle_timeout_notification=notification)
        )
