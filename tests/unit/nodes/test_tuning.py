"""A running node's pace changes (tune(), and din-node --tuning FILE with SIGHUP), and its
requests are counted per tenant and sensitivity and logged with the tenant."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from nodes.__main__ import load_tuning
from nodes.catalog import NodeError

STOP_S = 10.0


def _service_ms(node: Any, client: Any, request_id: int) -> float:
    start = time.monotonic()
    client.ask(node, [3] * 16, request_id=request_id)
    return (time.monotonic() - start) * 1e3


def test_tune_slows_and_speeds_up_a_running_node(start_node: Any, client: Any) -> None:
    node = start_node()
    assert _service_ms(node, client, 1) < 20
    node.tune(delay_ms=40)
    assert node.pace == (0.04, 0.0)
    assert _service_ms(node, client, 2) >= 40
    assert node.capacity() <= 25
    node.tune(delay_ms=0, service_rate=10)
    assert node.pace == (0.0, 0.1)
    assert _service_ms(node, client, 3) >= 100
    with pytest.raises(NodeError, match="delay -1"):
        node.tune(delay_ms=-1)
    with pytest.raises(NodeError, match="service rate -2"):
        node.tune(service_rate=-2)


def test_requests_are_counted_per_tenant(start_node: Any, client: Any) -> None:
    node = start_node()
    for i in range(3):
        client.ask(node, [1] * 16, request_id=i)  # the client fixture's tenant is 3
    assert node.metrics.snapshot()["tenants"] == {"3/0": 3}


def test_tuning_files(tmp_path: Path) -> None:
    good = tmp_path / "t.json"
    good.write_text('{"delay_ms": 5, "service_rate": 200}')
    assert load_tuning(good) == {"delay_ms": 5.0, "service_rate": 200.0}
    for text, message in (
        ("[1]", "expected an object"),
        ('{"speed": 1}', "expected an object"),
        ('{"delay_ms": -3}', "delay_ms -3: expected a number >= 0"),
        ("{", "not JSON"),
    ):
        good.write_text(text)
        with pytest.raises(NodeError, match=message):
            load_tuning(good)
    with pytest.raises(NodeError, match=r"nope\.json"):
        load_tuning(tmp_path / "nope.json")


def test_sighup_reloads_the_tuning_file_and_the_log_names_tenants(
    models: Any, client: Any, tmp_path: Path
) -> None:
    tuning = tmp_path / "tuning.json"
    tuning.write_text('{"delay_ms": 0}')
    log_file = tmp_path / "node.log"
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "nodes", "--instance-id", "4",
            "--model", f"1={models.paths['small']}", "--bind", "127.0.0.1", "--port", "0",
            "--tuning", str(tuning), "--log-file", str(log_file), "-v",
        ],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline().split()
        assert ready[0] == "ready", ready
        host, port = ready[1].rsplit(":", 1)

        class Address:
            address = (host, int(port))

        assert _service_ms(Address(), client, 1) < 30
        tuning.write_text('{"delay_ms": 60}')
        os.kill(proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + STOP_S
        while "tuned: delay 60.0 ms" not in log_file.read_text():
            assert time.monotonic() < deadline, "the node never reloaded its tuning"
            time.sleep(0.01)
        assert _service_ms(Address(), client, 2) >= 60
        tuning.write_text("{broken")
        os.kill(proc.pid, signal.SIGHUP)
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=STOP_S) == 0  # a bad file is logged, the node goes on
        text = log_file.read_text()
        assert "tuning file" in text and "not JSON" in text
        assert "request 2 tenant 3 sensitivity 0 model 1" in text
        final = json.loads(proc.stdout.read().strip().splitlines()[-1])
        assert final["tenants"] == {"3/0": 2}
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=STOP_S)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
