"""SwitchConnection against the in-process fake P4Runtime server."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import grpc
import pytest
from google.rpc import code_pb2
from p4.v1 import p4runtime_pb2

from controller.p4rt.client import DigestList, PacketIn, SwitchConnection
from controller.p4rt.entities import (
    DigestEntry,
    EntityBuilder,
    MulticastGroupEntry,
    Replica,
    TableEntry,
    Update,
    UpdateType,
    inserts,
)
from controller.p4rt.errors import (
    ArbitrationError,
    P4RuntimeRPCError,
    P4RuntimeWriteError,
    SwitchConnectionError,
)
from controller.p4rt.p4info import P4InfoIndex


def poll(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Wait until ``predicate`` holds, checking on a short interval."""
    done = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return True
        done.wait(0.01)
    return predicate()


def routes(index: P4InfoIndex, n: int) -> list[TableEntry]:
    b = EntityBuilder(index)
    return [
        b.table_entry(
            "ipv4_lpm", {"hdr.ipv4.dstAddr": f"10.{i}.0.0/16"}, "forward", {"dstAddr": i, "port": i}
        )
        for i in range(n)
    ]


@pytest.fixture
def conn(fake, index: P4InfoIndex) -> Iterator[SwitchConnection]:
    c = SwitchConnection(
        fake.address, name="s1", device_id=0, election_id=5, index=index, timeout=5
    )
    c.connect()
    yield c
    c.close()


def test_arbitration_request_and_primary(fake, index: P4InfoIndex) -> None:
    with SwitchConnection(fake.address, election_id=(1 << 64) + 7, device_id=0, role="") as c:
        status = c.connect()
        assert status.is_primary and c.is_primary
        assert status.code == "OK"
        assert status.election_id == (1 << 64) + 7
    first = fake.stream_requests[0].arbitration
    assert first.device_id == 0
    assert (first.election_id.high, first.election_id.low) == (1, 7)
    assert not first.HasField("role")


def test_backup_detection(fake) -> None:
    with (
        SwitchConnection(fake.address, name="a", election_id=10) as a,
        SwitchConnection(fake.address, name="b", election_id=20) as b,
    ):
        assert a.connect().is_primary
        assert b.connect().is_primary
        assert poll(lambda: a.arbitration is not None and not a.is_primary)
        assert a.arbitration is not None
        assert a.arbitration.code == "ALREADY_EXISTS"
        assert a.arbitration.election_id == 20
        b.close()
        assert poll(lambda: a.is_primary)


def test_write_from_backup_fails_for_every_update(fake, index: P4InfoIndex) -> None:
    with (
        SwitchConnection(fake.address, election_id=20) as primary,
        SwitchConnection(fake.address, election_id=10, index=index) as backup,
    ):
        primary.connect()
        assert not backup.connect().is_primary
        with pytest.raises(P4RuntimeWriteError) as info:
            backup.insert(routes(index, 2))
    err = info.value
    assert err.code == "PERMISSION_DENIED"
    assert [(f.index, f.code) for f in err.errors] == [
        (0, "PERMISSION_DENIED"),
        (1, "PERMISSION_DENIED"),
    ]


def test_writes_are_batched(fake, conn: SwitchConnection, index: P4InfoIndex) -> None:
    sent = conn.write(inserts(routes(index, 7)), batch_size=3)
    assert sent == 7
    assert [len(w.updates) for w in fake.writes] == [3, 3, 1]
    for w in fake.writes:
        assert w.device_id == 0
        assert (w.election_id.high, w.election_id.low) == (0, 5)
        assert w.atomicity == p4runtime_pb2.WriteRequest.CONTINUE_ON_ERROR
        assert all(u.type == p4runtime_pb2.Update.INSERT for u in w.updates)
    assert fake.writes[0].updates[0].entity == routes(index, 1)[0].to_proto(index)
    assert len(fake.entities) == 7


def test_default_batch_size_and_atomicity(fake, index: P4InfoIndex) -> None:
    with SwitchConnection(fake.address, batch_size=4, index=index) as c:
        c.connect()
        c.write(inserts(routes(index, 5)), atomicity="ROLLBACK_ON_ERROR")
    assert [len(w.updates) for w in fake.writes] == [4, 1]
    assert fake.writes[0].atomicity == p4runtime_pb2.WriteRequest.ROLLBACK_ON_ERROR


def test_per_update_errors_are_unwrapped_across_batches(
    fake, conn: SwitchConnection, index: P4InfoIndex
) -> None:
    entries = routes(index, 5)
    conn.insert([entries[1], entries[3]])
    updates = inserts(entries)
    with pytest.raises(P4RuntimeWriteError) as info:
        conn.write(updates, batch_size=2)
    err = info.value
    assert err.code == "UNKNOWN"
    assert [(f.index, f.code, f.message) for f in err.errors] == [
        (1, "ALREADY_EXISTS", "entry exists"),
        (3, "ALREADY_EXISTS", "entry exists"),
    ]
    assert err.errors[0].update is updates[1]
    assert "update #3: ALREADY_EXISTS: entry exists" in str(err)
    assert len(fake.entities) == 5  # the other updates went in


