"""``dinctl steer`` and ``dinctl status`` as processes against a p4lite switch served
in-process: the steering loop programs the switch from real advertisements, serves
/metrics and /status, and stops cleanly on SIGTERM; errors are one line."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]


def _status(address: str, *argv: str) -> subprocess.CompletedProcess[str]:
    # The default election id 1, which the in-process switch's own client holds:
    # status only reads and takes no part in the election.
    return _dinctl("status", "--grpc-addr", address, *argv)


def _dinctl(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "controller.cli", *argv],
        capture_output=True, text=True, cwd=REPO, timeout=timeout, check=False,
    )  # fmt: skip


def _first_line(proc: subprocess.Popen[str], timeout: float = 30.0) -> str:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            proc.kill()
            pytest.fail(f"no output from dinctl steer in {timeout} s: {proc.stderr.read()}")  # type: ignore[union-attr]
    return proc.stdout.readline()


PLAN = {
    "interval_ms": 20,
    "stale_after_ms": 400,
    "dataplane_stale_ms": 100,
    "premises": ["s1"],
    "instances": [{"id": 2}, {"id": 3}, {"id": 4, "location": "cloud"}],
    "services": [{"model_id": 1}],
    "policies": [{"tenant": 7, "sensitivities": [1]}],
}


def test_steer_programs_serves_metrics_and_stops_on_sigterm(
    make_switch: Any, kit: Any, tmp_path: Path
) -> None:
    s1 = make_switch("s1")
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(PLAN))
    stop = threading.Event()

    def advertise() -> None:
        while not stop.is_set():
            for port in (2, 3, 4):
                s1.inject(port, kit.advert_frame(port, port, capacity=100 * port))
            stop.wait(0.03)

    ads = threading.Thread(target=advertise, daemon=True)
    ads.start()
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "controller.cli", "steer", "--plan", str(plan),
            "--grpc-addr", f"s1={s1.address}", "--metrics-port", "0",
        ],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        line = _first_line(proc)
        assert line.startswith("steering 1 switch(es): s1; metrics on http://127.0.0.1:")
        url = line.split("metrics on ")[1].strip().removesuffix("/metrics")

        def programmed() -> bool:
            r = _status(s1.address, "--json")
            st = json.loads(r.stdout)[0].get("steering") if r.returncode == 0 else None
            return bool(st and st["services"] and len(st["services"][0]["weights"]) == 3)

        kit.wait_for(programmed, timeout=20, what="the steering entries")
        r = _status(s1.address, "--steering-url", url, "--json")
        assert r.returncode == 0, r.stderr
        status = json.loads(r.stdout)
        (switch,) = status["switches"]
        # dinctl steer holds the switch as primary; status only reads, so it may run beside
        # it with any election id, the steering controller's own included.
        assert switch["reachable"] and "primary" not in switch
        svc = switch["steering"]["services"][0]
        assert (svc["model_id"], svc["msg_type"], svc["stage"]) == (1, 1, 0)
        assert svc["weights"] == {"2": 4, "3": 5, "4": 7}
        assert switch["steering"]["policies"] == [
            {"tenant": 7, "sensitivity": 1, "allowed": [2, 3, 4], "allowed_raw": [2, 3]}
        ]
        backups = {i["instance_id"]: i["backup_id"] for i in switch["steering"]["instances"]}
        assert backups == {2: 3, 3: 2, 4: 3}
        assert {i["instance_id"] for i in status["steering"]["instances"]} == {2, 3, 4}
        text = _status(s1.address, "--steering-url", url).stdout
        assert "steering model 1 type 1 stage 0 -> instances 2:4 3:5 4:7" in text
        assert "instance 4 at 10.0.4.1, backup 3, stale after 100 ms" in text
        assert (
            "tenant 7 sensitivity 1 -> raw inputs to instances [2, 3], activations to [2, 3, 4]"
            in text
        )
        assert "nodes (3 alive):" in text and "instance 3 at 10.0.3.1: models 1v1" in text
        with urllib.request.urlopen(url + "/metrics", timeout=10) as answer:
            fams = kit.load_promtext().parse(answer.read().decode())
        assert {s[1]["instance"] for s in fams["din_instance_up"]["samples"]} == {"2", "3", "4"}
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert out.startswith("stopped: ") and "write errors" in out
        assert "s1: model1: added [2, 3, 4]" in err  # each decision is logged
    finally:
        stop.set()
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)


def test_steer_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text(json.dumps({"services": [{"model_id": 1, "match": [[5, 0]]}]}))
    r = _dinctl("steer", "--plan", str(bad), "--grpc-addr", "127.0.0.1:1")
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "dinctl: error: " in r.stderr
    assert "match (5, 0): expected msg_type" in r.stderr
    r = _dinctl("steer", "--plan", str(tmp_path / "none.json"))
    assert r.returncode == 1 and "none.json': No such file" in r.stderr
    plan = tmp_path / "ok.json"
    plan.write_text(json.dumps({"services": [{"model_id": 1}]}))
    r = _dinctl("steer", "--plan", str(plan), "--grpc-addr", "127.0.0.1:1", "--timeout", "0.5")
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "127.0.0.1:1" in r.stderr
