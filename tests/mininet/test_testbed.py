"""The enterprise testbed end to end, as ``make run`` starts it (in this process).

Built with ``make build models`` into a temporary folder, started by
``topologies.net.started`` on Mininet with the chosen switch (p4lite here):
real switch processes, real P4Runtime, real inference node processes, flows
and requests sent from Mininet hosts.

- every workload class is classified by the edge switch as the quantized
  forest and the installed entries say, on the features the switch held;
- model 1 requests get the answers of the deployment's reference (entries
  simulated, then the node's integer model), and the switches' layer and
  early-exit counters show the layers ran where the role entries put them;
- the sensitive tenant's requests are only ever served on premises;
- each switch's installed entries are in its tutorials ``sN-runtime.json``;
- the controller's steering service runs with it: every node in s1's
  selector group (read back from the switch), ``/metrics`` (parsed by a
  strict Prometheus text reader) and ``/status`` served, decisions logged;
  a node killed is expired by the service and leaves the group, and is
  taken back once it advertises again.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.entries import runtime_json
from controller.steering.config import load_config
from controller.steering.program import SwitchProgrammer, summarize
from p4lite import toolchain
from topologies import deployment, flows, net
from topologies.deployment import SENSITIVE, TENANT_SENSITIVE
from topologies.observe import read_all_counters
from topologies.testbed import RequestSpec, Testbed
from traffic.wire import FLAG_POLICY, FLAG_SWITCH_ANSWER
from traffic.workloads import WORKLOADS

pytestmark = [pytest.mark.mininet, pytest.mark.root, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
# Seconds per class: a few to a few thousand frames each (traffic/workloads.py).
FLOW_SECONDS = {
    "llm_chat": 2.0,
    "video_upload": 0.5,
    "iot_sensor": 3.0,
    "industrial_control": 0.3,
    "web": 2.0,
    "bulk": 0.3,
}
BRANCH = ("h1", "h2", "iot1", "iot2")


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("build")
    result = subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO), "build", "models", f"BUILD_DIR={out}"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


@pytest.fixture(scope="module")
def testbed(build: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Testbed]:
    topo = net.load_topology("enterprise")
    compiled = toolchain.Compiled(REPO / "p4src" / "din.p4", build / "din.json",
                                  build / "din.p4info.txtpb")  # fmt: skip
    logs = tmp_path_factory.mktemp("logs")
    with net.started(topo, compiled, build=build, logs=logs) as tb:
        yield tb
    # Every switch and node process is gone with the testbed.
    assert all(p.poll() is not None for p in tb.nodes.values())
    assert all(tb.net.net.get(s).process is None for s in tb.net.switches)


def test_every_traffic_class_is_classified_as_the_quantized_model_says(
    testbed: Testbed, tmp_path: Path
) -> None:
    before = read_all_counters(testbed.fabric)["s1"]
    plan = flows.plan_flows(testbed.deployment, list(WORKLOADS), duration=FLOW_SECONDS)
    flows.send_flows(testbed, plan, tmp_path)
    results = flows.classify_flows(testbed, plan, tmp_path)
    after = read_all_counters(testbed.fabric)["s1"]
    assert {r.spec.workload for r in results} == set(WORKLOADS)
    for r in results:
        name = r.spec.workload
        assert r.packets_seen > 0, name
        # The first digest comes at the first packet, with the entries' class of it.
        assert r.digests and r.digests[0].pkts == 1, name
        assert r.first_class == r.first_expected, name
        # The last digest of the flow is its class in the switch's registers.
        assert r.digests[-1].flow_class == r.final_class or r.digests[-1].pkts > r.packets_seen
        # One more packet: the switch, the quantized forest and the entries agree on it.
        assert r.probe_switch == r.probe_model == r.probe_simulator, (name, r.probe_features)
        assert r.agrees, name
    # Every packet the classifier saw was counted under some class (probes included).
    seen = sum(r.packets_seen + 1 for r in results)
    assert sum(after.class_packets) - sum(before.class_packets) >= seen
    assert after.event("new flow") - before.event("new flow") >= len(results)


def test_partitioned_requests_are_answered_as_the_model_with_layers_where_the_roles_say(
    testbed: Testbed, tmp_path: Path
) -> None:
    before = read_all_counters(testbed.fabric)
    layers: Counter[str] = Counter()
    exits = answered = 0
    paths: set[str] = set()
    # A client socket keeps its instance (the selector hashes its port): new
    # sockets until requests went both to the on-premises node and to the cloud.
    for n in range(12):
        host = BRANCH[n % len(BRANCH)]
        run = testbed.requests(RequestSpec(host, count=80, rate=250), tmp_path / f"a{n}.jsonl")
        assert all(o.answered for o in run.outcomes), run.summary()
        assert all(o.agrees for o in run.outcomes), run.summary()
        for o in run.outcomes:
            assert o.expected is not None and o.answer is not None
            for step in o.expected.steps:
                if step.where in testbed.net.switches:
                    layers[step.where] += len(step.layers)
            exits += o.expected.by_switch is not None
            assert bool(o.answer["flags"] & FLAG_SWITCH_ANSWER) == (o.expected.by_switch == "s1")
            paths.add(o.expected.path)
        answered += len(run.outcomes)
        if any("e1[" in p for p in paths) and any("-> s2[L1] ->" in p for p in paths):
            break
    assert "s1[L0+head] -> e1[L1+L2]" in paths, paths
    assert {"s1[L0+head] -> s2[L1] -> c1[L2]", "s1[L0+head] -> s2[L1] -> c2[L2]"} & paths, paths
    after = read_all_counters(testbed.fabric)

    def delta(switch: str, event: str) -> int:
        return after[switch].event(event) - before[switch].event(event)

    # The switches computed exactly the layers the entries gave them, no more.
    assert delta("s1", "layer computed") == layers["s1"]
    assert delta("s2", "layer computed") == layers["s2"] > 0
    assert delta("s3", "layer computed") == 0
    assert delta("s1", "early exit") == exits
    assert delta("s1", "request") == answered


def test_the_sensitive_tenant_is_only_served_on_premises(testbed: Testbed, tmp_path: Path) -> None:
    on_prem = {n.instance_id for n in testbed.deployment.nodes if n.premises == "on-premises"}
    instances: Counter[int] = Counter()
    resteered = 0
    for n, host in enumerate(BRANCH * 2):
        spec = RequestSpec(host, count=60, rate=200, tenant=TENANT_SENSITIVE, sensitivity=SENSITIVE)
        run = testbed.requests(spec, tmp_path / f"s{n}.jsonl")
        assert all(o.agrees for o in run.outcomes), run.summary()
        for o in run.outcomes:
            assert o.answer is not None
            if not o.answer["flags"] & FLAG_SWITCH_ANSWER:
                instances[o.answer["instance_id"]] += 1
                resteered += bool(o.answer["flags"] & FLAG_POLICY)
    assert instances and set(instances) <= on_prem, instances
    counters = read_all_counters(testbed.fabric)["s1"]
    assert counters.event("policy re-steer") >= resteered


def test_each_switch_has_its_entries_in_a_tutorials_runtime_file(testbed: Testbed) -> None:
    dep = testbed.deployment
    for name, switch in dep.topology.switches.items():
        runtime = runtime_json.read(testbed.logs / (switch.runtime_json or f"{name}-runtime.json"))
        assert list(runtime.entries) == list(dep.entries[name]), name


def _promtext() -> Any:
    """The strict Prometheus text reader of tests/unit/telemetry (loaded by path)."""
    spec = importlib.util.spec_from_file_location(
        "promtext", REPO / "tests" / "unit" / "telemetry" / "promtext.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=20) as answer:
        assert answer.status == 200
        return str(answer.read().decode())


def _group(testbed: Testbed, switch: str = "s1") -> dict[int, int]:
    """Model 1's selector group as the switch holds it: instance -> weight."""
    read: dict[str, Any] = summarize(SwitchProgrammer(testbed.fabric[switch]).read())
    # One group, matched by a din_steer entry per stage.
    (weights,) = {svc["group_id"]: svc["weights"] for svc in read["services"]}.values()
    return {int(i): int(w) for i, w in weights.items()}


