"""An in-process fake P4Runtime server that records what the client sends.

The fake keeps entities by key, answers arbitration like the spec says
(highest election id is primary, everyone is told), rejects writes from
non-primaries, reports per-update errors in a grpc-status-details-bin
trailer holding one p4.v1.Error per update, and streams Read results in
small chunks so that the client must join several responses.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import code_pb2, status_pb2
from p4.v1 import p4runtime_pb2, p4runtime_pb2_grpc

from controller.p4rt.p4info import P4InfoIndex

DATA = Path(__file__).resolve().parents[2] / "unit" / "p4rt" / "data"

_CLEARED = {
    "table_entry": ("action", "counter_data", "meter_config", "metadata", "is_default_action"),
    "action_profile_member": ("action",),
    "action_profile_group": ("members", "max_size"),
    "register_entry": ("data",),
    "counter_entry": ("data",),
    "meter_entry": ("config",),
    "digest_entry": ("config",),
}


def entity_key(e: p4runtime_pb2.Entity) -> bytes:
    """What identifies an entity in the fake's store."""
    k = p4runtime_pb2.Entity()
    k.CopyFrom(e)
    kind = e.WhichOneof("entity")
    for f in _CLEARED.get(kind or "", ()):
        getattr(k, kind or "").ClearField(f)
    if kind == "packet_replication_engine_entry":
        pre = k.packet_replication_engine_entry
        pre.multicast_group_entry.ClearField("replicas")
        pre.clone_session_entry.ClearField("replicas")
    return k.SerializeToString(deterministic=True)


def _matches(query: p4runtime_pb2.Entity, e: p4runtime_pb2.Entity) -> bool:
    kind = query.WhichOneof("entity")
    if kind != e.WhichOneof("entity"):
        return False
    if kind == "table_entry":
        q = query.table_entry
        if q.table_id and q.table_id != e.table_entry.table_id:
            return False
        if q.is_default_action:
            return True
        return not q.match or entity_key(query) == entity_key(e)
    if kind == "action_profile_member":
        q2 = query.action_profile_member
        t = e.action_profile_member
        return (not q2.action_profile_id or q2.action_profile_id == t.action_profile_id) and (
            not q2.member_id or q2.member_id == t.member_id
        )
    if kind == "action_profile_group":
        q3 = query.action_profile_group
        g = e.action_profile_group
        return (not q3.action_profile_id or q3.action_profile_id == g.action_profile_id) and (
            not q3.group_id or q3.group_id == g.group_id
        )
    if kind == "packet_replication_engine_entry":
        qp = query.packet_replication_engine_entry
        ep = e.packet_replication_engine_entry
        sub = qp.WhichOneof("type")
        if sub != ep.WhichOneof("type"):
            return False
        if sub == "multicast_group_entry":
            qid = qp.multicast_group_entry.multicast_group_id
            return not qid or qid == ep.multicast_group_entry.multicast_group_id
        qid = qp.clone_session_entry.session_id
        return not qid or qid == ep.clone_session_entry.session_id
    return entity_key(query) == entity_key(e)


