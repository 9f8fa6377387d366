"""`make run` and `make stop`, as the README gives them: the enterprise testbed on Mininet."""

from __future__ import annotations

import os
import re
import selectors
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.mininet, pytest.mark.root, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def _make_argv(tmp_path: Path, *extra: str) -> list[str]:
    return [
        "make",
        "--no-print-directory",
        "-C",
        str(REPO),
        "run",
        f"BUILD_DIR={tmp_path / 'build'}",
        f"LOG_DIR={tmp_path / 'logs'}",
        *extra,
    ]


def _env() -> dict[str, str]:
    # The toolchain is chosen as on a user's machine (p4lite here).
    return {k: v for k, v in os.environ.items() if k not in {"P4C", "SWITCH"}}


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_make_run_check_scenario_pings_every_host(tmp_path: Path) -> None:
    result = subprocess.run(
        _make_argv(tmp_path, "SCENARIO=check"),
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "DIN testbed 'enterprise': 3 switches" in output
    assert re.search(r"s2\s+in-network\s+gRPC 127\.0\.0\.1:50052", output), output
    assert "*** Results: 0% dropped (42/42 received)" in output
    for host in ("e1", "c1", "c2"):
        assert f"inference node on {host}: pid" in output
        # Partitioned-inference requests from a client reach each node and come back right.
        assert f"requests h1 -> {host}: 50/50 answered, 50/50 as the integer reference" in output
        assert (tmp_path / "logs" / f"{host}-node.log").is_file()
    for switch in ("s1", "s2", "s3"):
        assert (tmp_path / "logs" / f"{switch}.log").is_file()
    assert not any(_port_open(p) for p in (50051, 50052, 50053))


def test_make_run_opens_the_mininet_cli_and_leaves_on_eof(tmp_path: Path) -> None:
    result = subprocess.run(
        _make_argv(tmp_path),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "pipelines and routes installed" in output
    assert "Traceback" not in output
    assert not (tmp_path / "logs" / "launcher.pids").exists()


def test_make_stop_stops_a_running_testbed(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        _make_argv(tmp_path),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=_env(),
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        seen = ""
        deadline = time.monotonic() + 120
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while "pipelines and routes installed" not in seen:
                assert time.monotonic() < deadline, seen
                assert proc.poll() is None, seen
                # Raw reads: a buffered readline could hold lines the selector cannot see.
                if sel.select(timeout=1):
                    seen += os.read(proc.stdout.fileno(), 65536).decode(errors="replace")
        assert (tmp_path / "logs" / "launcher.pids").is_file()
        stop = subprocess.run(
            [
                "make",
                "--no-print-directory",
                "-C",
                str(REPO),
                "stop",
                f"LOG_DIR={tmp_path / 'logs'}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert stop.returncode == 0, stop.stdout + stop.stderr
        assert "stopped 1 process(es)" in stop.stdout
        proc.wait(timeout=60)
        assert not any(_port_open(p) for p in (50051, 50052, 50053))
    finally:
        if proc.poll() is None:
            # SIGTERM lets the launcher stop its switches; SIGKILL only if it will not.
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
