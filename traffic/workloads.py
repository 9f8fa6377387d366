"""Seeded generators of per-flow packet traces for the DIN workload classes.

A trace is a list of (timestamp in seconds from the flow's start, frame bytes)
pairs, sorted by time, for one direction of one flow. Frame bytes are Ethernet
frame lengths without FCS, 60..1514. Generators draw from numpy's PCG64 with
the given seed only, so a (workload, duration, seed) triple always gives the
same trace. Imports numpy, traffic.frames and traffic.wire.

Distributions (U = uniform, N = normal, Exp = exponential, LN = lognormal
with the given median and sigma of the log):

llm_chat (server to client, TCP 443): turns of a token-streamed reply. Time to
    first token U(0.15, 0.8) s; chunks per reply LN(120, 0.6) clipped 5..1500;
    gap between chunks Gamma(k=4, theta=10 ms) (mean 40 ms); chunk frames
    U{90..260} B; think time before the next turn Exp(mean 6 s).
video_upload (camera to analytics, UDP 5004): frames at a per-flow rate of
    10, 15 or 30 fps, frame k at k/fps + N(0, 0.5 ms); every 30th frame is a
    key frame of LN(60 kB, 0.2) bytes, others LN(12 kB, 0.35); each video
    frame leaves as back-to-back 1514-B packets 20 us apart, the last one
    carrying the remainder.
iot_sensor (device to gateway, UDP 5683): a per-flow period U(1, 10) s,
    reading i at i*period + U(-5 %, +5 %) of the period; frames U{60..120} B;
    with probability 0.05 a reading is an alarm burst of U{3..6} frames 5 ms
    apart.
industrial_control (PLC cyclic I/O, UDP 2222): a per-flow period of 1, 2, 4
    or 10 ms, jitter N(0, 10 us) clipped to +-50 us; one fixed frame size per
    flow U{64..128} B.
web (server to client, TCP 80): ON/OFF. OFF Exp(mean 2 s); an ON period sends
    one page of LN(300 kB, 1.0) bytes clipped 2 kB..10 MB as 1514-B frames
    (last one the remainder) with gaps Exp(mean 150 us).
bulk (TCP 5001): 1514-B frames at a per-flow rate U(20, 80) Mbit/s, each gap
    the frame time at that rate times U(0.9, 1.1).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from traffic.frames import MAX_FRAME, MIN_FRAME, PROTO_TCP, PROTO_UDP, Endpoints, frame_of_size

logger = logging.getLogger(__name__)

Trace = list[tuple[float, int]]
_Arrays = tuple[np.ndarray, np.ndarray]

_MTU_FRAME = MAX_FRAME
_MTU_PAYLOAD = MAX_FRAME - 42  # bytes of application data per full UDP frame


@dataclass(frozen=True, slots=True)
class Workload:
    """A workload: its name, transport, server port and the flow class it belongs to.

    ``flow_class`` is the class name a flow classifier should give it (the
    classes of ``controller.models.synthetic.FLOW_CLASSES``; web and bulk are
    both ``background``).
    """

    name: str
    protocol: int
    server_port: int
    flow_class: str
    description: str


def _split_bytes(total: np.ndarray) -> np.ndarray:
    """Frames needed to carry each element of `total` application bytes."""
    return np.maximum(1, np.ceil(total / _MTU_PAYLOAD)).astype(np.int64)


def _burst_frames(starts: np.ndarray, totals: np.ndarray, gap: np.ndarray | float) -> _Arrays:
    """Times and sizes of MTU frame bursts: burst i starts at starts[i], carries totals[i] B."""
    counts = _split_bytes(totals)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    idx = np.arange(int(counts.sum())) - first
    times = np.repeat(starts, counts) + idx * gap
    sizes = np.full(times.shape, _MTU_FRAME, dtype=np.int64)
    last = np.cumsum(counts) - 1
    remainder = totals - (counts - 1) * _MTU_PAYLOAD
    sizes[last] = np.clip(remainder + 42, MIN_FRAME, MAX_FRAME).astype(np.int64)
    return times, sizes


def _llm_chat(rng: np.random.Generator, duration: float) -> _Arrays:
    times: list[np.ndarray] = []
    sizes: list[np.ndarray] = []
    t = 0.0
    while t < duration:
        t += rng.uniform(0.15, 0.8)
        chunks = int(np.clip(rng.lognormal(np.log(120), 0.6), 5, 1500))
        gaps = rng.gamma(4.0, 0.010, size=chunks)
        gaps[0] = 0.0
        stamps = t + np.cumsum(gaps)
        times.append(stamps)
        sizes.append(rng.integers(90, 261, size=chunks))
        t = float(stamps[-1]) + rng.exponential(6.0)
    return np.concatenate(times), np.concatenate(sizes)


def _video_upload(rng: np.random.Generator, duration: float) -> _Arrays:
    fps = float(rng.choice([10.0, 15.0, 30.0]))
    n = int(np.ceil(duration * fps))
    starts = np.arange(n) / fps + rng.normal(0.0, 0.0005, size=n)
    key = (np.arange(n) % 30) == 0
    totals = np.where(
        key,
        rng.lognormal(np.log(60_000), 0.2, size=n),
        rng.lognormal(np.log(12_000), 0.35, size=n),
    ).astype(np.int64)
    return _burst_frames(np.maximum(starts, 0.0), totals, 20e-6)


def _iot_sensor(rng: np.random.Generator, duration: float) -> _Arrays:
    period = rng.uniform(1.0, 10.0)
    n = int(np.ceil(duration / period)) + 1
    base = np.arange(n) * period + rng.uniform(-0.05, 0.05, size=n) * period
    base = np.maximum(base, 0.0)
    burst = np.where(rng.random(n) < 0.05, rng.integers(3, 7, size=n), 1)
    offsets = np.arange(int(burst.sum())) - np.repeat(np.cumsum(burst) - burst, burst)
    times = np.repeat(base, burst) + offsets * 0.005
    sizes = rng.integers(60, 121, size=times.shape[0])
    return times, sizes


def _industrial_control(rng: np.random.Generator, duration: float) -> _Arrays:
    period = float(rng.choice([0.001, 0.002, 0.004, 0.010]))
    n = int(np.ceil(duration / period))
    jitter = np.clip(rng.normal(0.0, 10e-6, size=n), -50e-6, 50e-6)
    times = np.maximum(np.arange(n) * period + jitter, 0.0)
    size = int(rng.integers(64, 129))
    return times, np.full(n, size, dtype=np.int64)


def _web(rng: np.random.Generator, duration: float) -> _Arrays:
    times: list[np.ndarray] = []
    sizes: list[np.ndarray] = []
    t = 0.0
    while t < duration:
        t += rng.exponential(2.0)
        total = int(np.clip(rng.lognormal(np.log(300_000), 1.0), 2_000, 10_000_000))
        count = int(_split_bytes(np.array([total]))[0])
        stamps = t + np.cumsum(rng.exponential(150e-6, size=count))
        frame_sizes = np.full(count, _MTU_FRAME, dtype=np.int64)
        tail = total - (count - 1) * _MTU_PAYLOAD + 42
        frame_sizes[-1] = int(np.clip(tail, MIN_FRAME, MAX_FRAME))
        times.append(stamps)
        sizes.append(frame_sizes)
        t = float(stamps[-1])
    return np.concatenate(times), np.concatenate(sizes)


def _bulk(rng: np.random.Generator, duration: float) -> _Arrays:
    rate = rng.uniform(20e6, 80e6)
    frame_time = _MTU_FRAME * 8 / rate
    n = int(np.ceil(duration / frame_time))
    gaps = frame_time * rng.uniform(0.9, 1.1, size=n)
    gaps[0] = 0.0
    return np.cumsum(gaps), np.full(n, _MTU_FRAME, dtype=np.int64)


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload(
            "llm_chat", PROTO_TCP, 443, "llm_chat", "interactive LLM chat, token-streamed replies"
        ),
        Workload("video_upload", PROTO_UDP, 5004, "video_upload", "video-analytics frame uploads"),
        Workload("iot_sensor", PROTO_UDP, 5683, "iot_sensor", "IoT sensor inference"),
        Workload(
            "industrial_control", PROTO_UDP, 2222, "industrial_control", "industrial control loop"
        ),
        Workload("web", PROTO_TCP, 80, "background", "background web browsing"),
        Workload("bulk", PROTO_TCP, 5001, "background", "background bulk transfer"),
    )
}

_GENERATORS: dict[str, Callable[[np.random.Generator, float], _Arrays]] = {
    "llm_chat": _llm_chat,
    "video_upload": _video_upload,
    "iot_sensor": _iot_sensor,
    "industrial_control": _industrial_control,
    "web": _web,
    "bulk": _bulk,
}


def generate(workload: str, duration: float, seed: int) -> Trace:
    """The trace of one flow of `workload` over `duration` seconds, from `seed`."""
    gen = _GENERATORS.get(workload)
    if gen is None:
        raise ValueError(f"workload {workload!r}: expected one of {sorted(_GENERATORS)}")
    if not duration > 0:
        raise ValueError(f"duration {duration!r}: expected a positive number of seconds")
    rng = np.random.default_rng(seed)
    times, sizes = gen(rng, float(duration))
    order = np.argsort(times, kind="stable")
    times, sizes = times[order], sizes[order]
    keep = times < duration
    sizes = np.clip(sizes[keep], MIN_FRAME, MAX_FRAME)
    return list(zip(times[keep].tolist(), sizes.astype(np.int64).tolist(), strict=True))


def build_frames(workload: str, trace: Trace, endpoints: Endpoints) -> list[bytes]:
    """Raw frames for `trace` between `endpoints` (one frame built per distinct size)."""
    info = WORKLOADS.get(workload)
    if info is None:
        raise ValueError(f"workload {workload!r}: expected one of {sorted(WORKLOADS)}")
    cache: dict[int, bytes] = {}
    frames = []
    for _t, size in trace:
        frame = cache.get(size)
        if frame is None:
            frame = cache[size] = frame_of_size(endpoints, size, info.protocol)
        frames.append(frame)
    return frames


@dataclass(frozen=True, slots=True)
class MixedPacket:
    """One packet of a mix: when, which flow (index into the mix's flows), how big."""

    time: float
    flow: int
    size: int


def mix(flows: list[str], duration: float, seed: int) -> list[MixedPacket]:
    """Packets of several concurrent flows (one per name in `flows`), merged by time.

    Flow i uses seed `seed * 1000 + i`, so adding a flow leaves the others unchanged.
    """
    merged = [
        MixedPacket(t, i, size)
        for i, name in enumerate(flows)
        for t, size in generate(name, duration, seed * 1000 + i)
    ]
    merged.sort(key=lambda p: (p.time, p.flow))
    return merged