def _wait(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.05)


def test_the_steering_service_steers_logs_and_serves_metrics(testbed: Testbed) -> None:
    service = testbed.steering
    assert service is not None and testbed.metrics_url is not None
    nodes = {n.instance_id for n in testbed.deployment.nodes}
    # Programmed before the testbed was handed over: every node in s1's group, on the switch.
    assert set(service.weights("s1")[1]) == nodes
    assert set(_group(testbed)) == nodes
    assert service.weights("s2") == service.weights("s3") == {}
    # /metrics: Prometheus text, the three instances alive, s1's weights, the counters.
    fams = _promtext().parse(_get(testbed.metrics_url + "/metrics"))
    up = {s[1]["instance"]: s[2] for s in fams["din_instance_up"]["samples"]}
    assert up == {"1": 1.0, "2": 1.0, "3": 1.0}
    weights = {
        s[1]["instance"]: s[2]
        for s in fams["din_service_weight"]["samples"]
        if s[1]["switch"] == "s1" and s[1]["model"] == "1"
    }
    assert {int(i): int(w) for i, w in weights.items()} == service.weights("s1")[1]
    assert {s[1]["switch"] for s in fams["din_switch_up"]["samples"]} == {"s1", "s2", "s3"}
    assert fams["din_events_total"]["type"] == "counter"
    # /status: the same view as JSON.
    status = json.loads(_get(testbed.metrics_url + "/status"))
    assert {i["instance_id"] for i in status["instances"]} == nodes
    assert status["steering"]["switches"]["s1"]["services"][0]["model_id"] == 1
    # Its decisions in the controller's log; its plan where dinctl steer reads it.
    log_text = (testbed.logs / "controller.log").read_text(encoding="utf-8")
    added = re.findall(r"s1: model1: added \[([\d, ]+)\]", log_text)
    assert {int(i) for ids in added for i in ids.split(",")} == nodes, log_text
    plan = testbed.logs / "steering-plan.json"
    assert json.loads(plan.read_text()) == deployment.steering_plan(testbed.deployment)
    assert load_config(plan) == service.config
    # din_status shows the steering view next to the counters.
    text = testbed.status()
    assert "node e1 (instance 1): alive, last advertisement" in text
    assert "steering on s1: model 1 -> e1 " in text and "backups e1 -> c" in text


def test_a_killed_node_is_expired_and_leaves_the_group_then_comes_back(
    testbed: Testbed,
) -> None:
    # Last in this module: the node is started again at the end all the same.
    service = testbed.steering
    assert service is not None
    killed_at = time.time()
    testbed.kill_node("c2")
    try:
        _wait(lambda: 3 not in service.weights("s1")[1], 10, "the controller to drop c2")
        expired = [d for d in service.decisions if d.kind == "expired" and d.time >= killed_at]
        assert [d.detail for d in expired] == ["instance 3"]
        # Well under the goal of 1 s, with room for a loaded host.
        assert expired[0].time - killed_at < 2.0
        assert set(_group(testbed)) == {1, 2}
        assert "node c2 (instance 3): not heard (expired)" in testbed.status()
        fams = _promtext().parse(_get(str(testbed.metrics_url) + "/metrics"))
        assert {s[1]["instance"] for s in fams["din_instance_up"]["samples"]} == {"1", "2"}
    finally:
        testbed.restart_node("c2")
    _wait(lambda: 3 in service.weights("s1")[1], 20, "c2 back in the group")
    assert set(_group(testbed)) == {1, 2, 3}
