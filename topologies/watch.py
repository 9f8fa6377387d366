"""Watches the testbed's processes: a switch or node that exits on its own is said at once.

``Watchdog`` polls the processes a callable lists (``Watched``: a label, the
``Popen``, its log file) every ``interval`` seconds in a thread, and reports
each one that has exited, once, in a single plain line: what it was, how it
ended (exit code or signal), its PID and the last line of its log. The
launcher runs one over the switch processes and the inference nodes while a
scenario runs (``Testbed.watched``: nodes killed on purpose with
``din_kill`` are left out, even when the kill comes between the listing and
the look at the process); the rest of the testbed keeps running until the
scenario ends, when everything is stopped as usual.

Imports the standard library only.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

WATCH_INTERVAL_S = 0.5
LOG_TAIL_BYTES = 4096


@dataclass(frozen=True, slots=True)
class Watched:
    """A process to watch: ``label`` says what it is ("switch s2", "inference node on c1")."""

    label: str
    process: subprocess.Popen[Any]
    log_file: Path | None = None
    # False once the process may end on purpose (asked after it has ended).
    watched: Callable[[], bool] = lambda: True


def how_it_ended(returncode: int) -> str:
    """``exited with code 3`` or ``killed by SIGKILL`` (Popen's negative codes are signals)."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    return f"exited with code {returncode}"


def last_line(path: Path | None) -> str | None:
    """The last non-empty line of a log file, or None (no file, or nothing in it)."""
    if path is None:
        return None
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - LOG_TAIL_BYTES))
            tail = f.read().decode(errors="replace")
    except OSError:
        return None
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    return lines[-1] if lines else None


def report_line(item: Watched, returncode: int) -> str:
    """The one line that says ``item`` ended."""
    text = f"error: {item.label} {how_it_ended(returncode)} (pid {item.process.pid})"
    if item.log_file is not None:
        text += f"; its log {item.log_file}"
        tail = last_line(item.log_file)
        if tail is not None:
            text += f" ends: {tail}"
    return text


def _stderr(line: str) -> None:
    print(f"\n{line}", file=sys.stderr, flush=True)


class Watchdog:
    """Reports each listed process that has ended, once, from a thread (or by ``check``)."""

    def __init__(
        self,
        watched: Callable[[], Sequence[Watched]],
        report: Callable[[str], None] = _stderr,
        interval: float = WATCH_INTERVAL_S,
    ) -> None:
        """Watch what ``watched`` lists at each pass; ``report`` gets each line."""
        self._watched = watched
        self._report = report
        self.interval = interval
        self.reported: list[str] = []
        self._seen: set[int] = set()  # PIDs already reported
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> list[str]:
        """One pass: the lines of the processes found ended since the last pass."""
        lines = []
        for item in self._watched():
            code = item.process.poll()
            if code is None or item.process.pid in self._seen or not item.watched():
                continue
            self._seen.add(item.process.pid)
            line = report_line(item, code)
            log.debug("%s", line)
            lines.append(line)
        self.reported += lines
        return lines

    def __enter__(self) -> Watchdog:
        """Start watching in a thread."""
        self._thread = threading.Thread(target=self._run, name="din-watchdog", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop watching, with a last pass (before the processes are stopped on purpose)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        for line in self.check():
            self._report(line)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                for line in self.check():
                    self._report(line)
            except Exception:
                # The watchdog must never take the testbed down with it.
                log.exception("watchdog pass failed")
