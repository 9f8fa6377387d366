"""A running DIN testbed, and what the launcher, its CLI and the demo do with it.

``Testbed`` holds the pieces ``topologies.net`` started (the Mininet network,
the deployment, the controller's fabric and observer, the inference node
processes) and runs things inside Mininet hosts: DIN requests with
``python -m nodes.client`` (``start_requests`` / ``requests``), whose answers
``analyse`` checks against the deployment's reference and labels with where
each layer ran; and it reads the switches' counters (``status``). Processes it
starts in hosts are waited for, or stopped by PID, before a call returns.

May import mininet objects through ``topologies.network``, controller,
nodes.client (the held-out samples), topologies and the standard library.
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from controller.models import quant
from controller.p4rt.multi import Fabric
from controller.steering.service import SteeringService
from nodes.client import held_out
from nodes.server import FLAG_BUSY
from topologies import network
from topologies.deployment import (
    ADVERTISE_INTERVAL_MS,
    CLOUD_ONLY_MODEL_ID,
    MODEL_ID,
    SERVICE_ADDR,
    STEERING_SERVICE,
    Deployment,
    Expected,
    Node,
    Reference,
    Step,
)
from topologies.observe import Observer, read_all_counters, status_text, steering_lines
from topologies.watch import Watched
from traffic.wire import FLAG_FAILOVER, FLAG_POLICY, FLAG_SWITCH_ANSWER

log = logging.getLogger(__name__)

CONTROLLER_LOG = "controller.log"  # the steering service's decisions, in <logs>
STEERING_PLAN = "steering-plan.json"  # the plan it runs, as ``dinctl steer --plan`` reads it
CLIENT_TIMEOUT_S = 2.0  # the client waits this long for late answers at the end
STOP_TIMEOUT_S = 5.0


class TestbedError(RuntimeError):
    """Something asked of the running testbed cannot be done; the message says why."""


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """A stream of DIN requests from one host."""

    client: str
    model_id: int = MODEL_ID
    to: str | None = None  # address or node host; model 1 defaults to the service address
    count: int = 100
    rate: float = 200.0
    tenant: int = 0
    sensitivity: int = 0


@dataclass(frozen=True, slots=True)
class Outcome:
    """One request: its answer (None when lost) and what the deployment says it should be."""

    request_id: int
    label: int
    answer: dict[str, Any] | None
    expected: Expected | None

    @property
    def answered(self) -> bool:
        """Whether an answer came back (busy ones included)."""
        return self.answer is not None

    @property
    def served(self) -> bool:
        """Answered with a result (not busy)."""
        return self.answer is not None and not self.answer["flags"] & FLAG_BUSY

    @property
    def agrees(self) -> bool:
        """Served with the expected class and confidence, by a switch exactly when expected."""
        a, e = self.answer, self.expected
        if a is None or e is None or not self.served:
            return False
        by_switch = bool(a["flags"] & FLAG_SWITCH_ANSWER)
        return (
            a["result_class"] == e.result_class
            and a["confidence"] == e.confidence
            and by_switch == (e.by_switch is not None)
        )

    @property
    def path(self) -> str:
        """Where each layer ran, with the data plane's failover/policy marks; 'lost' if lost."""
        a = self.answer
        if a is None:
            return "lost"
        if not self.served:
            return "busy"
        text = self.expected.path if self.expected is not None else "?"
        marks = [
            m for f, m in ((FLAG_FAILOVER, "failover"), (FLAG_POLICY, "policy")) if a["flags"] & f
        ]
        return text + (f" ({', '.join(marks)})" if marks else "")


@dataclass(frozen=True, slots=True)
class RequestRun:
    """A finished stream: the client's report, and every request's outcome."""

    spec: RequestSpec
    target: str
    report: dict[str, Any]
    outcomes: tuple[Outcome, ...]

    def by_path(self) -> dict[str, list[Outcome]]:
        """Outcomes grouped by path label."""
        out: dict[str, list[Outcome]] = {}
        for o in self.outcomes:
            out.setdefault(o.path, []).append(o)
        return dict(sorted(out.items()))

    def summary(self) -> str:
        """A few lines for a person: answered, agreement, per path counts and latency."""
        served = [o for o in self.outcomes if o.served]
        agree = sum(o.agrees for o in served)
        correct = sum(o.answer is not None and o.answer["result_class"] == o.label for o in served)
        lines = [
            f"{self.spec.client} -> {self.target} (model {self.spec.model_id}, tenant "
            f"{self.spec.tenant}, sensitivity {self.spec.sensitivity}): "
            f"{sum(o.answered for o in self.outcomes)}/{len(self.outcomes)} answered, "
            f"{agree}/{len(served)} as the deployment's reference, "
            f"accuracy {correct}/{len(served)}"
        ]
        for path, group in self.by_path().items():
            lat = latencies(group)
            text = (
                f"p50 {percentile(lat, 50) / 1000:.1f} ms, p99 {percentile(lat, 99) / 1000:.1f} ms"
            )
            lines.append(f"  {len(group):5d}  {path}" + (f"  {text}" if lat else ""))
        return "\n".join(lines)