class FakeP4Runtime(p4runtime_pb2_grpc.P4RuntimeServicer):
    """A P4Runtime servicer good enough to check what the client sends."""

    def __init__(self, read_chunk: int = 2) -> None:
        self.cond = threading.Condition()
        self.read_chunk = read_chunk
        self.address = ""
        self.server: grpc.Server | None = None
        self.writes: list[p4runtime_pb2.WriteRequest] = []
        self.reads: list[p4runtime_pb2.ReadRequest] = []
        self.stream_requests: list[p4runtime_pb2.StreamMessageRequest] = []
        self.entities: dict[bytes, p4runtime_pb2.Entity] = {}
        self.config = p4runtime_pb2.ForwardingPipelineConfig()
        self.streams: dict[int, tuple[int, queue.Queue[Any]]] = {}
        self.answer_arbitration = True
        self.fail_writes: grpc.StatusCode | None = None
        self.reject: Callable[[p4runtime_pb2.Update], tuple[int, str] | None] | None = None
        self.write_gate: threading.Event | None = None
        self._next_stream = 0

    # helpers for tests -------------------------------------------------------

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        with self.cond:
            return self.cond.wait_for(predicate, timeout)

    def push(self, msg: p4runtime_pb2.StreamMessageResponse) -> None:
        with self.cond:
            for _, q in self.streams.values():
                q.put(msg)

    def _primary(self) -> int:
        return max((eid for eid, _ in self.streams.values()), default=0)

    def _announce(self) -> None:
        primary = self._primary()
        for eid, q in self.streams.values():
            resp = p4runtime_pb2.StreamMessageResponse()
            arb = resp.arbitration
            arb.device_id = 0
            arb.election_id.high = primary >> 64
            arb.election_id.low = primary & ((1 << 64) - 1)
            if eid == primary:
                arb.status.code = code_pb2.OK
                arb.status.message = "primary"
            else:
                arb.status.code = code_pb2.ALREADY_EXISTS
                arb.status.message = "a primary is connected"
            q.put(resp)

    # RPCs ----------------------------------------------------------------------

    def StreamChannel(
        self, request_iterator: Iterator[p4runtime_pb2.StreamMessageRequest], context: Any
    ) -> Iterator[p4runtime_pb2.StreamMessageResponse]:
        out: queue.Queue[Any] = queue.Queue()
        with self.cond:
            sid = self._next_stream
            self._next_stream += 1

        def finish() -> None:
            out.put(None)
            with self.cond:
                if self.streams.pop(sid, None) is not None:
                    self._announce()
                self.cond.notify_all()

        context.add_callback(finish)

        def reader() -> None:
            try:
                for req in request_iterator:
                    with self.cond:
                        self.stream_requests.append(req)
                        if req.WhichOneof("update") == "arbitration" and self.answer_arbitration:
                            eid = (req.arbitration.election_id.high << 64) | (
                                req.arbitration.election_id.low
                            )
                            self.streams[sid] = (eid, out)
                            self._announce()
                        self.cond.notify_all()
            except grpc.RpcError:
                pass
            finally:
                out.put(None)

        threading.Thread(target=reader, daemon=True).start()
        while True:
            item = out.get()
            if item is None:
                return
            yield item

    def Write(self, request: p4runtime_pb2.WriteRequest, context: Any) -> Any:
        if self.write_gate is not None:
            self.write_gate.wait(10)
        with self.cond:
            self.writes.append(request)
            self.cond.notify_all()
            eid = (request.election_id.high << 64) | request.election_id.low
            if self.fail_writes is not None:
                context.abort(self.fail_writes, "injected failure")
            if eid != self._primary():
                context.abort(grpc.StatusCode.PERMISSION_DENIED, "not primary")
            errors: list[tuple[int, str]] = []
            for u in request.updates:
                errors.append(self._apply(u))
        if any(code != code_pb2.OK for code, _ in errors):
            status = status_pb2.Status(code=code_pb2.UNKNOWN, message="write failed")
            for code, msg in errors:
                detail = any_pb2.Any()
                detail.Pack(p4runtime_pb2.Error(canonical_code=code, message=msg, space="fake"))
                status.details.append(detail)
            context.set_trailing_metadata(
                (("grpc-status-details-bin", status.SerializeToString()),)
            )
            context.set_code(grpc.StatusCode.UNKNOWN)
            context.set_details("write failed")
        return p4runtime_pb2.WriteResponse()

    def _apply(self, u: p4runtime_pb2.Update) -> tuple[int, str]:
        if self.reject is not None:
            verdict = self.reject(u)
            if verdict is not None:
                return verdict
        key = entity_key(u.entity)
        if u.type == p4runtime_pb2.Update.INSERT:
            if key in self.entities:
                return code_pb2.ALREADY_EXISTS, "entry exists"
            self.entities[key] = u.entity
        elif u.type == p4runtime_pb2.Update.MODIFY:
            is_default = u.entity.table_entry.is_default_action
            if key not in self.entities and not is_default:
                return code_pb2.NOT_FOUND, "no such entry"
            self.entities[key] = u.entity
        elif u.type == p4runtime_pb2.Update.DELETE:
            if self.entities.pop(key, None) is None:
                return code_pb2.NOT_FOUND, "no such entry"
        else:
            return code_pb2.INVALID_ARGUMENT, "bad update type"
        return code_pb2.OK, ""

    def Read(
        self, request: p4runtime_pb2.ReadRequest, context: Any
    ) -> Iterator[p4runtime_pb2.ReadResponse]:
        with self.cond:
            self.reads.append(request)
            found: list[p4runtime_pb2.Entity] = []
            for q in request.entities:
                if q.WhichOneof("entity") == "table_entry" and q.table_entry.table_id == 999:
                    context.abort(grpc.StatusCode.NOT_FOUND, "table 999 does not exist")
                want_default = q.table_entry.is_default_action
                found += [
                    e
                    for e in self.entities.values()
                    if _matches(q, e) and e.table_entry.is_default_action == want_default
                ]
        for i in range(0, len(found), self.read_chunk):
            yield p4runtime_pb2.ReadResponse(entities=found[i : i + self.read_chunk])

    def SetForwardingPipelineConfig(
        self, request: p4runtime_pb2.SetForwardingPipelineConfigRequest, context: Any
    ) -> p4runtime_pb2.SetForwardingPipelineConfigResponse:
        with self.cond:
            self.config = request.config
            self.entities.clear()
        return p4runtime_pb2.SetForwardingPipelineConfigResponse()

    def GetForwardingPipelineConfig(
        self, request: p4runtime_pb2.GetForwardingPipelineConfigRequest, context: Any
    ) -> p4runtime_pb2.GetForwardingPipelineConfigResponse:
        resp = p4runtime_pb2.GetForwardingPipelineConfigResponse()
        resp.config.CopyFrom(self.config)
        if request.response_type != request.ALL:
            resp.config.ClearField("p4_device_config")
        return resp


def start_fake(
    credentials: grpc.ServerCredentials | None = None, address: str = "127.0.0.1:0"
) -> tuple[FakeP4Runtime, grpc.Server]:
    servicer = FakeP4Runtime()
    server = grpc.server(ThreadPoolExecutor(max_workers=16))
    p4runtime_pb2_grpc.add_P4RuntimeServicer_to_server(servicer, server)
    if credentials is None:
        port = server.add_insecure_port(address)
    else:
        port = server.add_secure_port(address, credentials)
    server.start()
    servicer.address = f"127.0.0.1:{port}"
    return servicer, server


@pytest.fixture
def make_fake() -> Iterator[Callable[..., FakeP4Runtime]]:
    """Start fake servers on demand (optionally with TLS); stop them all afterwards."""
    servers: list[grpc.Server] = []

    def make(
        credentials: grpc.ServerCredentials | None = None, address: str = "127.0.0.1:0"
    ) -> FakeP4Runtime:
        servicer, server = start_fake(credentials, address)
        servicer.server = server
        servers.append(server)
        return servicer

    yield make
    for server in servers:
        server.stop(grace=None)


@pytest.fixture
def fake(make_fake: Callable[..., FakeP4Runtime]) -> FakeP4Runtime:
    return make_fake()


@pytest.fixture(scope="session")
def index() -> P4InfoIndex:
    return P4InfoIndex.load(DATA / "fabric.p4info.txtpb")
