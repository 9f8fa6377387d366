"""Workload generators: determinism and the documented distributions."""

from __future__ import annotations

import numpy as np
import pytest

from controller.models.synthetic import FLOW_CLASSES
from traffic.frames import Endpoints, parse_frame
from traffic.workloads import WORKLOADS, build_frames, generate, mix

EP = Endpoints("00:00:0a:00:01:01", "00:00:0a:00:02:02", "10.0.1.1", "10.0.2.2", 40000, 1)


def _arrays(workload: str, duration: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    trace = generate(workload, duration, seed)
    return np.array([t for t, _ in trace]), np.array([s for _, s in trace])


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_same_seed_same_trace_other_seed_other_trace(workload: str) -> None:
    a = generate(workload, 20.0, 7)
    assert a == generate(workload, 20.0, 7)
    assert a != generate(workload, 20.0, 8)


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_traces_are_sorted_bounded_and_sized(workload: str) -> None:
    times, sizes = _arrays(workload, 30.0, 3)
    assert len(times) > 0
    assert np.all(np.diff(times) >= 0)
    assert times[0] >= 0 and times[-1] < 30.0
    assert sizes.min() >= 60 and sizes.max() <= 1514


def test_industrial_control_keeps_a_strict_period() -> None:
    for seed in range(5):
        times, sizes = _arrays("industrial_control", 2.0, seed)
        gaps = np.diff(times)
        period = float(np.median(gaps))
        assert min(abs(period - p) for p in (0.001, 0.002, 0.004, 0.010)) < 1e-5
        assert np.all(np.abs(gaps - period) <= 100e-6)
        assert len(set(sizes.tolist())) == 1
        assert 64 <= sizes[0] <= 128


def test_iot_sensor_is_sparse_and_small() -> None:
    times, sizes = _arrays("iot_sensor", 600.0, 1)
    assert sizes.min() >= 60 and sizes.max() <= 120
    # Periods are 1..10 s, bursts add at most 5 frames a reading.
    assert 60 <= len(times) <= 600 * 6


def test_video_upload_bursts_at_a_frame_rate() -> None:
    times, sizes = _arrays("video_upload", 10.0, 2)
    starts = times[np.concatenate(([True], np.diff(times) > 0.005))]
    fps = len(starts) / 10.0
    assert min(abs(fps - f) for f in (10, 15, 30)) < 1.0
    assert np.mean(sizes == 1514) > 0.8
    # Mean bytes per video frame: 29 of 30 around 12 kB, 1 of 30 around 60 kB.
    per_frame = sizes.sum() / len(starts)
    assert 10_000 < per_frame < 20_000


def test_llm_chat_streams_small_chunks_about_40ms_apart() -> None:
    times, sizes = _arrays("llm_chat", 300.0, 4)
    assert sizes.min() >= 90 and sizes.max() <= 260
    gaps = np.diff(times)
    inside = gaps[gaps < 0.15]
    assert 0.030 < float(np.mean(inside)) < 0.045
    # Think times of seconds separate the replies.
    assert np.sum(gaps > 1.0) >= 5


def test_bulk_rate_is_within_20_to_80_mbits() -> None:
    times, sizes = _arrays("bulk", 2.0, 5)
    assert set(sizes.tolist()) == {1514}
    rate = sizes.sum() * 8 / (times[-1] - times[0])
    assert 19e6 < rate < 81e6


def test_web_alternates_pages_and_silence() -> None:
    times, sizes = _arrays("web", 120.0, 6)
    assert np.mean(sizes == 1514) > 0.5
    assert np.sum(np.diff(times) > 0.5) >= 10


def test_unknown_workload_and_bad_duration() -> None:
    with pytest.raises(ValueError, match="workload 'chat'"):
        generate("chat", 1.0, 0)
    with pytest.raises(ValueError, match="duration 0"):
        generate("bulk", 0, 0)


def test_build_frames_follows_the_trace() -> None:
    trace = generate("llm_chat", 20.0, 1)
    frames = build_frames("llm_chat", trace, EP)
    assert [len(f) for f in frames] == [s for _, s in trace]
    assert parse_frame(frames[0]).protocol == 6


def test_mix_merges_flows_in_time_order_and_keeps_each_flow() -> None:
    names = ["iot_sensor", "industrial_control", "llm_chat"]
    packets = mix(names, 5.0, 3)
    assert [p.time for p in packets] == sorted(p.time for p in packets)
    for i, name in enumerate(names):
        own = [(p.time, p.size) for p in packets if p.flow == i]
        assert own == generate(name, 5.0, 3000 + i)
    assert mix(names[:2], 5.0, 3) == [p for p in packets if p.flow < 2]


def test_every_workload_names_a_class_of_the_flow_classifier() -> None:
    assert {w.flow_class for w in WORKLOADS.values()} == set(FLOW_CLASSES)
