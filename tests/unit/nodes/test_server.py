"""The node's UDP server on loopback: answers against the integer reference, escalations,
busy answers from a full queue, a slow node's metrics, bad datagrams."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from controller.models.quant import forward_int
from nodes.catalog import NodeError
from nodes.server import (
    FLAG_BUSY,
    FLAG_ERROR,
    FLAG_IN_NETWORK,
    FLAG_LARGE,
    FLAG_NODE,
    NodeConfig,
)
from traffic.wire import FLAG_FAILOVER, STAGE_DONE, DinHeader, MsgType, encode

SAMPLES = 24


def _inputs(n: int = SAMPLES, seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, 16))


def _expect(scores: np.ndarray) -> tuple[int, int, tuple[int, ...]]:
    ordered = np.sort(scores)
    return int(np.argmax(scores)), int(ordered[-1] - ordered[-2]), tuple(int(v) for v in scores)


def test_stage0_request_matches_the_integer_reference(
    models: Any, start_node: Any, client: Any
) -> None:
    node = start_node()
    classes: dict[str, int] = {}
    for i, x in enumerate(_inputs()):
        answer = client.ask(node, x, request_id=100 + i, ingress_ts=123456789 + i)
        top, margin, scores = _expect(forward_int(models.small, x))
        head = answer.header
        assert head.msg_type == MsgType.RESPONSE
        assert (head.result_class, head.confidence) == (top, margin)
        assert answer.vector[: len(scores)] == scores
        assert head.stage == STAGE_DONE
        assert head.flags == FLAG_NODE
        assert (head.request_id, head.ingress_ts) == (100 + i, 123456789 + i)
        assert (head.instance_id, head.tenant_id, head.hop_count) == (7, 3, 2)
        assert head.model_version == models.small.version
        classes[f"1/{top}"] = classes.get(f"1/{top}", 0) + 1
    # The inputs exercise more than one class, so a constant answer would fail.
    assert len(classes) > 1
    assert node.metrics.counts["served_small"] == SAMPLES
    assert node.metrics.snapshot()["classes"] == dict(sorted(classes.items()))


def test_stage1_request_continues_after_a_switch_layer(
    models: Any, start_node: Any, client: Any
) -> None:
    node = start_node()
    for i, x in enumerate(_inputs(seed=4)):
        hidden = forward_int(models.small, x, 0, 1)
        answer = client.ask(node, hidden, stage=1, request_id=i)
        top, margin, scores = _expect(forward_int(models.small, x))
        assert (answer.header.result_class, answer.header.confidence) == (top, margin)
        assert answer.vector[: len(scores)] == scores
        assert answer.header.flags == FLAG_NODE | FLAG_IN_NETWORK


def test_escalation_is_served_by_the_large_model(models: Any, start_node: Any, client: Any) -> None:
    node = start_node()
    differs = 0
    for i, x in enumerate(_inputs(seed=5)):
        answer = client.ask(node, x, msg_type=MsgType.ESCALATION, request_id=i)
        top, margin, scores = _expect(forward_int(models.large, x))
        assert (answer.header.result_class, answer.header.confidence) == (top, margin)
        assert answer.vector[: len(scores)] == scores
        assert answer.header.flags == FLAG_NODE | FLAG_LARGE
        differs += scores != _expect(forward_int(models.small, x))[2]
    # The two models disagree on these inputs, so the small one could not pass.
    assert differs > 0
    assert node.metrics.counts["served_large"] == SAMPLES


def test_escalation_after_switch_layers_uses_a_large_model_sharing_them(
    models: Any, start_node: Any, client: Any
) -> None:
    node = start_node(large="shared")
    for i, x in enumerate(_inputs(8, seed=6)):
        hidden = forward_int(models.small, x, 0, 2)
        answer = client.ask(node, hidden, stage=2, msg_type=MsgType.ESCALATION, request_id=i)
        top, margin, scores = _expect(forward_int(models.shared, x))
        assert (answer.header.result_class, answer.header.confidence) == (top, margin)
        assert answer.vector[: len(scores)] == scores
        assert answer.header.flags == FLAG_NODE | FLAG_IN_NETWORK | FLAG_LARGE


def test_escalation_the_large_model_cannot_read_is_finished_by_the_small_one(
    models: Any, start_node: Any, client: Any
) -> None:
    node = start_node(large="large")
    x = _inputs(1, seed=8)[0]
    hidden = forward_int(models.small, x, 0, 2)
    answer = client.ask(node, hidden, stage=2, msg_type=MsgType.ESCALATION)
    top, margin, _ = _expect(forward_int(models.small, x))
    assert (answer.header.result_class, answer.header.confidence) == (top, margin)
    assert answer.header.flags == FLAG_NODE | FLAG_IN_NETWORK


def test_path_flags_and_trailing_bytes_are_kept(start_node: Any, client: Any) -> None:
    node = start_node()
    head = DinHeader(msg_type=MsgType.REQUEST, model_id=1, flags=FLAG_FAILOVER, request_id=9)
    client.send_raw(node, encode(head, [1] * 16) + b"app-data")
    answer = client.receive()
    assert answer.header.flags == FLAG_FAILOVER | FLAG_NODE
    # Bytes after the vector travel unchanged (p4src/README.md).
    assert answer.rest == b"app-data"


def test_full_queue_answers_busy_and_drops_nothing(
    start_node: Any, client: Any, wait_for: Any
) -> None:
    node = start_node(queue_size=2, delay_ms=60)
    sent = 12
    for i in range(sent):
        client.send(node, [i] * 16, request_id=i)
    answers = [client.receive() for _ in range(sent)]
    ids = sorted(a.header.request_id for a in answers)
    assert ids == list(range(sent))
    busy = [a for a in answers if a.header.flags & FLAG_BUSY]
    served = [a for a in answers if a.header.stage == STAGE_DONE]
    assert len(busy) + len(served) == sent
    # One request in service and two queued at most: the rest must be busy.
    assert len(served) <= 3
    assert len(busy) >= sent - 3
    for answer in busy:
        assert answer.header.stage == 0
        assert answer.header.flags == FLAG_NODE | FLAG_BUSY
        assert (answer.header.result_class, answer.header.confidence) == (0, 0)
    counts = node.metrics.counts
    assert counts["busy"] == len(busy)
    wait_for(lambda: counts["answered"] == len(served), "the served answers to be counted")
    assert counts["answered_busy"] == len(busy)
    assert node.metrics.queue_peak <= 2


def test_slow_node_shows_in_its_metrics(start_node: Any, client: Any) -> None:
    delay_ms = 30.0
    node = start_node(delay_ms=delay_ms)
    for i in range(4):
        client.ask(node, [5] * 16, request_id=i)
    snap = node.metrics.snapshot()
    # Service includes the added delay, so it can only be longer than it.
    assert snap["service_ms"]["mean"] >= delay_ms
    assert snap["service_ms"]["max"] >= delay_ms
    assert node.capacity() <= 1000 / delay_ms
    assert snap["counts"]["served"] == 4


def test_service_rate_limits_the_capacity(start_node: Any) -> None:
    node = start_node(service_rate=40.0)
    assert node.capacity() == 40
    fixed = start_node(capacity=1234, instance_id=8)
    assert fixed.capacity() == 1234


def test_bad_datagrams_are_counted_and_never_stop_the_node(
    models: Any, start_node: Any, client: Any, wait_for: Any
) -> None:
    node = start_node()
    good = encode(DinHeader(msg_type=MsgType.REQUEST, model_id=1), [1] * 16)
    client.send_raw(node, b"\x10\x00\x01")  # short
    client.send_raw(node, bytes([0x21]) + good[1:])  # version 2
    client.send_raw(node, bytes([0x19]) + good[1:])  # type 9
    client.send_raw(node, good[:30])  # vector cut short
    client.send_raw(node, encode(DinHeader(msg_type=MsgType.RESPONSE, model_id=1), [0] * 16))
    wait_for(lambda: node.metrics.counts["bad"] == 5, "five bad datagrams to be counted")
    assert dict(node.metrics.bad) == {
        "short": 2,
        "version": 1,
        "type": 1,
        "not_a_request": 1,
    }
    # Unknown model, unknown version and a stage past the model are answered as errors.
    unknown = client.ask(node, [1] * 16, model_id=99, request_id=51)
    wrong_version = client.ask(node, [1] * 16, model_version=77, request_id=52)
    past_end = client.ask(node, [1] * 16, stage=len(models.small.layers), request_id=53)
    for answer, rid in ((unknown, 51), (wrong_version, 52), (past_end, 53)):
        assert answer.header.flags == FLAG_NODE | FLAG_ERROR
        assert answer.header.request_id == rid
    assert node.metrics.bad["unknown_model"] == 2
    assert node.metrics.bad["bad_stage"] == 1
    # Still serving.
    answer = client.ask(node, [1] * 16, request_id=54)
    assert answer.header.stage == STAGE_DONE
    assert answer.header.request_id == 54


def test_stopping_answers_queued_requests_busy(start_node: Any, client: Any, wait_for: Any) -> None:
    node = start_node(queue_size=8, delay_ms=500)
    for i in range(4):
        client.send(node, [i] * 16, request_id=i)
    wait_for(lambda: node.metrics.counts["requests"] == 4, "four requests to be queued")
    node.stop()
    answers = [client.receive() for _ in range(4)]
    assert sorted(a.header.request_id for a in answers) == [0, 1, 2, 3]
    busy = [a for a in answers if a.header.flags & FLAG_BUSY]
    # The one in service is finished; the queued ones are told the node is busy.
    assert len(busy) >= 3
    assert node.metrics.counts["busy_at_stop"] == len(busy)


@pytest.mark.parametrize(
    ("field", "value"),
    [("instance_id", 0), ("instance_id", 64), ("queue_size", 0), ("delay_ms", -1.0)],
)
def test_config_refuses_bad_values(field: str, value: object) -> None:
    kwargs: dict[str, Any] = {"instance_id": 1, field: value}
    with pytest.raises(NodeError, match=repr(value).replace(".", r"\.")):
        NodeConfig(**kwargs)
