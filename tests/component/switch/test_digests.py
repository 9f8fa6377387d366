"""Digest batching, de-duplication and acks (DigestEngine, no gRPC)."""

from __future__ import annotations

import time

from p4.v1 import p4data_pb2, p4runtime_pb2

from p4lite.switch.server.digests import DigestEngine


def _data(sample: tuple[int, ...]) -> p4data_pb2.P4Data:
    data = p4data_pb2.P4Data()
    for v in sample:
        data.struct.members.add(bitstring=v.to_bytes(2, "big"))
    return data


def _config(size: int = 1, timeout_ns: int = 0, ack_ns: int = 0):
    return p4runtime_pb2.DigestEntry.Config(
        max_list_size=size, max_timeout_ns=timeout_ns, ack_timeout_ns=ack_ns
    )


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_unconfigured_digest_is_not_sent() -> None:
    sent: list[p4runtime_pb2.DigestList] = []
    engine = DigestEngine(sent.append)
    engine.offer(1, (1, 2), _data)
    assert sent == []


def test_duplicates_wait_for_ack_or_timeout() -> None:
    sent: list[p4runtime_pb2.DigestList] = []
    clock = Clock()
    engine = DigestEngine(sent.append, clock)
    engine.configure(1, _config(ack_ns=1_000_000_000))
    engine.offer(1, (1, 2), _data)
    engine.offer(1, (1, 2), _data)
    engine.offer(1, (3, 4), _data)
    assert [len(m.data) for m in sent] == [1, 1]
    assert sent[0].list_id != sent[1].list_id
    engine.ack(1, sent[0].list_id)
    engine.offer(1, (1, 2), _data)
    assert len(sent) == 3
    # (3, 4) was never acked: it may be sent again only after the ack timeout.
    engine.offer(1, (3, 4), _data)
    assert len(sent) == 3
    clock.now += 2
    engine.offer(1, (3, 4), _data)
    assert len(sent) == 4


def test_batches_up_to_max_list_size() -> None:
    sent: list[p4runtime_pb2.DigestList] = []
    engine = DigestEngine(sent.append)
    engine.configure(7, _config(size=3, timeout_ns=10_000_000_000))
    for i in range(3):
        engine.offer(7, (i,), _data)
    (message,) = sent
    assert message.digest_id == 7
    assert [d.struct.members[0].bitstring for d in message.data] == [
        b"\x00\x00",
        b"\x00\x01",
        b"\x00\x02",
    ]
    engine.close()


def test_partial_batch_flushes_after_max_timeout() -> None:
    sent: list[p4runtime_pb2.DigestList] = []
    engine = DigestEngine(sent.append)
    engine.configure(2, _config(size=100, timeout_ns=20_000_000))
    engine.offer(2, (9,), _data)
    assert sent == []
    deadline = time.monotonic() + 5
    while not sent and time.monotonic() < deadline:
        time.sleep(0.005)
    assert len(sent) == 1 and len(sent[0].data) == 1
    engine.close()


def test_removing_the_config_stops_delivery() -> None:
    sent: list[p4runtime_pb2.DigestList] = []
    engine = DigestEngine(sent.append)
    engine.configure(1, _config())
    engine.offer(1, (1,), _data)
    engine.configure(1, None)
    engine.offer(1, (2,), _data)
    assert len(sent) == 1
