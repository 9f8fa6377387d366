"""Latency samples in bounded windows, and their percentiles.

A :class:`LatencyBook` keeps the last ``window`` samples per key (for
example a service and an instance), plus the count and sum of every sample
ever recorded (what a Prometheus summary needs). Percentiles use the nearest
rank over the window. Thread safe. Imports the standard library only.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

QUANTILES = (0.5, 0.9, 0.99)
DEFAULT_WINDOW = 2048

K = TypeVar("K", bound=Hashable)


def percentile(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0..1) of sorted samples (NaN when there are none)."""
    if not 0 <= q <= 1:
        raise ValueError(f"quantile {q!r}: expected 0..1")
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """Percentiles over the window; count and sum over every sample."""

    count: int
    total_s: float
    window: int
    quantiles: tuple[tuple[float, float], ...]  # (q, seconds)
    max_s: float

    def to_dict(self) -> dict[str, float | int]:
        """JSON-ready, in milliseconds."""
        out: dict[str, float | int] = {"count": self.count, "window": self.window}
        for q, v in self.quantiles:
            out[f"p{round(q * 100):d}_ms"] = round(v * 1e3, 3)
        out["max_ms"] = round(self.max_s * 1e3, 3)
        out["mean_ms"] = round(self.total_s / self.count * 1e3, 3) if self.count else 0.0
        return out


class LatencyBook(Generic[K]):
    """Latency windows by key."""

    def __init__(
        self, window: int = DEFAULT_WINDOW, quantiles: Sequence[float] = QUANTILES
    ) -> None:
        """Keep the last ``window`` samples of each key."""
        if window < 1:
            raise ValueError(f"latency window {window!r}: expected >= 1")
        self.window = window
        self.quantiles = tuple(quantiles)
        self._lock = threading.Lock()
        self._samples: dict[K, deque[float]] = {}
        self._count: dict[K, int] = {}
        self._total: dict[K, float] = {}

    def record(self, key: K, seconds: float) -> None:
        """Add one sample (seconds, >= 0) under ``key``."""
        if seconds < 0 or math.isnan(seconds):
            raise ValueError(f"latency sample {seconds!r} s for {key!r}: expected >= 0")
        with self._lock:
            if key not in self._samples:
                self._samples[key] = deque(maxlen=self.window)
                self._count[key] = 0
                self._total[key] = 0.0
            self._samples[key].append(seconds)
            self._count[key] += 1
            self._total[key] += seconds

    def tracked(self) -> list[K]:
        """Every key with samples."""
        with self._lock:
            return list(self._samples)

    def summary(self, key: K) -> LatencySummary | None:
        """The key's summary, or None without samples."""
        with self._lock:
            window = self._samples.get(key)
            if not window:
                return None
            ordered = sorted(window)
            count, total = self._count[key], self._total[key]
        return LatencySummary(
            count,
            total,
            len(ordered),
            tuple((q, percentile(ordered, q)) for q in self.quantiles),
            ordered[-1],
        )
