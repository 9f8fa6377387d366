"""A node's live metrics: counters, service and queueing times, utilisation, request rate.

Thread safe (one lock): the receiver, the worker and the advertiser update
and read it concurrently. Imports the standard library only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

EWMA_ALPHA = 0.3  # weight of the newest sample in the smoothed figures
UTIL_WINDOW_S = 0.1  # utilisation is the busy share of this sliding window


class Metrics:
    """Counters and timings of one node."""

    def __init__(
        self,
        window_s: float = UTIL_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Start empty; ``window_s`` is the utilisation window."""
        if window_s <= 0:
            raise ValueError(f"utilisation window {window_s!r}: expected a positive number of s")
        self._lock = threading.Lock()
        self._clock = clock
        self._window = window_s
        self._started = clock()
        self.counts: Counter[str] = Counter()
        self.bad: Counter[str] = Counter()
        self.classes: Counter[str] = Counter()  # "model_id/class" of the answers served
        self.tenants: Counter[str] = Counter()  # "tenant/sensitivity" of the requests received
        self._spans: deque[tuple[float, float]] = deque()
        self._busy_since: float | None = None
        self._busy_total = 0.0
        self._service_ewma_s = 0.0
        self._service_max_s = 0.0
        self._service_sum_s = 0.0
        self._wait_ewma_s = 0.0
        self._wait_max_s = 0.0
        self._rate_ewma = 0.0
        self._rate_mark = (self._started, 0)
        self.queue_len = 0
        self.queue_peak = 0

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to the counter ``name``."""
        with self._lock:
            self.counts[name] += n

    def count_bad(self, reason: str) -> None:
        """Count a datagram refused for ``reason``."""
        with self._lock:
            self.bad[reason] += 1
            self.counts["bad"] += 1

    def count_class(self, model_id: int, result_class: int) -> None:
        """Count one answer of ``result_class`` for ``model_id`` (inference telemetry)."""
        with self._lock:
            self.classes[f"{model_id}/{result_class}"] += 1

    def count_tenant(self, tenant_id: int, sensitivity: int) -> None:
        """Count one request of ``tenant_id`` at ``sensitivity`` (policy telemetry)."""
        with self._lock:
            self.tenants[f"{tenant_id}/{sensitivity}"] += 1

    def set_queue(self, length: int) -> None:
        """Record the current queue length."""
        with self._lock:
            self.queue_len = length
            self.queue_peak = max(self.queue_peak, length)

    def begin_service(self, waited_s: float) -> float:
        """The worker starts a request that waited ``waited_s`` in the queue; returns now."""
        now = self._clock()
        with self._lock:
            self._busy_since = now
            self._wait_ewma_s = _ewma(self._wait_ewma_s, waited_s, self.counts["served"])
            self._wait_max_s = max(self._wait_max_s, waited_s)
        return now

    def end_service(self, started: float) -> float:
        """The worker finished the request begun at ``started``; returns its service time."""
        now = self._clock()
        took = max(0.0, now - started)
        with self._lock:
            self._busy_since = None
            self._busy_total += took
            self._spans.append((started, now))
            self._prune(now)
            self._service_ewma_s = _ewma(self._service_ewma_s, took, self.counts["served"])
            self._service_max_s = max(self._service_max_s, took)
            self._service_sum_s += took
            self.counts["served"] += 1
        return took

    def _prune(self, now: float) -> None:
        while self._spans and self._spans[0][1] < now - self._window:
            self._spans.popleft()

    def utilisation(self) -> float:
        """Busy share (0..1) of the last utilisation window, the request in service included."""
        now = self._clock()
        with self._lock:
            self._prune(now)
            start = max(now - self._window, self._started)
            span = now - start
            if span <= 0:
                return 0.0
            busy = sum(min(e, now) - max(s, start) for s, e in self._spans if e > start)
            if self._busy_since is not None:
                busy += now - max(self._busy_since, start)
        return max(0.0, min(1.0, busy / span))

    def service_ewma_s(self) -> float:
        """Smoothed service time per request in seconds (0 before the first one)."""
        with self._lock:
            return self._service_ewma_s

    def sample_rate(self) -> float:
        """Fold the requests served since the last call into the EWMA rate; return it."""
        now = self._clock()
        with self._lock:
            then, served_then = self._rate_mark
            elapsed = now - then
            if elapsed <= 0:
                return self._rate_ewma
            rate = (self.counts["served"] - served_then) / elapsed
            first = served_then == 0 and self._rate_ewma == 0.0
            self._rate_ewma = rate if first else _ewma(self._rate_ewma, rate, 1)
            self._rate_mark = (now, self.counts["served"])
            return self._rate_ewma

    def rate(self) -> float:
        """The smoothed rate of served requests per second, as last sampled."""
        with self._lock:
            return self._rate_ewma

    def snapshot(self) -> dict[str, Any]:
        """Every figure as plain JSON-ready values."""
        util = self.utilisation()
        with self._lock:
            served = self.counts["served"]
            uptime = self._clock() - self._started
            return {
                "uptime_s": round(uptime, 6),
                "counts": dict(sorted(self.counts.items())),
                "bad": dict(sorted(self.bad.items())),
                "classes": dict(sorted(self.classes.items())),
                "tenants": dict(sorted(self.tenants.items())),
                "queue_len": self.queue_len,
                "queue_peak": self.queue_peak,
                "utilisation": round(util, 4),
                "req_rate_ewma": round(self._rate_ewma, 3),
                "req_rate_mean": round(served / uptime, 3) if uptime > 0 else 0.0,
                "service_ms": {
                    "ewma": round(self._service_ewma_s * 1e3, 4),
                    "mean": round(self._service_sum_s / served * 1e3, 4) if served else 0.0,
                    "max": round(self._service_max_s * 1e3, 4),
                },
                "queue_wait_ms": {
                    "ewma": round(self._wait_ewma_s * 1e3, 4),
                    "max": round(self._wait_max_s * 1e3, 4),
                },
                "busy_s": round(self._busy_total, 6),
            }


def _ewma(old: float, sample: float, seen: int) -> float:
    # The first sample replaces the initial 0 instead of being diluted by it.
    return sample if seen == 0 else old + EWMA_ALPHA * (sample - old)