def test_stop_on_error_skips_later_batches(
    fake, conn: SwitchConnection, index: P4InfoIndex
) -> None:
    entries = routes(index, 4)
    conn.insert([entries[0]])
    with pytest.raises(P4RuntimeWriteError) as info:
        conn.write(inserts(entries), batch_size=2, stop_on_error=True)
    assert [f.index for f in info.value.errors] == [0]
    assert len(fake.writes) == 2  # the first insert and one failing batch


def test_rejected_update_reports_its_code(fake, conn: SwitchConnection, index: P4InfoIndex) -> None:
    fake.reject = lambda u: (
        (code_pb2.INVALID_ARGUMENT, "bad port")
        if u.entity.table_entry.action.action.params[1].value == b"\x02"
        else None
    )
    with pytest.raises(P4RuntimeWriteError) as info:
        conn.insert(routes(index, 3))
    assert [(f.index, f.code, f.message) for f in info.value.errors] == [
        (2, "INVALID_ARGUMENT", "bad port")
    ]


def test_transport_error_stops_the_write(fake, conn: SwitchConnection, index: P4InfoIndex) -> None:
    fake.fail_writes = grpc.StatusCode.UNAVAILABLE
    with pytest.raises(P4RuntimeWriteError) as info:
        conn.write(inserts(routes(index, 5)), batch_size=2)
    assert info.value.code == "UNAVAILABLE"
    assert [f.index for f in info.value.errors] == [0, 1]
    assert len(fake.writes) == 1


def test_encoding_error_sends_nothing(fake, conn: SwitchConnection, index: P4InfoIndex) -> None:
    bad = TableEntry("ipv4_lpm", action="forward", params=(("dstAddr", 1), ("port", 512)))
    with pytest.raises(ValueError, match="bitwidth 9: 512"):
        conn.write([*inserts(routes(index, 2)), Update(UpdateType.INSERT, bad)])
    assert fake.writes == []


def test_write_timeout(fake, conn: SwitchConnection, index: P4InfoIndex) -> None:
    fake.write_gate = threading.Event()
    try:
        with pytest.raises(P4RuntimeWriteError) as info:
            conn.insert(routes(index, 1), timeout=0.2)
        assert info.value.code == "DEADLINE_EXCEEDED"
    finally:
        fake.write_gate.set()


def test_read_streams_and_decodes(fake, conn: SwitchConnection, index: P4InfoIndex) -> None:
    entries = routes(index, 5)
    conn.insert(entries)
    conn.insert([MulticastGroupEntry(1, (Replica(1), Replica(2)))])
    gen = conn.read_entities([TableEntry("ipv4_lpm")])
    assert fake.reads == []  # a generator: nothing sent before iteration
    got = list(gen)
    assert sorted(got, key=repr) == sorted(entries, key=repr)
    req = fake.reads[0]
    assert req.device_id == 0
    assert req.entities[0].table_entry.table_id == index.table("ipv4_lpm").id
    assert not req.entities[0].table_entry.match
    assert list(conn.read_entities([MulticastGroupEntry(0)])) == [
        MulticastGroupEntry(1, (Replica(1), Replica(2)))
    ]


def test_read_error_is_wrapped(fake, conn: SwitchConnection) -> None:
    query = p4runtime_pb2.Entity()
    query.table_entry.table_id = 999
    with pytest.raises(P4RuntimeRPCError, match="NOT_FOUND: table 999 does not exist"):
        list(conn.read([query]))


def test_pipeline_set_and_get(fake, index: P4InfoIndex) -> None:
    with SwitchConnection(fake.address) as c:
        c.connect()
        c.set_pipeline(index, b'{"program": "din"}', cookie=42)
        assert c.index is index
        assert fake.config.p4info == index.p4info
        assert fake.config.p4_device_config == b'{"program": "din"}'
        assert fake.config.cookie.cookie == 42
        config = c.get_pipeline()
        assert config.p4_device_config == b'{"program": "din"}'
        c.index = None
        loaded = c.load_index()
        assert loaded.table("acl").id == index.table("acl").id
        with pytest.raises(ValueError, match="response_type 'NOPE'"):
            c.get_pipeline("NOPE")


