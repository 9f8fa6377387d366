"""Arbitration bookkeeping without gRPC: primaries per role, lagging clients."""

from __future__ import annotations

from google.rpc import code_pb2
from p4.v1 import p4runtime_pb2

from p4lite.switch.server import arbitration
from p4lite.switch.server.arbitration import Arbitration, Client


def _update(election: int, role: str | None = None) -> p4runtime_pb2.MasterArbitrationUpdate:
    update = p4runtime_pb2.MasterArbitrationUpdate(device_id=1)
    update.election_id.high = election >> 64
    update.election_id.low = election & ((1 << 64) - 1)
    if role is not None:
        update.role.name = role
    return update


def test_128_bit_election_ids_and_primaries_per_role() -> None:
    arb = Arbitration(1)
    low, high, other = Client(), Client(), Client()
    arb.arbitrate(low, _update(1 << 64))
    arb.arbitrate(high, _update((1 << 64) + 1))
    arb.arbitrate(other, _update(1, role="telemetry"))
    assert arb.is_primary("", (1 << 64) + 1)
    assert not arb.is_primary("", 1 << 64)
    assert arb.client_is_primary(other)
    last = None
    while not low.queue.empty():
        last = low.queue.get()
    assert isinstance(last, p4runtime_pb2.StreamMessageResponse)
    assert last.arbitration.status.code == code_pb2.ALREADY_EXISTS
    assert last.arbitration.election_id.high == 1
    assert last.arbitration.election_id.low == 1


def test_lagging_client_drops_packet_ins(monkeypatch) -> None:
    monkeypatch.setattr(arbitration, "MAX_PENDING", 3)
    arb = Arbitration(1)
    client = Client()
    arb.arbitrate(client, _update(5))  # queues one arbitration reply
    message = p4runtime_pb2.StreamMessageResponse(packet=p4runtime_pb2.PacketIn(payload=b"x"))
    for _ in range(4):
        arb.send_to_primaries(message)
    assert client.queue.qsize() == 3
    assert client.dropped == 2
