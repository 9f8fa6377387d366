"""`make run` and `make stop`, as the README gives them: the enterprise testbed on Mininet,
with the controller's steering service (its /metrics and /status on a port of the machine),
or with the static plan and `dinctl steer` from another terminal."""

from __future__ import annotations

import json
import os
import re
import selectors
import shlex
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from traffic.workloads import WORKLOADS

pytestmark = [pytest.mark.mininet, pytest.mark.root, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def _make_argv(tmp_path: Path, *extra: str) -> list[str]:
    # METRICS_PORT=0 (any free port) unless a test names one: 9100 may be taken here.
    port = [] if any(e.startswith("METRICS_PORT=") for e in extra) else ["METRICS_PORT=0"]
    return [
        "make",
        "--no-print-directory",
        "-C",
        str(REPO),
        "run",
        f"BUILD_DIR={tmp_path / 'build'}",
        f"LOG_DIR={tmp_path / 'logs'}",
        *port,
        *extra,
    ]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _read_until(proc: subprocess.Popen[bytes], text: str, seen: str, timeout: float) -> str:
    """Read ``proc``'s output until ``text`` shows (raw reads: no buffered lines hidden)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while text not in seen:
            assert time.monotonic() < deadline, seen
            assert proc.poll() is None, seen
            if sel.select(timeout=1):
                seen += os.read(proc.stdout.fileno(), 65536).decode(errors="replace")
    return seen


def _env() -> dict[str, str]:
    # The toolchain is chosen as on a user's machine (p4lite here).
    return {k: v for k, v in os.environ.items() if k not in {"P4C", "SWITCH"}}


def _gone(pid: int, timeout: float = 10.0) -> bool:
    """Whether process ``pid`` ends within ``timeout`` (a zombie not yet reaped has ended)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1]
        except FileNotFoundError:
            return True
        if state.split()[0] == "Z":  # exited, waiting for a parent to reap it
            return True
        time.sleep(0.1)
    return False