def test_packet_out_metadata(fake, conn: SwitchConnection, index: P4InfoIndex) -> None:
    conn.packet_out(b"\x01\x02", {"egress_port": 3, "flags": 0})
    assert fake.wait_for(lambda: any(r.HasField("packet") for r in fake.stream_requests))
    pkt = next(r.packet for r in fake.stream_requests if r.HasField("packet"))
    assert pkt.payload == b"\x01\x02"
    assert [(m.metadata_id, m.value) for m in pkt.metadata] == [(1, b"\x03"), (2, b"\x00")]
    with pytest.raises(ValueError, match="bitwidth 9: 600"):
        conn.packet_out(b"", {"egress_port": 600})


def packet_in(port: int, payload: bytes) -> p4runtime_pb2.StreamMessageResponse:
    msg = p4runtime_pb2.StreamMessageResponse()
    msg.packet.payload = payload
    msg.packet.metadata.add(metadata_id=1, value=bytes([port]))
    return msg


def test_packet_in_queue_and_listener(fake, conn: SwitchConnection) -> None:
    fake.push(packet_in(3, b"abc"))
    assert conn.packet_ins.get(timeout=5) == PacketIn(b"abc", {"ingress_port": 3})
    seen: list[PacketIn] = []
    got = threading.Event()

    def listener(p: PacketIn) -> None:
        seen.append(p)
        got.set()

    conn.add_packet_in_listener(listener)
    fake.push(packet_in(4, b"xyz"))
    assert got.wait(5)
    assert seen == [PacketIn(b"xyz", {"ingress_port": 4})]
    assert conn.packet_ins.empty()


def test_digest_is_decoded_and_acked(fake, conn: SwitchConnection, index: P4InfoIndex) -> None:
    msg = p4runtime_pb2.StreamMessageResponse()
    d = msg.digest
    d.digest_id = index.digest("new_flow_t").id
    d.list_id = 77
    d.timestamp = 123
    item = d.data.add()
    item.struct.members.add(bitstring=b"\x0a\x00\x00\x01")
    item.struct.members.add(bitstring=b"\x02")
    fake.push(msg)
    got = conn.digests.get(timeout=5)
    assert isinstance(got, DigestList)
    assert got.digest == "new_flow_t" and got.list_id == 77 and got.timestamp == 123
    assert got.data == ({"src_addr": 0x0A000001, "flow_class": 2},)
    assert fake.wait_for(
        lambda: any(
            r.HasField("digest_ack") and r.digest_ack.list_id == 77 for r in fake.stream_requests
        )
    )
    ack = next(r.digest_ack for r in fake.stream_requests if r.HasField("digest_ack"))
    assert ack.digest_id == index.digest("new_flow_t").id


def test_stream_error_is_queued(fake, conn: SwitchConnection) -> None:
    msg = p4runtime_pb2.StreamMessageResponse()
    msg.error.canonical_code = code_pb2.INVALID_ARGUMENT
    msg.error.message = "bad packet-out"
    fake.push(msg)
    assert conn.stream_errors.get(timeout=5).message == "bad packet-out"


def test_arbitration_timeout(fake) -> None:
    fake.answer_arbitration = False
    with (
        SwitchConnection(fake.address) as c,
        pytest.raises(ArbitrationError, match=r"within 0\.2 s"),
    ):
        c.connect(timeout=0.2)


def test_unreachable_switch_fails_arbitration() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with (
        SwitchConnection(f"127.0.0.1:{port}", name="gone", timeout=5) as c,
        pytest.raises(ArbitrationError, match=r"'gone' \(127\.0\.0\.1:\d+\) failed.*UNAVAILABLE"),
    ):
        c.connect(timeout=0.3)


def test_connect_waits_for_a_starting_switch(make_fake, index: P4InfoIndex) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{s.getsockname()[1]}"
    fast_retry = [("grpc.initial_reconnect_backoff_ms", 50), ("grpc.max_reconnect_backoff_ms", 100)]
    with SwitchConnection(address, timeout=10, grpc_options=fast_retry) as c:
        result: list[object] = []
        t = threading.Thread(target=lambda: result.append(c.connect()))
        t.start()
        # Start the switch only once the client has failed at least once.
        assert poll(lambda: c.stream_error is not None)
        make_fake(address=address)
        t.join(10)
        assert len(result) == 1 and c.is_primary


def test_close_is_idempotent(fake, index: P4InfoIndex) -> None:
    c = SwitchConnection(fake.address, index=index)
    c.connect()
    c.close()
    c.close()
    assert c.closed
    with pytest.raises(SwitchConnectionError, match="is closed"):
        c.insert(routes(index, 1))
    with pytest.raises(SwitchConnectionError, match="is closed"):
        c.connect()


def test_write_needs_an_index(fake) -> None:
    with SwitchConnection(fake.address, name="s9") as c:
        c.connect()
        with pytest.raises(Exception, match="'s9' has no P4Info"):
            c.insert([MulticastGroupEntry(1)])


