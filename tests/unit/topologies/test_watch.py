"""The testbed's watchdog, on real processes: an exit is reported once, with its log's end."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from topologies.watch import Watchdog, Watched, how_it_ended, last_line

Spawn = Callable[[str, Path], subprocess.Popen[bytes]]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start ``python -c CODE`` logging to a file; whatever still runs is killed after."""
    started: list[subprocess.Popen[bytes]] = []

    def start(code: str, log_file: Path) -> subprocess.Popen[bytes]:
        with log_file.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-c", code], stdout=out, stderr=subprocess.STDOUT
            )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def test_an_exit_is_reported_once_with_its_code_pid_and_log(tmp_path: Path, spawn: Spawn) -> None:
    crash_log, calm_log = tmp_path / "s2.log", tmp_path / "c1-node.log"
    crash = spawn("import sys; print('loading'); print('fatal: bad pipeline'); sys.exit(3)",
                  crash_log)  # fmt: skip
    calm = spawn("import time; time.sleep(30)", calm_log)
    dog = Watchdog(lambda: [Watched("switch s2", crash, crash_log),
                            Watched("inference node on c1", calm, calm_log)])  # fmt: skip
    crash.wait(timeout=30)
    lines = dog.check()
    assert lines == [
        f"error: switch s2 exited with code 3 (pid {crash.pid}); its log {crash_log} "
        "ends: fatal: bad pipeline"
    ]
    assert dog.check() == []  # once
    calm.kill()
    calm.wait(timeout=30)
    killed = f"error: inference node on c1 killed by SIGKILL (pid {calm.pid}); its log {calm_log}"
    assert dog.check() == [killed]
    assert dog.reported == [*lines, killed]


def test_the_thread_reports_through_the_callback(tmp_path: Path, spawn: Spawn) -> None:
    log_file = tmp_path / "s1.log"
    proc = spawn("import time; time.sleep(0.3)", log_file)
    said: list[str] = []
    with Watchdog(lambda: [Watched("switch s1", proc, None)], said.append, interval=0.05):
        deadline = time.monotonic() + 30
        while not said:
            assert time.monotonic() < deadline, "no report"
            time.sleep(0.05)
    assert said == [f"error: switch s1 exited with code 0 (pid {proc.pid})"]


def test_an_end_on_purpose_is_not_reported_even_if_listed_before(
    tmp_path: Path, spawn: Spawn
) -> None:
    proc = spawn("import time; time.sleep(30)", tmp_path / "e1-node.log")
    on_purpose: set[str] = set()
    listed = [Watched("inference node on e1", proc, None, lambda: "e1" not in on_purpose)]
    dog = Watchdog(lambda: listed)
    assert dog.check() == []
    on_purpose.add("e1")  # as din_kill does, before it kills
    proc.kill()
    proc.wait(timeout=30)
    assert dog.check() == [] and dog.reported == []


def test_an_end_in_the_last_moment_is_reported_on_exit(tmp_path: Path, spawn: Spawn) -> None:
    proc = spawn("import time; time.sleep(30)", tmp_path / "s3.log")
    said: list[str] = []
    with Watchdog(lambda: [Watched("switch s3", proc, None)], said.append, interval=60):
        time.sleep(0.1)  # the thread's first pass is a minute away
        proc.kill()
        proc.wait(timeout=30)
    assert said == [f"error: switch s3 killed by SIGKILL (pid {proc.pid})"]


def test_endings_and_log_tails(tmp_path: Path) -> None:
    assert how_it_ended(-9) == "killed by SIGKILL"
    assert how_it_ended(-15) == "killed by SIGTERM"
    assert how_it_ended(1) == "exited with code 1"
    assert how_it_ended(-200) == "killed by signal 200"
    empty = tmp_path / "empty.log"
    empty.write_text("\n\n", encoding="utf-8")
    assert last_line(empty) is None
    assert last_line(tmp_path / "missing.log") is None
    long = tmp_path / "long.log"
    long.write_text("x" * 10_000 + "\nlast words\n  \n", encoding="utf-8")
    assert last_line(long) == "last words"
