"""Node advertisements: fields, the periodic interval, and at once on a load change."""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from nodes.advertise import LAYER_LAST_LARGE, AdvertiseSettings, advert_messages
from nodes.catalog import NodeError
from traffic.wire import DIN_UDP_PORT, DinMessage, MsgType, decode


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5.0)
    try:
        yield sock
    finally:
        sock.close()


def _read(sock: socket.socket) -> tuple[float, DinMessage, int]:
    data, addr = sock.recvfrom(2048)
    return time.monotonic(), decode(data), addr[1]


def test_advertisements_carry_the_documented_fields(
    models: Any, start_node: Any, listener: socket.socket
) -> None:
    target = listener.getsockname()
    node = start_node(instance_id=12, advertise=AdvertiseSettings(target, 0.05))
    seen: dict[int, DinMessage] = {}
    while len(seen) < 2:
        _, msg, port = _read(listener)
        # Sent from the node's DIN socket, so switches parse it by its port.
        assert port == node.address[1]
        assert msg.header.msg_type == MsgType.ADVERTISE
        assert msg.advert is not None
        seen[msg.advert.layer_last] = msg
    small = seen[len(models.small.layers) - 1]
    large = seen[LAYER_LAST_LARGE]
    assert (small.header.model_id, small.header.model_version) == (1, models.small.version)
    assert (large.header.model_id, large.header.model_version) == (1, models.large.version)
    for msg in (small, large):
        advert = msg.advert
        assert advert is not None
        assert advert.instance_id == 12
        assert advert.layer_first == 0
        assert advert.queue_len == 0
        assert 0 <= advert.utilisation <= 100
        assert advert.capacity == node.capacity()
        head = msg.header
        assert (head.stage, head.request_id, head.instance_id, head.tenant_id) == (0, 0, 0, 0)


def test_advertisements_follow_the_interval(start_node: Any, listener: socket.socket) -> None:
    interval = 0.05
    start_node(large=None, advertise=AdvertiseSettings(listener.getsockname(), interval))
    times = [_read(listener)[0] for _ in range(6)]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    mean = sum(gaps) / len(gaps)
    # Loose bounds: the point is "periodic at about the interval", not a timing figure.
    assert interval * 0.5 <= mean <= interval * 4
    assert min(gaps) >= interval * 0.3


def test_a_filling_queue_is_advertised_at_once(
    start_node: Any, client: Any, listener: socket.socket
) -> None:
    node = start_node(
        large=None,
        queue_size=4,
        delay_ms=300,
        advertise=AdvertiseSettings(listener.getsockname(), 30.0),
    )
    first = _read(listener)[1]
    assert first.advert is not None
    assert first.advert.queue_len == 0
    for i in range(4):
        client.send(node, [i] * 16, request_id=i)
    # The next periodic one is 30 s away: only the change can send this one.
    _, changed, _ = _read(listener)
    assert changed.advert is not None
    assert changed.advert.queue_len >= 2
    assert node.metrics.counts["adverts_triggered"] >= 1


def test_advert_messages_clamp_to_the_field_widths(models: Any) -> None:
    from nodes.catalog import load_served  # noqa: PLC0415

    served = load_served(models.paths["small"], 3)
    (data,) = advert_messages(
        9, [served], queue_len=70000, utilisation=1.7, req_rate=1e12, capacity=2**40
    )
    advert = decode(data).advert
    assert advert is not None
    assert (advert.queue_len, advert.utilisation) == (0xFFFF, 100)
    assert (advert.req_rate, advert.capacity) == (0xFFFFFFFF, 0xFFFFFFFF)


def test_targets_parse_and_bad_ones_are_refused() -> None:
    assert AdvertiseSettings.parse_target("10.0.0.9:9000") == ("10.0.0.9", 9000)
    assert AdvertiseSettings.parse_target("10.0.0.9") == ("10.0.0.9", DIN_UDP_PORT)
    for bad in ("10.0.0.9:x", ":80", "h:70000"):
        with pytest.raises(NodeError, match="expected HOST:PORT"):
            AdvertiseSettings.parse_target(bad)
    with pytest.raises(NodeError, match="interval"):
        AdvertiseSettings(("h", 1), 0.0)
