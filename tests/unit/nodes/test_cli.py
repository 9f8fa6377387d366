"""``python -m nodes`` as a process: ready line, a round trip, SIGUSR1 and SIGTERM, bad input."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nodes.__main__ import build_parser, load_catalog
from nodes.catalog import ModelSpec, NodeError
from traffic.wire import STAGE_DONE

STOP_S = 10.0


@pytest.fixture
def node_process(models: Any, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    metrics = tmp_path / "metrics.json"
    cmd = [
        sys.executable,
        "-m",
        "nodes",
        "--instance-id",
        "4",
        "--model",
        f"1={models.paths['small']}",
        "--escalation-model",
        str(models.paths["large"]),
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--log-file",
        str(tmp_path / "node.log"),
        "--metrics-file",
        str(metrics),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield proc, metrics
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=STOP_S)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_node_process_serves_dumps_metrics_and_stops_on_sigterm(
    node_process: tuple[subprocess.Popen[str], Path], client: Any
) -> None:
    proc, metrics_file = node_process
    assert proc.stdout is not None
    ready = proc.stdout.readline().split()
    assert ready[0] == "ready", ready
    host, port = ready[1].rsplit(":", 1)

    class Address:
        address = (host, int(port))

    answer = client.ask(Address(), [9] * 16, request_id=77)
    assert answer.header.stage == STAGE_DONE
    assert answer.header.request_id == 77
    assert answer.header.instance_id == 4

    os.kill(proc.pid, signal.SIGUSR1)
    dumped = json.loads(proc.stdout.readline())
    assert dumped["instance_id"] == 4
    assert dumped["counts"]["served"] == 1
    assert proc.poll() is None  # SIGUSR1 only dumps

    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=STOP_S) == 0
    final = json.loads(proc.stdout.readline())
    assert final["counts"]["answered"] == 1
    assert json.loads(metrics_file.read_text()) == final


def test_a_bad_model_file_exits_2_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"not a zip")
    result = subprocess.run(
        [sys.executable, "-m", "nodes", "--instance-id", "1", "--model", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "broken.npz" in result.stderr


def test_model_specs_and_default_ids(models: Any) -> None:
    assert ModelSpec.parse("3=/x/m.npz") == ModelSpec(Path("/x/m.npz"), 3)
    assert ModelSpec.parse("/x/a=b.npz") == ModelSpec(Path("/x/a=b.npz"))
    with pytest.raises(NodeError, match=r"'0=m\.npz'"):
        ModelSpec.parse("0=m.npz")
    catalog = load_catalog(
        [str(models.paths["small"]), f"9={models.paths['shared']}"], str(models.paths["large"])
    )
    assert catalog.lookup(1, 0) is not None
    assert catalog.lookup(9, models.shared.version) is not None
    assert catalog.lookup(9, 1) is None
    large = catalog.escalation(1)
    assert large is not None
    assert large.model.name == "large"
    with pytest.raises(NodeError, match="no model"):
        load_catalog([], None)


def test_version_zero_picks_the_highest_version(models: Any) -> None:
    catalog = load_catalog([f"2={models.paths['small']}", f"2={models.paths['shared']}"], None)
    chosen = catalog.lookup(2, 0)
    assert chosen is not None
    assert chosen.version == max(models.small.version, models.shared.version)
    with pytest.raises(NodeError, match="served twice"):
        load_catalog([f"2={models.paths['small']}", f"2={models.paths['small']}"], None)


def test_parser_requires_an_instance_id() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args([])
    args = build_parser().parse_args(["--instance-id", "3", "--advertise-interval", "250"])
    assert (args.instance_id, args.advertise_interval) == (3, 250.0)


def test_a_port_in_use_exits_1_naming_it(models: Any) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable, "-m", "nodes", "--instance-id", "1",
                "--model", str(models.paths["small"]),
                "--bind", "127.0.0.1", "--port", str(port),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )  # fmt: skip
    assert result.returncode == 1
    assert f"'127.0.0.1':{port}" in result.stderr
    assert "ready" not in result.stdout