def test_sync_restores_intended_state(fake, conn: SwitchConnection, index: P4InfoIndex) -> None:
    b = EntityBuilder(index)
    intended = [
        *routes(index, 3),
        b.member("steer_sel", 1, "forward", {"dstAddr": 1, "port": 1}),
        b.group("steer_sel", 1, {1: 2}),
        b.table_entry("steer", {"hdr.din.model_id": 9}, group_id=1),
        MulticastGroupEntry(5, (Replica(1),)),
    ]
    first = conn.sync(intended)
    assert len(first.inserts) == len(intended)
    assert len(fake.entities) == len(intended)
    # A controller restart: nothing to write.
    assert not conn.sync(intended)
    # Drift: one entry lost, one changed, one stale.
    lost, changed, _ = routes(index, 3)
    conn.delete([lost])
    conn.modify([TableEntry(changed.table, changed.match, "MyIngress.drop")])
    stale = routes(index, 4)[3]
    conn.insert([stale])
    repair = conn.sync(intended)
    assert repair.inserts == (lost,)
    assert repair.modifies == (changed,)
    assert repair.deletes == (stale,)
    assert sorted(conn.read_entities([TableEntry("ipv4_lpm")]), key=repr) == sorted(
        routes(index, 3), key=repr
    )
    assert not conn.sync(intended)


def test_switch_restart_reconnect_and_restore(make_fake, index: P4InfoIndex) -> None:
    first = make_fake()
    intended = routes(index, 3)
    fast_retry = [("grpc.initial_reconnect_backoff_ms", 50), ("grpc.max_reconnect_backoff_ms", 100)]
    with SwitchConnection(
        first.address, name="s1", index=index, timeout=5, grpc_options=fast_retry
    ) as c:
        c.connect()
        c.sync(intended)
        assert first.server is not None
        first.server.stop(grace=None)
        assert poll(lambda: c.stream_error is not None)
        assert not c.is_primary
        with pytest.raises(P4RuntimeWriteError, match="UNAVAILABLE"):
            c.insert(routes(index, 1))
        # The switch comes back empty on the same address.
        second = make_fake(address=first.address)
        assert c.connect().is_primary
        assert c.stream_error is None
        restored = c.sync(intended)
        assert restored.inserts == tuple(intended)
        assert len(second.entities) == 3


def test_sync_with_default_entries(fake, conn: SwitchConnection, index: P4InfoIndex) -> None:
    default = EntityBuilder(index).table_entry("ipv4_lpm", action="drop", is_default=True)
    intended = [default, *routes(index, 1)]
    first = conn.sync(intended, include_defaults=True)
    assert first.modifies == (default,) and len(first.inserts) == 1
    assert not conn.sync(intended, include_defaults=True)
    # Without reading defaults the (idempotent) MODIFY is sent again.
    assert conn.sync(intended).modifies == (default,)


def test_role_is_sent_everywhere(fake, index: P4InfoIndex) -> None:
    with SwitchConnection(fake.address, role="steering", device_id=3, index=index) as c:
        c.connect()
        c.insert([MulticastGroupEntry(4)])
        list(c.read([MulticastGroupEntry(0)]))
    assert fake.stream_requests[0].arbitration.role.name == "steering"
    assert fake.stream_requests[0].arbitration.device_id == 3
    assert fake.writes[0].role == "steering" and fake.writes[0].device_id == 3
    assert fake.reads[0].role == "steering" and fake.reads[0].device_id == 3


def test_bad_options_are_refused(fake, index: P4InfoIndex) -> None:
    with pytest.raises(ValueError, match="batch_size 0: expected >= 1"):
        SwitchConnection(fake.address, batch_size=0)
    with pytest.raises(ValueError, match="election_id 0"):
        SwitchConnection(fake.address, election_id=0)
    with SwitchConnection(fake.address, index=index) as c:
        with pytest.raises(ValueError, match="atomicity 'SOMETIMES'"):
            c.write([], atomicity="SOMETIMES")
        with pytest.raises(ValueError, match="pipeline action 'PUSH'"):
            c.set_pipeline(index, b"", action="PUSH")


def test_sync_reads_digest_config_only_when_intended(
    fake, conn: SwitchConnection, index: P4InfoIndex
) -> None:
    conn.sync(routes(index, 1))
    assert not any(q.HasField("digest_entry") for q in fake.reads[-1].entities)
    intended = [DigestEntry("new_flow_t", max_list_size=4)]
    assert conn.sync(intended).inserts == tuple(intended)
    assert any(q.HasField("digest_entry") for q in fake.reads[-1].entities)
    assert not conn.sync(intended, prune=False)
    assert conn.sync([DigestEntry("new_flow_t", max_list_size=2)], prune=False).modifies