@contextmanager
def _make_run(tmp_path: Path, *extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """`make run` in a session of its own, stdin and output piped; stopped afterwards."""
    proc = subprocess.Popen(
        _make_argv(tmp_path, *extra),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=_env(),
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            # SIGTERM lets the launcher stop its switches; SIGKILL only if it will not.
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


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
    # The default deployment is on the map: layers, classifier, instances, policy.
    assert "s1: layer 0 + exit head (layer 128, answers when confident)" in output
    assert "s2: layer 1" in output
    assert "flow classifier 'flows-forest'" in output
    assert "policy: tenant 2 sensitivity 1 -> e1" in output
    # The steering service programmed s1 before the scenario; its endpoint is on the map.
    assert re.search(r"steering on s1: model 1 -> e1 \d+, c1 \d+, c2 \d+; backups", output)
    assert re.search(r"metrics http://127\.0\.0\.1:\d+/metrics, status http://", output), output
    assert (tmp_path / "logs" / "controller.log").is_file()
    # Model 1 to the service: steered, first layers in switches, answers as the reference.
    assert "requests h1 -> 10.0.0.1 (model 1): 100/100 answered, 100/100 as the reference" in (
        output
    )
    assert re.search(r"^\s+\d+\s+s1\[L0\+head\]$", output, re.M), output
    for host in ("e1", "c1", "c2"):
        assert f"inference node on {host}: pid" in output
        # The whole model on each node (model 2), addressed directly.
        assert f"requests h1 -> {host} (model 2): 50/50 answered, 50/50 as the reference" in output
        assert re.search(rf"^\s+50\s+{host}\[L0\+L1\+L2\]$", output, re.M), output
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


def test_a_switch_that_dies_is_said_at_once_and_nothing_is_left_running(tmp_path: Path) -> None:
    with _make_run(tmp_path) as proc:
        seen = _read_until(proc, "pipelines and routes installed", "", 120)
        pids = {m[0]: int(m[1]) for m in re.findall(r"^\s+(s\d)\s.*\bpid (\d+)\s", seen, re.M)}
        nodes = [int(p) for p in re.findall(r"inference node on \w+: pid (\d+)", seen)]
        assert set(pids) == {"s1", "s2", "s3"} and len(nodes) == 3, seen
        os.kill(pids["s2"], signal.SIGKILL)  # a crash of the in-network switch
        seen = _read_until(proc, "killed by SIGKILL", seen, 30)
        said = [x for x in seen.splitlines() if "killed by SIGKILL" in x]
        assert len(said) == 1, seen  # said once, in one line (after the CLI's prompt, maybe)
        assert (
            said[0]
            .removeprefix("mininet> ")
            .startswith(f"error: switch s2 killed by SIGKILL (pid {pids['s2']}); its log ")
        ), said
        out, _ = proc.communicate(b"exit\n", timeout=120)
        output = seen + out.decode(errors="replace")
        assert proc.returncode != 0, output
        assert "1 process(es) of the testbed ended on their own" in output
        assert "Traceback" not in output
        assert [pid for pid in [pids["s1"], pids["s3"], *nodes] if not _gone(pid)] == []
        assert not any(_port_open(p) for p in (50051, 50052, 50053))


def test_make_stop_stops_a_running_testbed(tmp_path: Path) -> None:
    with _make_run(tmp_path) as proc:
        _read_until(proc, "pipelines and routes installed", "", 120)
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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_make_run_demo_scenario_summary(tmp_path: Path) -> None:
    result = subprocess.run(
        _make_argv(tmp_path, "SCENARIO=demo"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output
    summary_file = tmp_path / "logs" / "demo" / "summary.json"
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    assert summary["toolchain"]["switch"] == "p4lite-switch"
    assert summary["checks"] == {"ok": True, "failed": []}
    # Every traffic class: its flows, what the switch made of them, the model agreeing.
    assert set(summary["classes"]) == set(WORKLOADS)
    for workload, c in summary["classes"].items():
        assert c["flows"] == 2, workload
        assert sum(c["classified_as"].values()) == 2, workload
        assert c["model_agrees"] == 2, workload
        assert c["probe_accuracy_switch"] == c["probe_accuracy_model"], workload
        assert 0.0 <= c["accuracy"] <= 1.0
        # The class at the last packet of the forest's window (make models: 32 packets).
        assert c["window_packets"] == 32 and 0.0 <= c["accuracy_in_window"] <= 1.0
    assert all(f["agrees"] and f["seen"] > 0 for f in summary["flows"])
    # Streams: every served answer is the reference's; paths name where layers ran.
    main, *sensitive, cloud = summary["streams"]
    assert main["sent"] == 2400 and main["answered"] >= main["sent"] - 50
    for s in summary["streams"]:
        assert s["agree_with_reference"] == s["served"] > 0, s["stream"]
    assert any(p.startswith("s1[L0+head] -> ") for p in main["paths"]), main["paths"]
    assert main["paths"]["s1[L0+head]"]["latency_ms_p99"] > 0
    assert "c1[L0+L1+L2]" in cloud["paths"] and set(cloud["paths"]) <= {"c1[L0+L1+L2]", "lost"}
    for s in sensitive:
        assert all("c1[" not in p and "c2[" not in p for p in s["paths"]), s["paths"]
    # The node the main stream went to was killed; the data plane moved to its backup,
    # then the steering service expired the node and rewrote the group without it.
    fo = summary["failover"]
    assert fo["backup"] not in (None, fo["killed"])
    assert 0 < fo["failover_ms"] < 2000
    assert fo["answer_gap_ms"] > 0
    assert sum(fo["data_plane_failovers"].values()) > 0
    assert fo["answers_marked_failover"] > 0
    assert fo["data_plane_goal_ms"] == 100
    # The summary's counts are the printed ones: false failovers, other expiries.
    printed = re.search(r"(\d+) failovers before the kill$", output, re.M)
    assert printed is not None and int(printed[1]) == fo["data_plane_failovers_before_kill"]
    ctl = fo["controller"]
    assert 0 < ctl["expired_ms"] < 3000 and ctl["goal_ms"] == 1000
    assert ctl["expired_ms"] <= ctl["groups_rewritten_ms"] < 3000
    others = re.search(r"other expiries: (.*)$", output, re.M)
    assert others is not None and others[1] == (", ".join(ctl["false_expiries"]) or "none")
    assert fo["last_lost_ms"] is None or fo["last_lost_ms"] < fo["failover_ms"]
    assert re.search(r"data plane: answer gap [\d.]+ ms \(goal 100 ms; ", output), output
    assert re.search(rf"  controller: {fo['killed']} expired \d+ ms after the kill", output)
    assert "policy" in summary and "s1" in summary["policy"]
    # Load over time from the steering service: the killed node advertised until the kill,
    # served requests before it, and left s1's weights after the controller expired it.
    load = summary["load"]
    assert load["killed"] == fo["killed"] and load["killed_at_s"] > 0
    before = [x for x in load["samples"] if x["t"] < load["killed_at_s"]]
    after = [x for x in load["samples"] if x["t"] > load["killed_at_s"] + 1.5]
    assert before and after, load["samples"]
    assert any(x["nodes"].get(fo["killed"], {}).get("req_rate", 0) > 0 for x in before)
    assert all(fo["killed"] not in x["nodes"] for x in after)
    assert all(fo["killed"] not in x["weights"]["s1"] for x in after)
    assert all(x["weights"]["s1"] for x in load["samples"])
    for png in ("latency.png", "timeline.png", "load.png", "classes.png"):
        assert (tmp_path / "logs" / "demo" / png).read_bytes()[:4] == b"\x89PNG"
    assert "failover: " in output and "requests lost" in output
    # Nothing is left running: switches' ports closed, node processes gone.
    assert not any(_port_open(p) for p in (50051, 50052, 50053))
    pids = [int(p) for p in re.findall(r"inference node on \w+: pid (\d+)", output)]
    assert len(pids) == 3 and not any(_alive(p) for p in pids)


def readme_cli_lines() -> list[str]:
    """The ``mininet>`` command lines of README.md's text blocks."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    lines = []
    for block in re.findall(r"```text\n(.*?)```", text, flags=re.S):
        lines += [
            line.removeprefix("mininet> ")
            for line in block.splitlines()
            if line.startswith("mininet> ")
        ]
    return lines


# Mistakes a person makes at the CLI: each answered with one plain line.
MISTAKES = ["din_request h9", "din_send h1 nonsense", "din_kill h1", "din_status extra words"]


def test_make_run_pcap_runs_every_cli_line_of_the_readme(tmp_path: Path) -> None:
    lines = readme_cli_lines()
    assert any(line.startswith("din_send") for line in lines)
    assert any("tcpdump" in line for line in lines)
    assert any("127.0.0.1:9100/metrics" in line for line in lines)
    # The README's paths are relative to the checkout, its metrics on the default port;
    # this run writes elsewhere, its metrics on a port that is free here.
    build, pcaps, port = tmp_path / "build", tmp_path / "pcaps", _free_port()
    script = "\n".join(
        line.replace("build/", f"{build}/")
        .replace("pcaps/", f"{pcaps}/")
        .replace("127.0.0.1:9100", f"127.0.0.1:{port}")
        for line in [*lines, *MISTAKES]
    )
    result = subprocess.run(
        _make_argv(tmp_path, "PCAP=1", f"PCAP_DIR={pcaps}", f"METRICS_PORT={port}"),
        input=script + "\n",
        capture_output=True,
        text=True,
        env=_env(),
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output
    # Captures of every switch port, readable while the switch runs.
    for iface in ("s1-eth1", "s2-eth2", "s3-eth2"):
        for direction in ("in", "out"):
            assert (pcaps / f"{iface}_{direction}.pcap").is_file()
    assert re.search(r"IP 10\.0\.1\.1\.\d+ > 10\.0\.0\.1\.7350: UDP", output), output
    assert "###[ DIN ]###" in output or "###[ Ethernet ]###" in output
    # The requests, the sensitive tenant's, the baseline, a flow, the status and the kill.
    assert "h1 -> 10.0.0.1 (model 1, tenant 0, sensitivity 0): 200/200 answered" in output
    assert "h2 -> 10.0.0.1 (model 1, tenant 2, sensitivity 1): 100/100 answered" in output
    assert "h1 -> 10.0.3.1 (model 2, tenant 0, sensitivity 0): 50/50 answered, 50/50" in output
    assert re.search(r"probe packet: .*: agree", output), output
    assert "sent 20 frames" in output
    assert "agreement with the integer reference" in output
    # dinctl reads beside the testbed's controller.
    assert "127.0.0.1:50051: reachable, pipeline present" in output
    assert "tenant 2 sensitivity 1 -> raw inputs to instances [1], activations to [1]" in output
    assert re.search(r"MyIngress\.din_events\[0\] packets=[1-9]", output), output
    assert re.search(r"killed the inference node on c2 \(pid \d+\)", output), output
    assert re.search(r"inference node on e1: pid \d+ running", output), output
    # din_status (before the kill) shows the steering service's view.
    assert "steering service (decisions in " in output
    assert re.search(r"node c2 \(instance 3\): alive, last advertisement \d+ ms ago", output)
    assert re.search(r"steering on s1: model 1 -> e1 \d+, c1 \d+, c2 \d+", output), output
    # /metrics and /status from the machine; c2 was killed: expired, out of s1's group.
    assert 'din_instance_up{instance="1",addr="10.0.2.1"} 1' in output
    assert 'din_instance_up{instance="3"' not in output
    assert re.search(r'din_service_weight\{switch="s1",model="1",instance="2"\} \d+', output)
    assert re.search(r"^(mininet> )?\[1, 2\]$", output, re.M), output  # /status: live ones
    assert "nodes (2 alive):" in output and "expired: instance 3" in output
    # Only the mistakes were errors, each answered plainly.
    errors = re.findall(r"^error: .*$", output, re.M)
    assert errors[0] == "error: host 'h9': unknown (known: c1, c2, e1, h1, h2, iot1, iot2)"
    assert errors[1].startswith("error: argument workload: invalid choice: 'nonsense'")
    assert errors[2] == "error: no inference node on 'h1' (nodes: ['c1', 'c2', 'e1'])"
    assert errors[3] == "error: unrecognized arguments: extra words"
    assert len(errors) == 4, errors
    assert not any(_port_open(p) for p in (50051, 50052, 50053))


def test_make_run_leaf_spine(tmp_path: Path) -> None:
    result = subprocess.run(
        _make_argv(tmp_path, "TOPO=leaf-spine"),
        input="h1_1 ping -c 1 -W 2 h16_4\ndin_map\n",
        capture_output=True,
        text=True,
        env=_env(),
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "DIN testbed 'leaf-spine': 20 switches" in output
    assert "1 packets transmitted, 1 received" in output
    assert "Traceback" not in output
    assert not any(_port_open(p) for p in range(50051, 50071))


def _readme_sh_line(prefix: str) -> str:
    """The one command line of README.md's ```sh blocks that starts with ``prefix``."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    found = [
        line.split("  #", 1)[0].strip()
        for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S)
        for line in block.splitlines()
        if line.startswith(prefix)
    ]
    assert len(found) == 1, found
    return found[0]


def test_make_run_static_then_dinctl_steer_as_the_readme_says(tmp_path: Path) -> None:
    logs, port, steer_log = tmp_path / "logs", _free_port(), tmp_path / "steer.log"
    readme_plan = re.search(
        r"```json\n(.*?)```", (REPO / "README.md").read_text(encoding="utf-8"), flags=re.S
    )
    assert readme_plan is not None
    steer_line = _readme_sh_line(".venv/bin/dinctl steer ")
    status_line = _readme_sh_line(".venv/bin/dinctl status ")

    def local(line: str) -> list[str]:
        line = line.replace("logs/", f"{logs}/").replace("9101", str(port))
        return shlex.split(line)

    steer: subprocess.Popen[str] | None = None
    with _make_run(tmp_path, "STEERING=static") as proc:
        try:
            seen = _read_until(proc, "pipelines and routes installed", "", 120)
            assert "steering: the static plan, written once" in seen
            assert f"the controller's plan, for dinctl steer: {logs}/steering-plan.json" in seen
            # The plan make run wrote is the README's.
            plan = json.loads((logs / "steering-plan.json").read_text(encoding="utf-8"))
            assert plan == json.loads(readme_plan.group(1))
            with steer_log.open("w") as err_file:  # the child keeps its own copy
                steer = subprocess.Popen(
                    local(steer_line), cwd=REPO, stdout=subprocess.PIPE, stderr=err_file,
                    text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                )  # fmt: skip
            assert steer.stdout is not None
            line = steer.stdout.readline()
            assert line.startswith("steering 1 switch(es): s1; metrics on http://"), line

            def status() -> dict[str, Any]:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=10) as a:
                    return dict(json.loads(a.read()))

            deadline = time.monotonic() + 30
            while not status()["steering"]["switches"]["s1"]["services"]:
                assert time.monotonic() < deadline, status()
                time.sleep(0.2)
            weights = status()["steering"]["switches"]["s1"]["services"][0]["weights"]
            assert set(weights) == {"1", "2", "3"}
            shown = subprocess.run(
                local(status_line),
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert shown.returncode == 0, shown.stderr
            text = shown.stdout
            assert "127.0.0.1:50051: reachable, pipeline present" in text
            assert "steering model 1 type 1 stage 1 -> instances 1:" in text
            assert "instance 1 at 10.0.2.1, backup 2, stale after 80 ms" in text
            assert "nodes (3 alive):" in text and "s1 program: model1: added [1, 2, 3]" in text
            # Stopped, dinctl steer leaves its entries: requests are still steered by them.
            steer.send_signal(signal.SIGTERM)
            out, _ = steer.communicate(timeout=30)
            err = steer_log.read_text(encoding="utf-8")
            assert steer.returncode == 0, err
            assert out.startswith("stopped: ") and "s1: model1: added [1, 2, 3]" in err
            rest, _ = proc.communicate(b"din_request h1 --count 100\n", timeout=180)
            output = seen + rest.decode(errors="replace")
            assert proc.returncode == 0, output
            assert "h1 -> 10.0.0.1 (model 1, tenant 0, sensitivity 0): 100/100 answered" in output
        finally:
            if steer is not None and steer.poll() is None:
                steer.terminate()
                try:
                    steer.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    steer.kill()
                    steer.wait()
    assert not any(_port_open(p) for p in (50051, 50052, 50053, port))
