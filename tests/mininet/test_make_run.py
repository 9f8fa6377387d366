"""`make run` and `make stop`, as the README gives them: the enterprise testbed on Mininet."""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from traffic.workloads import WORKLOADS

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
    # The default deployment is on the map: layers, classifier, instances, policy.
    assert "s1: layer 0 + exit head (layer 128, answers when confident)" in output
    assert "s2: layer 1" in output
    assert "flow classifier 'flows-forest'" in output
    assert "policy: tenant 2 sensitivity 1 -> e1" in output
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
    # The node the main stream went to was killed; the data plane moved to its backup.
    fo = summary["failover"]
    assert fo["backup"] not in (None, fo["killed"])
    assert 0 < fo["failover_ms"] < 2000
    assert fo["answer_gap_ms"] > 0
    assert sum(fo["data_plane_failovers"].values()) > 0
    assert fo["answers_marked_failover"] > 0
    assert "policy" in summary and "s1" in summary["policy"]
    for png in ("latency.png", "timeline.png", "classes.png"):
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
    # The README's paths are relative to the checkout; this run writes elsewhere.
    build, pcaps = tmp_path / "build", tmp_path / "pcaps"
    script = "\n".join(
        line.replace("build/", f"{build}/").replace("pcaps/", f"{pcaps}/")
        for line in [*lines, *MISTAKES]
    )
    result = subprocess.run(
        _make_argv(tmp_path, "PCAP=1", f"PCAP_DIR={pcaps}"),
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
