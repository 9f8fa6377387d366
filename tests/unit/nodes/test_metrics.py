"""Node metrics on a fake clock: utilisation window, service times, the EWMA rate."""

from __future__ import annotations

import pytest

from nodes.metrics import EWMA_ALPHA, Metrics


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_utilisation_is_the_busy_share_of_the_window() -> None:
    clock = Clock()
    m = Metrics(window_s=1.0, clock=clock)
    clock.now += 1.0
    started = m.begin_service(0.0)
    clock.now += 0.25
    assert m.utilisation() == pytest.approx(0.25)  # the request in service counts
    m.end_service(started)
    clock.now += 0.5
    assert m.utilisation() == pytest.approx(0.25)
    clock.now += 0.5  # the busy span has left the window
    assert m.utilisation() == pytest.approx(0.0)


def test_service_times_and_rate() -> None:
    clock = Clock()
    m = Metrics(window_s=1.0, clock=clock)
    for took in (0.01, 0.03):
        started = m.begin_service(0.002)
        clock.now += took
        m.end_service(started)
    snap = m.snapshot()
    assert snap["counts"] == {"served": 2}
    assert snap["service_ms"]["mean"] == pytest.approx(20.0)
    assert snap["service_ms"]["max"] == pytest.approx(30.0)
    assert m.service_ewma_s() == pytest.approx(0.01 + EWMA_ALPHA * 0.02)
    assert snap["queue_wait_ms"]["max"] == pytest.approx(2.0)
    # 2 requests in the 0.04 s since start: the first sample is taken as it is.
    assert m.sample_rate() == pytest.approx(50.0)
    clock.now += 1.0  # nothing served: the EWMA decays toward 0
    assert m.sample_rate() == pytest.approx(50.0 * (1 - EWMA_ALPHA))


def test_bad_reasons_and_queue_peak() -> None:
    m = Metrics()
    m.count_bad("short")
    m.count_bad("short")
    m.set_queue(5)
    m.set_queue(1)
    snap = m.snapshot()
    assert snap["bad"] == {"short": 2}
    assert snap["counts"]["bad"] == 2
    assert (snap["queue_len"], snap["queue_peak"]) == (1, 5)
    with pytest.raises(ValueError, match="window 0"):
        Metrics(window_s=0)