def latencies(outcomes: Sequence[Outcome]) -> list[float]:
    """Round-trip latencies (us) of the served outcomes."""
    return [o.answer["latency_us"] for o in outcomes if o.served and o.answer is not None]


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (nearest rank), 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, int(np.ceil(q / 100 * len(ordered))) - 1))
    return float(ordered[rank])


@dataclass
class Testbed:
    """The running testbed: network, deployment, controller connections, node processes."""

    __test__ = False  # not a test class, whatever pytest makes of the name

    net: network.Network
    deployment: Deployment
    fabric: Fabric
    observer: Observer
    nodes: dict[str, subprocess.Popen[str]]
    build: Path
    logs: Path
    steering: SteeringService | None = None  # the controller's steering service, when it runs
    metrics_url: str | None = None  # where its /metrics and /status are served
    steering_mode: str = STEERING_SERVICE  # "service", "static", or "" (nothing steered)
    reference: Reference | None = field(default=None, init=False)
    setup_seconds: float = field(default=0.0, init=False)  # pipelines and entries
    entries_installed: int = field(default=0, init=False)
    killed: set[str] = field(default_factory=set, init=False)  # nodes killed on purpose

    def __post_init__(self) -> None:
        """Prepare the reference when models are deployed."""
        if self.deployment.models is not None:
            self.reference = Reference(self.deployment)

    def host(self, name: str) -> Any:
        """The Mininet host ``name``."""
        if name not in self.deployment.topology.hosts:
            known = ", ".join(sorted(self.deployment.topology.hosts))
            raise TestbedError(f"host {name!r}: unknown (known: {known})")
        return self.net.net.get(name)

    def model_file(self) -> Path:
        """The base MLP's file, which clients read their held-out samples from."""
        if self.deployment.models is None:
            raise TestbedError("no models deployed (make models, then make run)")
        return self.deployment.models.path("base")

    def target(self, spec: RequestSpec) -> str:
        """The address a request stream goes to."""
        if spec.count < 1 or spec.rate <= 0:
            raise TestbedError(
                f"{spec.count!r} requests at {spec.rate!r}/s: expected >= 1 request at > 0/s"
            )
        if spec.to is None:
            if spec.model_id == MODEL_ID:
                return SERVICE_ADDR
            raise TestbedError(f"model {spec.model_id}: give the node or address to send to")
        if spec.to in self.deployment.topology.hosts:
            return self.deployment.topology.hosts[spec.to].address
        return spec.to

    def start_requests(self, spec: RequestSpec, answers: Path) -> subprocess.Popen[str]:
        """Start ``nodes.client`` in the client host; answers stream into ``answers``."""
        argv = [
            sys.executable, "-m", "nodes.client", "--to", self.target(spec),
            "--model", str(self.model_file()), "--model-id", str(spec.model_id),
            "--count", str(spec.count), "--rate", f"{spec.rate:g}",
            "--tenant", str(spec.tenant), "--sensitivity", str(spec.sensitivity),
            "--timeout", f"{CLIENT_TIMEOUT_S:g}", "--json", "--answers", str(answers),
        ]  # fmt: skip
        proc: subprocess.Popen[str] = self.host(spec.client).popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        return proc

    def finish_requests(
        self, spec: RequestSpec, proc: subprocess.Popen[str], answers: Path
    ) -> RequestRun:
        """Wait for a started stream and check its answers."""
        timeout = spec.count / max(spec.rate, 1e-3) + CLIENT_TIMEOUT_S + 30
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_process(proc)
            raise TestbedError(f"request client on {spec.client} did not finish in time") from None
        lines = out.strip().splitlines()
        try:
            report = json.loads(lines[-1])
        except (IndexError, ValueError):
            raise TestbedError(
                f"request client on {spec.client} exited with {proc.returncode}: "
                f"{(err or out).strip()[-500:]!r}"
            ) from None
        return RequestRun(spec, self.target(spec), report, self.analyse(spec, answers))

    def requests(self, spec: RequestSpec, answers: Path) -> RequestRun:
        """Run a stream of requests to the end."""
        return self.finish_requests(spec, self.start_requests(spec, answers), answers)

    def analyse(self, spec: RequestSpec, answers: Path) -> tuple[Outcome, ...]:
        """Every request of a stream with its answer (from ``answers``) and expected answer."""
        if self.reference is None or self.deployment.models is None:
            raise TestbedError("no models deployed: nothing to check answers against")
        base = self.deployment.models.base
        inputs, labels = held_out(base, spec.count)
        got: dict[int, dict[str, Any]] = {}
        if answers.is_file():
            for line in answers.read_text(encoding="utf-8").splitlines():
                a = json.loads(line)
                got[int(a["request_id"])] = a
        any_node = self.deployment.nodes[0].instance_id if self.deployment.nodes else 0
        top, margin = quant.predict_int(base, inputs)
        outcomes = []
        for i in range(spec.count):
            a = got.get(i + 1)
            expected: Expected | None = None
            if a is not None and not a["flags"] & FLAG_BUSY:
                if spec.model_id == MODEL_ID:
                    by_switch = bool(a["flags"] & FLAG_SWITCH_ANSWER)
                    instance = any_node if by_switch else a["instance_id"]
                    try:
                        expected = self.reference.expect(spec.client, instance, inputs[i])
                    except ValueError as exc:
                        log.warning("request %d: no reference: %s", i + 1, exc)
                elif spec.model_id == CLOUD_ONLY_MODEL_ID:
                    where = self._node_host(a["instance_id"])
                    steps = (Step(where, tuple(range(len(base.layers)))),)
                    expected = Expected(int(top[i]), int(min(255, margin[i])), None, steps)
            outcomes.append(Outcome(i + 1, int(labels[i]), a, expected))
        return tuple(outcomes)

    def _node_host(self, instance_id: int) -> str:
        for n in self.deployment.nodes:
            if n.instance_id == instance_id:
                return n.host
        return f"instance {instance_id}"

    def status(self) -> str:
        """Counters of every switch, node advertisements and processes, digests, steering."""
        forest = self.deployment.models.forest if self.deployment.models else None
        classes = forest.classes if forest is not None else ()
        text = status_text(read_all_counters(self.fabric), self.deployment, self.observer, classes)
        procs = [
            f"inference node on {host}: pid {p.pid} "
            + ("running" if p.poll() is None else f"exited with {p.returncode}")
            for host, p in self.nodes.items()
        ]
        steering = []
        if self.steering is not None:
            steering = [
                f"steering service (decisions in {self.logs / CONTROLLER_LOG}, "
                f"metrics {self.metrics_url}/metrics):",
                *(f"  {line}" for line in steering_lines(self.steering.status(), self.deployment)),
            ]
        return "\n".join([text, *procs, *steering])

    def describe(self) -> list[str]:
        """What runs where: the deployment, the steering now, node processes, the endpoint."""
        lines = self.deployment.describe(self.steering_mode)
        if self.steering is not None:
            status = self.steering.status()
            lines += steering_lines(status, self.deployment, nodes=False, decisions=0)
            lines.append(
                f"controller: decisions in {self.logs / CONTROLLER_LOG}, plan "
                f"{self.logs / STEERING_PLAN}; metrics {self.metrics_url}/metrics, "
                f"status {self.metrics_url}/status"
            )
        elif self.steering_mode and self.deployment.nodes:
            lines.append(f"the controller's plan, for dinctl steer: {self.logs / STEERING_PLAN}")
        for host, proc in self.nodes.items():
            lines.append(
                f"inference node on {host}: pid {proc.pid}, UDP 7350, "
                f"log {self.logs / f'{host}-node.log'}"
            )
        return lines

    def restart_node(self, host: str) -> int:
        """Start the inference node on ``host`` again (after ``kill_node``); returns its PID."""
        node = self.deployment.node(host)
        old = self.nodes.get(host)
        if old is not None and old.poll() is None:
            raise TestbedError(f"the inference node on {host} still runs (pid {old.pid})")
        self.nodes[host] = start_node(self.net, self.deployment, node, self.logs)
        self.killed.discard(host)
        return int(self.nodes[host].pid)

    def kill_node(self, host: str) -> int:
        """Kill the inference node on ``host`` at once (SIGKILL, by PID), as a crash would."""
        proc = self.nodes.get(host)
        if proc is None:
            raise TestbedError(f"no inference node on {host!r} (nodes: {sorted(self.nodes)})")
        self.killed.add(host)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=STOP_TIMEOUT_S)
        return proc.pid

    def watched(self) -> list[Watched]:
        """The switch processes and the inference nodes not killed on purpose, for a watchdog."""
        items = []
        for name, info in self.net.switches.items():
            proc = getattr(self.net.net.get(name), "process", None)
            if proc is not None:
                items.append(Watched(f"switch {name}", proc, info.log_file))
        for host, proc in self.nodes.items():
            if host not in self.killed:
                log_file = self.logs / f"{host}-node.log"
                still = partial(self._not_killed, host)
                items.append(Watched(f"inference node on {host}", proc, log_file, still))
        return items

    def _not_killed(self, host: str) -> bool:
        return host not in self.killed


