"""controller.steering.registry: instances from advertisements, smoothing, expiry."""

from __future__ import annotations

import pytest

from controller.steering.adverts import Advertisement
from controller.steering.errors import SteeringError
from controller.steering.registry import NodeRegistry


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _adv(inst: int = 1, **kw: int | str) -> Advertisement:
    base: dict[str, int | str] = {
        "addr": f"10.0.0.{inst}",
        "model_id": 1,
        "model_version": 1,
        "layer_first": 0,
        "layer_last": 2,
        "queue_len": 0,
        "utilisation": 0,
        "req_rate": 0,
        "capacity": 100,
    }
    base.update(kw)
    return Advertisement(instance_id=inst, **base)  # type: ignore[arg-type]


def test_first_advertisement_makes_an_instance_and_tells_listeners() -> None:
    clock = Clock()
    reg = NodeRegistry(0.5, clock=clock)
    events: list[tuple[str, int]] = []
    reg.add_listener(lambda e, i: events.append((e, i)))
    assert reg.update(_adv(1, switch="s1")) is True
    assert reg.update(_adv(1, switch="s2")) is False
    view = reg.get(1)
    assert view is not None
    assert (view.addr, view.adverts, view.seen_by) == ("10.0.0.1", 2, ("s1", "s2"))
    assert view.offer(1) is not None and view.offer(1).layer_last == 2  # type: ignore[union-attr]
    assert events == [("new", 1)]


def test_load_is_smoothed_and_the_last_values_kept() -> None:
    reg = NodeRegistry(0.5, clock=Clock(), smoothing=0.5)
    reg.update(_adv(queue_len=0, utilisation=0))
    reg.update(_adv(queue_len=10, utilisation=80))
    view = reg.get(1)
    assert view is not None
    assert (view.last.queue_len, view.last.utilisation) == (10, 80)
    assert (view.load.queue_len, view.load.utilisation) == (5, 40)


def test_models_and_stages_an_instance_serves() -> None:
    reg = NodeRegistry(0.5, clock=Clock())
    reg.update(_adv(model_id=1, layer_first=0, layer_last=2))
    reg.update(_adv(model_id=1, layer_last=255))  # its large model for escalations
    view = reg.get(1)
    assert view is not None
    assert view.serves(1, 0) and view.serves(1, 2) and not view.serves(1, 3)
    assert view.serves(1, 9, escalation=True)  # the large model takes any escalation
    assert not view.serves(2, 0)
    assert [m.large for m in view.models] == [False, True]


def test_silent_instances_expire_after_the_threshold() -> None:
    clock = Clock()
    reg = NodeRegistry(0.5, clock=clock)
    events: list[tuple[str, int]] = []
    reg.add_listener(lambda e, i: events.append((e, i)))
    reg.update(_adv(1))
    reg.update(_adv(2))
    clock.now += 0.4
    reg.update(_adv(2))
    assert reg.expire() == []
    clock.now += 0.2  # instance 1 silent for 0.6 s, instance 2 for 0.2 s
    assert reg.expire() == [1]
    assert [v.instance_id for v in reg.instances()] == [2]
    assert events[-1] == ("expired", 1)
    assert reg.update(_adv(1)) is True  # it came back: new again
    assert reg.expired_total == 1


def test_latency_samples_are_smoothed_and_reported() -> None:
    clock = Clock()
    reg = NodeRegistry(0.5, clock=clock)
    reg.observe_latency(1, 0.01)  # unknown instance: ignored
    reg.update(_adv(1))
    reg.observe_latency(1, 0.010)
    reg.observe_latency(1, 0.020)
    view = reg.get(1)
    assert view is not None and view.latency_s == pytest.approx(0.013)
    clock.now += 0.25
    (snap,) = reg.snapshot()
    assert snap["latency_ms"] == pytest.approx(13.0)
    assert snap["age_s"] == pytest.approx(0.25)
    assert snap["models"] == [{"model_id": 1, "model_version": 1, "layers": [0, 2], "large": False}]


def test_seen_recently_is_per_switch() -> None:
    clock = Clock()
    reg = NodeRegistry(1.0, clock=clock)
    reg.update(_adv(1, switch="s1"))
    clock.now += 0.1
    assert reg.seen_recently(1, "s1", 0.2)
    assert not reg.seen_recently(1, "s2", 0.2)
    clock.now += 0.2
    assert not reg.seen_recently(1, "s1", 0.2)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(SteeringError, match="stale threshold 0"):
        NodeRegistry(0)
    with pytest.raises(SteeringError, match="smoothing 2"):
        NodeRegistry(1, smoothing=2)
    reg = NodeRegistry(1)
    with pytest.raises(SteeringError, match="-1"):
        reg.observe_latency(1, -1)
