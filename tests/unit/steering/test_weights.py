"""controller.steering.weights: scores, integer weights, overload marks, hysteresis."""

from __future__ import annotations

import pytest

from controller.steering.errors import SteeringError
from controller.steering.registry import Load
from controller.steering.weights import (
    Candidate,
    WeightConfig,
    WeightState,
    decide,
    scores,
    shares,
    to_integers,
)

CFG = WeightConfig(slots=16, hysteresis=0.1, hold_s=1.0)


def _c(inst: int, cap: float = 1000, queue: float = 0, util: float = 0, rate: float = 0,
       latency: float | None = None) -> Candidate:  # fmt: skip
    return Candidate(inst, Load(queue, util, rate, cap), latency)


def test_weights_follow_capacity_when_idle() -> None:
    d = decide(WeightState(), [_c(1, 100), _c(2, 200), _c(3, 400)], 0.0, CFG)
    assert d.changed
    assert dict(d.weights) == {1: 2, 2: 5, 3: 9}
    assert sum(w for _, w in d.weights) == 16


def test_integer_weights_sum_to_the_slots_each_at_least_one() -> None:
    assert to_integers({1: 1.0, 2: 1.0, 3: 1.0}, 16) == {1: 6, 2: 5, 3: 5}
    assert to_integers({1: 1000.0, 2: 0.001}, 16) == {1: 15, 2: 1}
    assert to_integers(dict.fromkeys(range(1, 21), 1.0), 16) == dict.fromkeys(range(1, 21), 1)
    assert to_integers({1: 0.0, 2: 0.0}, 4) == {1: 2, 2: 2}
    assert to_integers({}, 16) == {}
    # Never above 16 copies per instance: the entries layer's limit.
    assert to_integers({1: 1.0}, 64) == {1: 16}
    with pytest.raises(SteeringError, match="non-negative"):
        to_integers({1: -1.0}, 4)


def test_queue_and_latency_lower_the_share() -> None:
    idle, queued = scores([_c(1), _c(2, queue=50)], CFG).values()
    assert queued < idle / 5
    near, far = scores([_c(1, latency=0.001), _c(2, latency=0.041)], CFG).values()
    # (best + 5 ms) / (own + 5 ms): 6 / 46 of the weight
    assert far / near == pytest.approx(6 / 46)
    busy, free = scores([_c(1, util=100), _c(2, util=0)], CFG).values()
    assert busy / free == pytest.approx(0.5)
    limited, _ = scores([_c(1, cap=100, rate=100), _c(2, cap=100)], CFG).values()
    assert limited == pytest.approx(50)


def test_small_changes_keep_the_programmed_weights() -> None:
    first = decide(WeightState(), [_c(1), _c(2)], 0.0, CFG)
    state = first.state(WeightState(), 0.0)
    assert dict(state.weights) == {1: 8, 2: 8}
    # Instance 2 a little busier: its share would move by 1/16 < 0.1.
    d = decide(state, [_c(1), _c(2, util=20)], 5.0, CFG)
    assert not d.changed and d.weights == state.weights
    # Much busier: the share moves by more than the hysteresis.
    d = decide(state, [_c(1), _c(2, queue=10)], 5.0, CFG)
    assert d.changed and dict(d.weights)[2] < 6
    assert "rebalance" in d.reason


def test_a_rebalance_waits_for_the_hold_time_but_membership_does_not() -> None:
    state = decide(WeightState(), [_c(1), _c(2)], 0.0, CFG).state(WeightState(), 10.0)
    d = decide(state, [_c(1), _c(2, queue=10)], 10.5, CFG)
    assert not d.changed  # 0.5 s after the last change < hold 1 s
    d = decide(state, [_c(1), _c(2), _c(3)], 10.5, CFG)
    assert d.changed and "added [3]" in d.reason
    d = decide(state, [_c(1)], 10.5, CFG)
    assert d.changed and d.weights == ((1, 16),) and "removed [2]" in d.reason
    d = decide(state, [], 10.5, CFG)
    assert d.changed and d.weights == ()


def test_overload_moves_the_share_until_recovery_below_the_low_marks() -> None:
    state = decide(WeightState(), [_c(1), _c(2)], 0.0, CFG).state(WeightState(), 0.0)
    d = decide(state, [_c(1), _c(2, queue=40)], 5.0, CFG)
    assert d.changed and d.weights == ((1, 16),) and d.overloaded == {2}
    assert "overloaded [2]" in d.reason
    state = d.state(state, 5.0)
    # Between the marks: still overloaded (no flapping).
    d = decide(state, [_c(1), _c(2, queue=20, util=85)], 6.0, CFG)
    assert not d.changed and d.overloaded == {2}
    # Below both low marks: back in the group.
    d = decide(state, [_c(1), _c(2, queue=2, util=50)], 7.0, CFG)
    assert d.changed and {i for i, _ in d.weights} == {1, 2} and "recovered [2]" in d.reason


def test_all_overloaded_keeps_everyone() -> None:
    d = decide(WeightState(), [_c(1, util=99), _c(2, util=99)], 0.0, CFG)
    assert {i for i, _ in d.weights} == {1, 2}
    assert d.overloaded == {1, 2} and "all overloaded" in d.reason


def test_shares_and_config_checks() -> None:
    assert shares(((1, 1), (2, 3))) == {1: 0.25, 2: 0.75}
    assert shares(()) == {}
    with pytest.raises(SteeringError, match="recover queue 40"):
        WeightConfig(overload_queue=32, recover_queue=40)
    with pytest.raises(SteeringError, match="slots 0"):
        WeightConfig(slots=0)
    with pytest.raises(SteeringError, match="hysteresis 1"):
        WeightConfig(hysteresis=1)