NODE_READY_TIMEOUT_S = 30.0


def node_argv(dep: Deployment, node: Node, logs: Path) -> list[str]:
    """The ``python -m nodes`` command of one of the deployment's inference nodes.

    A node serves the partitioned MLP as model 1, the same MLP whole as model
    2, the large model for model 1's escalations, and advertises its metrics
    towards the clients' switch.
    """
    models = dep.models
    if models is None:
        raise TestbedError("no models deployed: an inference node has nothing to serve")
    argv = [
        sys.executable, "-m", "nodes", "--instance-id", str(node.instance_id),
        "--model", f"{MODEL_ID}={models.path('base')}",
        "--model", f"{CLOUD_ONLY_MODEL_ID}={models.path('base')}",
        "--log-file", str(logs / f"{node.host}-node.log"),
    ]  # fmt: skip
    if models.large is not None:
        argv += ["--escalation-model", f"{MODEL_ID}={models.path('large')}"]
    if dep.advertise_to:
        argv += ["--advertise-to", dep.advertise_to]
        argv += ["--advertise-interval", str(ADVERTISE_INTERVAL_MS)]
    return argv


def start_node(net: network.Network, dep: Deployment, node: Node, logs: Path) -> Any:
    """Start one inference node in its host and wait until it is ready; returns the process."""
    proc = net.net.get(node.host).popen(
        node_argv(dep, node, logs), stdout=subprocess.PIPE, text=True
    )
    try:
        _wait_ready(node.host, proc)
    except BaseException:
        stop_nodes({node.host: proc})
        raise
    return proc


