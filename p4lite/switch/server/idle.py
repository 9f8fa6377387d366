"""Idle-timeout sweeps: a thread that asks the device for idle table entries.

The P4Runtime specification asks the server to notify the primary, with best
effort, when an entry with a TTL has not been hit for that long, and to notify
again one TTL later while the entry stays idle. The device's `sweep` does the
work and says when the next entry may age; this thread sleeps until then (at
least `MIN_INTERVAL`, the scanning interval the specification's sketch uses,
at most `MAX_INTERVAL`), or until a write sets a TTL and wakes it. A pipeline
without tables that support idle timeout never starts one. Imports only the
standard library.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)

# Seconds between sweeps: the shortest a TTL can effectively be, and the
# longest the thread sleeps when nothing is due.
MIN_INTERVAL = 0.01
MAX_INTERVAL = 1.0

SweepFn = Callable[[], float | None]


class IdleSweeper:
    """Runs `sweep() -> seconds until the next entry may age (None: no TTL)`."""

    def __init__(self, sweep: SweepFn, name: str = "p4rt-idle-timeout") -> None:
        self._sweep = sweep
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Start sweeping."""
        self._thread.start()

    def wake(self) -> None:
        """A TTL changed: sweep now and work out the next wake-up again."""
        self._wake.set()

    def close(self) -> None:
        """Stop the thread (it finishes a sweep under way)."""
        self._closed = True
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)

    def _run(self) -> None:
        while not self._closed:
            self._wake.clear()
            try:
                delay = self._sweep()
            except Exception:
                # A fault in one sweep must not end idle timeout for good.
                logger.exception("idle timeout: sweep failed")
                delay = None
            wait = MAX_INTERVAL if delay is None else min(max(delay, MIN_INTERVAL), MAX_INTERVAL)
            self._wake.wait(wait)
