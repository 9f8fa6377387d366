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
- each switch's installed entries are in its tutorials ``sN-runtime.json``.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.entries import runtime_json
from p4lite import toolchain
from topologies import flows, net
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