def start_nodes(net: network.Network, dep: Deployment, logs: Path) -> dict[str, Any]:
    """Start every inference node of the deployment; host name -> process."""
    if dep.models is None:
        return {}
    started: dict[str, Any] = {}
    try:
        for node in dep.nodes:
            started[node.host] = start_node(net, dep, node, logs)
    except BaseException:
        stop_nodes(started)
        raise
    return started


def _wait_ready(name: str, proc: Any) -> None:
    deadline = time.monotonic() + NODE_READY_TIMEOUT_S
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise network.NetworkError(
                    f"inference node on {name} exited with {proc.returncode}"
                )
            if sel.select(timeout=0.5) and proc.stdout.readline().startswith("ready"):
                return
    raise network.NetworkError(f"inference node on {name} was not ready in time")


def stop_nodes(nodes: dict[str, Any]) -> None:
    """Stop node processes by PID (SIGTERM, then SIGKILL)."""
    for proc in nodes.values():
        if proc.poll() is None:
            proc.terminate()
    for proc in nodes.values():
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stop_process(proc: subprocess.Popen[Any]) -> None:
    """Stop a process by PID: SIGTERM, then SIGKILL after a grace period."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def describe_latency(values: Sequence[float]) -> str:
    """p50/p99 of latencies in us, as milliseconds text."""
    if not values:
        return "-"
    return f"p50 {percentile(values, 50) / 1000:.1f} ms, p99 {percentile(values, 99) / 1000:.1f} ms"
