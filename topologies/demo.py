"""The demo scenario (``make run SCENARIO=demo``): traffic, requests, a node killed, a summary.

On the started testbed, without a person at the keyboard:

1. flows: ``DemoOptions.flows_per_class`` flows of every workload class of
   ``traffic.workloads`` from the branch hosts (``topologies.flows``); per
   flow, the classifying switch's verdict (its digests and registers) and
   the quantized forest's class on the very features the switch held;
2. requests, side by side: model 1 (partitioned) from the first client as
   tenant 1, model 1 from the second client as the sensitive tenant (tenant
   2, sensitivity 1, on-premises instances only), and model 2 (the whole MLP
   on one cloud node, the cloud-only baseline); halfway through, the
   inference node the first stream is steered to is killed (SIGKILL, by PID);
3. the summary, printed and written to ``<logs>/demo/summary.json`` with PNG
   plots (matplotlib, Agg): per class: flows, classified as, accuracy (the
   class of each flow's last packet, and its class at the last packet of the
   forest's training window, from the switch's digests) and agreement with
   the model; per stream and path (where each layer ran, as
   the deployment's entries put them and the answer's instance and flags
   confirm): answers, latency p50/p99; failover in the data plane: the gap
   in the stream's node answers around the kill (the last answer of the
   killed node to the first through another), the first answer through the
   backup, the requests lost, and the switches' failovers before the kill
   (false ones); failover in the controller (with the steering service): the
   service's expiry decision minus the kill time, when it rewrote the
   groups without the node, and its expiries of nodes that were not killed
   (false ones); policy: the switches' re-steers and drops; with the steering
   service, the load over time (``LoadRecorder``: every node's advertised
   requests/s, utilisation and queue, and the steering switches' weights,
   sampled from the service every ``LOAD_SAMPLE_S`` while the requests run).

Returns 0 when everything ran and every answer and class agreed with the
models, 1 otherwise (the summary says what). Starts processes only in
Mininet hosts through ``Testbed`` and waits for or stops each by PID.
May import matplotlib, controller, topologies and the standard library.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

from nodes.client import held_out
from p4lite import toolchain
from topologies import flows
from topologies.deployment import (
    CLOUD_ONLY_MODEL_ID,
    MODEL_ID,
    SENSITIVE,
    TENANT_NORMAL,
    TENANT_SENSITIVE,
    steering_switches,
)
from topologies.observe import DROPS, EVENTS, read_all_counters
from topologies.testbed import (
    Outcome,
    RequestRun,
    RequestSpec,
    Testbed,
    TestbedError,
    latencies,
    percentile,
    stop_process,
)
from traffic.wire import FLAG_FAILOVER, FLAG_SWITCH_ANSWER
from traffic.workloads import WORKLOADS

log = logging.getLogger(__name__)

FIRST_NODE_ANSWER_TIMEOUT_S = 10.0
# The goals for failover, shown beside the figures (figures, not checks).
DATA_PLANE_GOAL_MS = 100
CONTROLLER_GOAL_MS = 1000
LOAD_SAMPLE_S = 0.1


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """How much the demo sends."""

    flows_per_class: int = 2
    flow_seconds: float = 3.0
    bulk_seconds: float = 1.0  # a bulk flow is thousands of full frames a second
    request_seconds: float = 8.0
    rate: float = 300.0  # requests/s of the main stream
    sensitive_rate: float = 50.0  # requests/s of each sensitive stream
    cloud_rate: float = 50.0
    kill: bool = True


@dataclass(frozen=True, slots=True)
class Failover:
    """What the kill of a node did to the main stream, in the data plane and the controller."""

    killed: str
    pid: int
    at_s: float  # since the stream's first request
    backup: str | None
    first_backup_answer_s: float | None  # sent time, since the kill
    gap_ms: float | None  # between the last answered node-bound request before and the first after
    lost: int  # node-bound requests sent after the kill that got no answer
    failover_answers: int  # answers marked as failed over by the data plane
    last_lost_s: float | None = None  # the last node-bound request lost, sent since the kill
    killed_at: float = 0.0  # wall clock (time.time()) of the kill, as the controller's decisions
    failovers_before: int = 0  # the switches' failover events before the kill: false ones
    expired_s: float | None = None  # the controller's expiry of the node, since the kill
    reprogrammed_s: float | None = None  # its groups rewritten without the node, since the kill
    false_expiries: tuple[str, ...] = ()  # the controller's other expiries (not the kill's)


class LoadRecorder:
    """Samples the steering service's view of the nodes' load and its weights, in a thread.

    Every ``interval`` seconds between ``__enter__`` and ``__exit__``: per
    live instance its last advertised requests/s, utilisation and queue
    length, and per steering switch model 1's weights (selector members per
    instance). ``samples`` holds them with ``t``, seconds since the start.
    """

    def __init__(self, testbed: Testbed, interval: float = LOAD_SAMPLE_S) -> None:
        """Prepare; nothing is sampled before ``__enter__``."""
        if testbed.steering is None:
            raise TestbedError("the load recorder needs the steering service")
        self.service = testbed.steering
        self.interval = interval
        self.started = 0.0  # wall clock (time.time()) of the first sample
        self.samples: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-load", daemon=True)

    def __enter__(self) -> LoadRecorder:
        """Start sampling."""
        self.started = time.time()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop sampling (one last sample) and wait for the thread."""
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self.samples.append(self.sample())
            if self._stop.wait(self.interval):
                self.samples.append(self.sample())
                return

    def sample(self) -> dict[str, Any]:
        """One sample of the service's status."""
        status = self.service.status()
        weights = {
            name: {
                int(i): w
                for svc in sw["services"]
                if svc["model_id"] == MODEL_ID
                for i, w in svc["weights"].items()
            }
            for name, sw in status["switches"].items()
            if any(svc["model_id"] == MODEL_ID for svc in sw["services"])
        }
        return {
            "t": round(time.time() - self.started, 3),
            "instances": {
                v["instance_id"]: {
                    "req_rate": v["req_rate"],
                    "utilisation": v["utilisation"],
                    "queue_len": v["queue_len"],
                }
                for v in status["instances"]
            },
            "weights": weights,
        }


def run(testbed: Testbed, options: DemoOptions | None = None) -> int:
    """Run the demo on the testbed; print and write the summary; return an exit status."""
    opts = options or DemoOptions()
    began = time.time()
    out = testbed.logs / "demo"
    out.mkdir(parents=True, exist_ok=True)
    dep = testbed.deployment
    if dep.models is None or not dep.nodes:
        raise TestbedError("the demo needs the default models and inference nodes (make models)")
    print(f"demo: {opts.flows_per_class} flow(s) of each of {len(WORKLOADS)} traffic classes")
    plan = flows.plan_flows(
        dep,
        list(WORKLOADS),
        per_class=opts.flows_per_class,
        duration={w: opts.bulk_seconds if w == "bulk" else opts.flow_seconds for w in WORKLOADS},
    )
    flows.send_flows(testbed, plan, out / "flows")
    flow_results = flows.classify_flows(testbed, plan, out / "probes")
    print("demo: request streams, a node killed halfway")
    recorder = LoadRecorder(testbed) if testbed.steering is not None else None
    recording: AbstractContextManager[object] = recorder or nullcontext()
    with recording:
        runs, failover = _requests(testbed, opts, out, since=began)
    counters = read_all_counters(testbed.fabric)
    summary = _summary(
        testbed, opts, results=flow_results, runs=runs, failover=failover, counters=counters
    )
    if recorder is not None:
        summary["load"] = _load_json(testbed, recorder, failover)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    plots = _plots(testbed, flow_results, runs, failover, out)
    if recorder is not None and recorder.samples:
        plots.append(_load_plot(summary["load"], out))
    print(_table(summary))
    print(f"written: {out / 'summary.json'}, " + ", ".join(str(p) for p in plots))
    ok = summary["checks"]["ok"]
    if not ok:
        print(f"demo: checks failed: {'; '.join(summary['checks']['failed'])}")
    return 0 if ok else 1


def _senders(testbed: Testbed) -> tuple[str, list[str]]:
    """The main stream's client, and the other branch hosts (the sensitive tenant's)."""
    hosts = testbed.deployment.topology.hosts.values()
    clients = [h.name for h in hosts if h.extra.get("kind") == "client"]
    if not clients:
        raise TestbedError("the demo needs a client host (kind: client)")
    others = [h.name for h in hosts if h.extra.get("kind") in flows.BRANCH_KINDS]
    return clients[0], [h for h in others if h != clients[0]] or clients


def _requests(
    testbed: Testbed, opts: DemoOptions, out: Path, since: float | None = None
) -> tuple[list[RequestRun], Failover | None]:
    """The main stream, the sensitive tenant's streams and the cloud-only baseline at once.

    Each sensitive stream comes from its own host (so its own socket, which the
    edge switch's selector hashes to an instance of its own); the baseline covers
    the first 40% of the time only, so that the kill does not cut it short.
    """
    dep = testbed.deployment
    main, others = _senders(testbed)
    cloud = next((n for n in dep.nodes if n.premises != "on-premises"), dep.nodes[-1])
    seconds = opts.request_seconds
    specs = [RequestSpec(main, MODEL_ID, None, int(opts.rate * seconds), opts.rate, TENANT_NORMAL)]
    specs += [
        RequestSpec(host, MODEL_ID, None, int(opts.sensitive_rate * seconds), opts.sensitive_rate,
                    TENANT_SENSITIVE, SENSITIVE)
        for host in others
    ]  # fmt: skip
    specs.append(
        RequestSpec(main, CLOUD_ONLY_MODEL_ID, cloud.host, int(opts.cloud_rate * seconds * 0.4),
                    opts.cloud_rate, TENANT_NORMAL)
    )  # fmt: skip
    kill_at = seconds / 2 if opts.kill else None
    return run_streams(testbed, specs, out, kill_at_s=kill_at, since=since)


def run_streams(
    testbed: Testbed,
    specs: Sequence[RequestSpec],
    out: Path,
    *,
    kill_at_s: float | None = None,
    since: float | None = None,
) -> tuple[list[RequestRun], Failover | None]:
    """Run request streams side by side; answers go to ``<out>/answers-<i>.jsonl``.

    With ``kill_at_s``, the inference node the first stream's requests are
    steered to is killed (SIGKILL, by PID) that long after the stream's first
    request, and the failover is measured on that stream; the steering
    service's other expiries count from ``since`` (wall clock; default: now).
    """
    out.mkdir(parents=True, exist_ok=True)
    started_at = time.time() if since is None else since
    files = [out / f"answers-{i}.jsonl" for i in range(len(specs))]
    for f in files:
        f.unlink(missing_ok=True)
    procs = []
    try:
        for spec, f in zip(specs, files, strict=True):
            procs.append(testbed.start_requests(spec, f))
        failover = _kill_at(testbed, kill_at_s, files[0]) if kill_at_s is not None else None
        runs = [
            testbed.finish_requests(spec, proc, f)
            for spec, proc, f in zip(specs, procs, files, strict=True)
        ]
    finally:
        for proc in procs:
            stop_process(proc)
    if failover is not None:
        failover = _measure_failover(testbed, runs[0], failover, files[0])
        failover = _controller_failover(testbed, failover, started_at, time.time())
    return runs, failover


def _answers(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    text = path.read_text(encoding="utf-8")
    # The client may be half-way through writing the last line.
    return [json.loads(line) for line in text.splitlines() if line.endswith("}")]


def _kill_at(testbed: Testbed, at_s: float, answers: Path) -> Failover:
    """Kill, ``at_s`` into the stream, the node its latest node answer came from."""
    start = time.monotonic()
    while not any(_node_answer(a) for a in _answers(answers)):
        if time.monotonic() - start > FIRST_NODE_ANSWER_TIMEOUT_S:
            raise TestbedError("the main request stream got no answer from a node to steer by")
        time.sleep(0.05)  # the client appends answers as they come
    first = min((a["sent_ns"] for a in _answers(answers)), default=time.perf_counter_ns())
    wait = at_s - (time.perf_counter_ns() - first) / 1e9
    if wait > 0:
        time.sleep(wait)  # that far into the stream, by its own clock
    # The node the stream goes to now (the controller may have moved it since its start).
    latest = max((a for a in _answers(answers) if _node_answer(a)), key=lambda a: a["sent_ns"])
    target = testbed.deployment.node(latest["instance_id"]).host
    before = sum(c.event("failover") for c in read_all_counters(testbed.fabric).values())
    pid = testbed.kill_node(target)
    # From here on the node is gone (killed and reaped): no request sent later reaches it.
    kill_ns, killed_at = time.perf_counter_ns(), time.time()
    print(f"killed the inference node on {target} (pid {pid})")
    return Failover(
        killed=target,
        pid=pid,
        at_s=(kill_ns - first) / 1e9,
        backup=None,
        first_backup_answer_s=None,
        gap_ms=None,
        lost=0,
        failover_answers=0,
        killed_at=killed_at,
        failovers_before=before,
    )


def _node_answer(answer: dict[str, Any]) -> bool:
    return not answer["flags"] & FLAG_SWITCH_ANSWER and bool(answer["instance_id"])


def _controller_failover(
    testbed: Testbed, killed: Failover, since: float, until: float
) -> Failover:
    """The steering service's side of the kill: its expiry of the node, its rewrite, false ones.

    From its decisions between ``since`` and ``until`` (wall clock, the streams'
    run): the first expiry of the killed node after the kill, the first
    programming after that, and every other expiry.
    """
    service = testbed.steering
    if service is None:
        return killed
    dead = testbed.deployment.node(killed.killed).instance_id
    steering = set(steering_switches(testbed.deployment.topology))
    expired: float | None = None
    reprogrammed: float | None = None
    false: list[str] = []
    for d in list(service.decisions):
        if not since <= d.time <= until:
            continue
        if d.kind == "expired":
            (inst,) = d.instances
            if inst == dead and d.time >= killed.killed_at and expired is None:
                expired = d.time - killed.killed_at
            else:
                host = testbed.deployment.node(inst).host
                false.append(f"{host} at {d.time - killed.killed_at:+.2f} s")
        elif (
            d.kind == "program"
            and expired is not None
            and reprogrammed is None
            and d.switch in steering
            and d.instances
            and dead not in d.instances
        ):
            reprogrammed = d.time - killed.killed_at
    return dataclasses.replace(
        killed, expired_s=expired, reprogrammed_s=reprogrammed, false_expiries=tuple(false)
    )


def _measure_failover(testbed: Testbed, run: RequestRun, killed: Failover, path: Path) -> Failover:
    answers = {a["request_id"]: a for a in _answers(path)}
    if not answers:
        return killed
    first = min(a["sent_ns"] for a in answers.values())
    kill_ns = first + int(killed.at_s * 1e9)
    dep = testbed.deployment
    dead = dep.node(killed.killed).instance_id
    # Requests a node must answer (no early exit): known from the entries, answered or not.
    node_bound = _node_bound(testbed, run)
    interval_ns = 1e9 / run.spec.rate
    before = [
        answers[o.request_id]["sent_ns"]
        for o in node_bound
        if o.request_id in answers
        and answers[o.request_id]["instance_id"] == dead
        and answers[o.request_id]["sent_ns"] < kill_ns
    ]
    after = sorted(
        (answers[o.request_id]["sent_ns"], answers[o.request_id]["instance_id"])
        for o in node_bound
        if o.request_id in answers
        and answers[o.request_id]["sent_ns"] >= kill_ns
        and answers[o.request_id]["instance_id"] != dead
    )
    # Unanswered requests have no send time: the client paces them at the stream's rate.
    lost_sent = [
        first + (o.request_id - 1) * interval_ns
        for o in node_bound
        if o.request_id not in answers and first + (o.request_id - 1) * interval_ns >= kill_ns
    ]
    lost = len(lost_sent)
    flagged = sum(1 for a in answers.values() if a["flags"] & FLAG_FAILOVER)
    if not after:
        return dataclasses.replace(killed, lost=lost, failover_answers=flagged)
    # The data plane failed over after the last request it lost, before the first it saved.
    last_lost = max((t for t in lost_sent if t < after[0][0]), default=None)
    t_after, backup_id = after[0]
    gap = (t_after - max(before)) / 1e6 if before else None
    return dataclasses.replace(
        killed,
        backup=dep.node(backup_id).host,
        first_backup_answer_s=(t_after - kill_ns) / 1e9,
        gap_ms=gap,
        lost=lost,
        failover_answers=flagged,
        last_lost_s=(last_lost - kill_ns) / 1e9 if last_lost is not None else None,
    )


def _node_bound(testbed: Testbed, run: RequestRun) -> list[Outcome]:
    """The requests of a model 1 stream that no switch answers (by the entries), in order."""
    ref, dep = testbed.reference, testbed.deployment
    if ref is None or dep.models is None:
        return []
    inputs, _ = held_out(dep.models.base, len(run.outcomes))
    any_node = dep.nodes[0].instance_id
    return [
        o
        for o in run.outcomes
        if ref.expect(run.spec.client, any_node, inputs[o.request_id - 1]).by_switch is None
    ]


def _stream_name(spec: RequestSpec) -> str:
    if spec.model_id == CLOUD_ONLY_MODEL_ID:
        return f"{spec.client} model {spec.model_id} -> {spec.to} (cloud only)"
    kind = "sensitive" if spec.tenant == TENANT_SENSITIVE else "normal"
    return f"{spec.client} model {spec.model_id} tenant {spec.tenant} ({kind})"


def _summary(
    testbed: Testbed,
    opts: DemoOptions,
    *,
    results: Sequence[flows.FlowResult],
    runs: Sequence[RequestRun],
    failover: Failover | None,
    counters: dict[str, Any],
) -> dict[str, Any]:
    dep = testbed.deployment
    forest = dep.models.forest if dep.models is not None else None
    assert forest is not None
    failed: list[str] = []
    classes: dict[str, Any] = {}
    # The forest learnt from each flow's first packets: its class at the last of them.
    window = int(forest.data.get("packet_limit", 0) or 0) or None
    for workload in WORKLOADS:
        mine = [r for r in results if r.spec.workload == workload]
        truth = flows.true_class(forest, workload)
        got = Counter(flows.class_name(forest, r.final_class) for r in mine)
        classes[workload] = {
            "flow_class": flows.class_name(forest, truth),
            "flows": len(mine),
            "packets": sum(r.frames for r in mine),
            "classified_as": dict(got),
            "accuracy": _share(r.final_class == truth for r in mine),
            "window_packets": window,
            "accuracy_in_window": _share(_class_at(r, window) == truth for r in mine)
            if window
            else None,
            "model_agrees": sum(r.agrees for r in mine),
            # On the probe packets, whose features are known exactly: switch and model.
            "probe_accuracy_switch": _share(r.probe_switch == truth for r in mine),
            "probe_accuracy_model": _share(r.probe_model == truth for r in mine),
        }
    disagree = [f"{r.spec.workload} {r.spec.key}" for r in results if not r.agrees]
    if disagree:
        failed.append(f"flows classified unlike the model: {', '.join(disagree)}")
    streams = []
    for run in runs:
        paths = {}
        for path, group in run.by_path().items():
            lat = latencies(group)
            paths[path] = {
                "requests": len(group),
                "latency_ms_p50": round(percentile(lat, 50) / 1000, 3) if lat else None,
                "latency_ms_p99": round(percentile(lat, 99) / 1000, 3) if lat else None,
            }
        served = [o for o in run.outcomes if o.served]
        wrong = len(served) - sum(o.agrees for o in served)
        if wrong:
            failed.append(f"{_stream_name(run.spec)}: {wrong} answers unlike the reference")
        streams.append(
            {
                "stream": _stream_name(run.spec),
                "client": run.spec.client,
                "to": run.target,
                "model_id": run.spec.model_id,
                "tenant": run.spec.tenant,
                "sensitivity": run.spec.sensitivity,
                "rate": run.spec.rate,
                "sent": len(run.outcomes),
                "answered": sum(o.answered for o in run.outcomes),
                "served": len(served),
                "agree_with_reference": len(served) - wrong,
                "accuracy": sum(o.answer is not None and o.answer["result_class"] == o.label
                                for o in served) / len(served) if served else None,
                "paths": paths,
            }
        )  # fmt: skip
    policy = {
        name: {
            "re_steered": c.event("policy re-steer"),
            "dropped": c.event("policy drop"),
            "dropped_by_sensitivity": {str(s): n for s, n in enumerate(c.policy_drops) if n},
        }
        for name, c in counters.items()
    }
    fo = None
    if failover is not None:
        fo = {
            "killed": failover.killed,
            "pid": failover.pid,
            "at_s": round(failover.at_s, 3),
            "backup": failover.backup,
            "failover_ms": round(failover.first_backup_answer_s * 1000, 1)
            if failover.first_backup_answer_s is not None
            else None,
            "answer_gap_ms": round(failover.gap_ms, 1) if failover.gap_ms is not None else None,
            # The data plane failed over between these two (node-bound requests are sparse).
            "last_lost_ms": _ms(failover.last_lost_s),
            "lost_node_bound_requests": failover.lost,
            "answers_marked_failover": failover.failover_answers,
            "data_plane_failovers": {n: c.event("failover") for n, c in counters.items()},
            "data_plane_failovers_before_kill": failover.failovers_before,
            "data_plane_goal_ms": DATA_PLANE_GOAL_MS,
            "controller": None,
        }
        if failover.backup is None:
            failed.append(f"no answer through a backup after {failover.killed} was killed")
        if testbed.steering is not None:
            fo["controller"] = {
                "expired_ms": _ms(failover.expired_s),
                "groups_rewritten_ms": _ms(failover.reprogrammed_s),
                "false_expiries": list(failover.false_expiries),
                "goal_ms": CONTROLLER_GOAL_MS,
            }
            if failover.expired_s is None:
                failed.append(f"the steering service did not expire {failover.killed}")
    sw = toolchain.switch()
    return {
        "toolchain": {"switch": sw.name, "real": sw.real, "compiler": toolchain.compiler().name},
        "topology": dep.topology.name.removesuffix(".json"),
        "link_delays": testbed.net.wan_delay.value,
        "options": {
            "flows_per_class": opts.flows_per_class,
            "flow_seconds": opts.flow_seconds,
            "request_seconds": opts.request_seconds,
        },
        "classifier_switch": dep.classifier_switches[0] if dep.classifier_switches else None,
        "classes": classes,
        "flows": [_flow_json(r, forest) for r in results],
        "streams": streams,
        "failover": fo,
        "policy": policy,
        "counters": {
            name: {
                "events": {n: v for n, v in zip(EVENTS, c.events, strict=False) if v},
                "drops": {n: v for n, v in zip(DROPS, c.drops, strict=False) if v},
                "class_packets": list(c.class_packets[: len(forest.classes)]),
                "instance_requests": {
                    dep.node(i).host: v
                    for i, v in enumerate(c.instance_requests)
                    if v and any(n.instance_id == i for n in dep.nodes)
                },
            }
            for name, c in counters.items()
        },
        "checks": {"ok": not failed, "failed": failed},
    }


def _class_at(result: flows.FlowResult, packet: int | None) -> int | None:
    """The switch's class of a flow at ``packet`` (its last, if shorter), from its digests.

    A digest reports the flow's first class and every change, with its packet.
    """
    last = min(packet, result.packets_seen) if packet else result.packets_seen
    seen = [d for d in result.digests if d.pkts <= last]
    return seen[-1].flow_class if seen else None


def _ms(seconds: float | None) -> float | None:
    return round(seconds * 1000, 1) if seconds is not None else None


def _share(hits: Iterable[bool]) -> float | None:
    values = list(hits)
    return round(sum(values) / len(values), 4) if values else None


def _flow_json(r: flows.FlowResult, forest: Any) -> dict[str, Any]:
    return {
        "workload": r.spec.workload,
        "flow": str(r.spec.key),
        "host": r.spec.host,
        "frames": r.frames,
        "seen": r.packets_seen,
        "digests": [
            [d.pkts, flows.class_name(forest, d.flow_class), d.confidence] for d in r.digests
        ],
        "final_class": flows.class_name(forest, r.final_class),
        "probe": {
            "features": list(r.probe_features),
            "switch": flows.class_name(forest, r.probe_switch),
            "model": flows.class_name(forest, r.probe_model),
            "entries": flows.class_name(forest, r.probe_simulator),
        },
        "agrees": r.agrees,
    }


def _table(summary: dict[str, Any]) -> str:
    tc = summary["toolchain"]
    window = next((c["window_packets"] for c in summary["classes"].values()), None)
    lines = [
        f"DIN demo on '{summary['topology']}' ({tc['switch']}, link delays: "
        f"{summary['link_delays']})",
        f"flows, classified at {summary['classifier_switch']}:",
        f"  {'workload':<20}{'class':<20}{'flows':>5}  {'classified as':<34}{'accuracy':>9}"
        f"{'at pkt ' + str(window) if window else '':>11}{'model':>7}",
    ]
    for workload, c in summary["classes"].items():
        got = ", ".join(f"{k} {v}" for k, v in sorted(c["classified_as"].items()))
        acc = f"{c['accuracy']:.2f}" if c["accuracy"] is not None else "-"
        early = c["accuracy_in_window"]
        at = f"{early:.2f}" if early is not None else ""
        lines.append(
            f"  {workload:<20}{c['flow_class']:<20}{c['flows']:>5}  {got:<34}{acc:>9}"
            f"{at:>11}{c['model_agrees']:>4}/{c['flows']}"
        )
    lines.append("requests:")
    for s in summary["streams"]:
        lines.append(
            f"  {s['stream']}: {s['answered']}/{s['sent']} answered, "
            f"{s['agree_with_reference']}/{s['served']} as the reference"
        )
        for path, p in s["paths"].items():
            lat = (
                f"p50 {p['latency_ms_p50']:.1f} ms, p99 {p['latency_ms_p99']:.1f} ms"
                if p["latency_ms_p50"] is not None
                else ""
            )
            lines.append(f"    {p['requests']:6d}  {path:<46} {lat}")
    fo = summary["failover"]
    if fo is not None:
        if fo["backup"] is not None:
            since = (
                f"last lost sent {fo['last_lost_ms']:.0f} ms, "
                if fo["last_lost_ms"] is not None
                else ""
            )
            lines.append(
                f"failover: {fo['killed']} killed at {fo['at_s']:.2f} s; data plane: answer gap "
                f"{fo['answer_gap_ms']} ms (goal {fo['data_plane_goal_ms']} ms; {since}first "
                f"answer through {fo['backup']} sent {fo['failover_ms']:.0f} ms after the kill), "
                f"{fo['lost_node_bound_requests']} requests lost, "
                f"{fo['data_plane_failovers_before_kill']} failovers before the kill"
            )
        else:
            lines.append(f"failover: {fo['killed']} killed; no answer through a backup")
        ctl = fo["controller"]
        if ctl is not None:
            expired = (
                f"{fo['killed']} expired {ctl['expired_ms']:.0f} ms after the kill"
                if ctl["expired_ms"] is not None
                else f"{fo['killed']} not expired"
            )
            rewritten = (
                f", groups rewritten without it at {ctl['groups_rewritten_ms']:.0f} ms"
                if ctl["groups_rewritten_ms"] is not None
                else ""
            )
            false = ", ".join(ctl["false_expiries"]) or "none"
            lines.append(
                f"  controller: {expired} (goal {ctl['goal_ms']} ms){rewritten}; "
                f"other expiries: {false}"
            )
    pol = ", ".join(
        f"{n}: re-steered {p['re_steered']}, dropped {p['dropped']}"
        for n, p in summary["policy"].items()
        if p["re_steered"] or p["dropped"]
    )
    lines.append(f"policy: {pol or 'no re-steer, no drop'}")
    return "\n".join(lines)


def _load_json(
    testbed: Testbed, recorder: LoadRecorder, failover: Failover | None
) -> dict[str, Any]:
    """The recorder's samples, instances named by their hosts, and the kill on its time axis."""
    dep = testbed.deployment
    hosts = {n.instance_id: n.host for n in dep.nodes}
    return {
        "interval_s": recorder.interval,
        "killed": None if failover is None else failover.killed,
        "killed_at_s": (
            None if failover is None else round(failover.killed_at - recorder.started, 3)
        ),
        "samples": [
            {
                "t": smp["t"],
                "nodes": {hosts.get(i, str(i)): v for i, v in smp["instances"].items()},
                "weights": {
                    sw: {hosts.get(i, str(i)): w for i, w in ws.items()}
                    for sw, ws in smp["weights"].items()
                },
            }
            for smp in recorder.samples
        ],
    }


def _load_plot(load: dict[str, Any], out: Path) -> Path:
    """``load.png``: the nodes' advertised requests/s and utilisation, the weights, over time."""
    samples = load["samples"]
    nodes = sorted({h for smp in samples for h in smp["nodes"]})
    switches = sorted({sw for smp in samples for sw in smp["weights"]})
    fig, axes = plt.subplots(3, 1, figsize=(10, 7), sharex=True)
    for host in nodes:
        pts = [(smp["t"], smp["nodes"][host]) for smp in samples if host in smp["nodes"]]
        ts = [t for t, _ in pts]
        axes[0].plot(ts, [v["req_rate"] for _, v in pts], label=host)
        axes[1].plot(ts, [v["utilisation"] for _, v in pts], label=host)
        for sw in switches:
            ws = [(smp["t"], smp["weights"].get(sw, {}).get(host, 0)) for smp in samples]
            axes[2].step(
                [t for t, _ in ws], [w for _, w in ws], where="post", label=f"{sw}: {host}"
            )
    axes[0].set_ylabel("requests/s")
    axes[1].set_ylabel("utilisation (%)")
    axes[2].set_ylabel("selector members")
    axes[2].set_xlabel("time since the request streams began (s)")
    axes[0].set_title("inference nodes' advertised load and the controller's weights")
    for ax in axes:
        if load["killed_at_s"] is not None:
            ax.axvline(load["killed_at_s"], color="black", linestyle="--")
        ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    path = out / "load.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _plots(
    testbed: Testbed,
    results: Sequence[flows.FlowResult],
    runs: Sequence[RequestRun],
    failover: Failover | None,
    out: Path,
) -> list[Path]:
    written = []
    # Latency per path, every stream.
    fig, ax = plt.subplots(figsize=(10, 5))
    labels, data = [], []
    for run in runs:
        for path, group in run.by_path().items():
            lat = [v / 1000 for v in latencies(group)]
            if lat:
                labels.append(f"{run.spec.client} m{run.spec.model_id} t{run.spec.tenant}\n{path}")
                data.append(lat)
    if data:
        ax.boxplot(data, vert=False, showfliers=False)
        ax.set_yticks(range(1, len(labels) + 1), labels, fontsize=7)
        ax.set_xscale("log")
        ax.set_xlabel("round-trip latency (ms)")
        ax.set_title("DIN request latency by where the layers ran")
        fig.tight_layout()
        written.append(out / "latency.png")
        fig.savefig(written[-1], dpi=110)
    plt.close(fig)
    # The main stream over time, around the kill.
    main = runs[0]
    answers = _answers(out / "answers-0.jsonl")
    if answers:
        t0 = min(a["sent_ns"] for a in answers)
        fig, ax = plt.subplots(figsize=(10, 4))
        groups: dict[str, list[tuple[float, float]]] = {}
        for a in answers:
            if a["flags"] & FLAG_SWITCH_ANSWER:
                label = "answered by a switch"
            else:
                label = f"answered by {testbed.deployment.node(a['instance_id']).host}"
                if a["flags"] & FLAG_FAILOVER:
                    label += " (failover)"
            groups.setdefault(label, []).append(((a["sent_ns"] - t0) / 1e9, a["latency_us"] / 1e3))
        for label, pts in sorted(groups.items()):
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=4, label=label)
        lost = [(o.request_id - 1) / main.spec.rate for o in main.outcomes if not o.answered]
        if lost:
            ax.scatter(lost, [0.1] * len(lost), marker="x", color="red", s=12, label="lost")
        if failover is not None:
            ax.axvline(
                failover.at_s, color="black", linestyle="--", label=f"{failover.killed} killed"
            )
            if failover.expired_s is not None:
                ax.axvline(
                    failover.at_s + failover.expired_s,
                    color="grey",
                    linestyle=":",
                    label=f"the controller expired {failover.killed}",
                )
        ax.set_yscale("log")
        ax.set_xlabel("send time (s)")
        ax.set_ylabel("latency (ms)")
        ax.set_title(_stream_name(main.spec))
        ax.legend(fontsize=7, markerscale=3)
        fig.tight_layout()
        written.append(out / "timeline.png")
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)
    # Flow classes: workload class against the switch's class.
    forest = testbed.deployment.models.forest if testbed.deployment.models else None
    if forest is not None and results:
        names = list(WORKLOADS)
        matrix = [[0] * len(forest.classes) for _ in names]
        for r in results:
            if r.final_class is not None and 0 <= r.final_class < len(forest.classes):
                matrix[names.index(r.spec.workload)][r.final_class] += 1
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.imshow(matrix, cmap="Blues")
        ax.set_xticks(range(len(forest.classes)), forest.classes, rotation=30, fontsize=8)
        ax.set_yticks(range(len(names)), names, fontsize=8)
        for i, row in enumerate(matrix):
            for j, v in enumerate(row):
                if v:
                    ax.text(j, i, str(v), ha="center", va="center")
        ax.set_xlabel("classified as (switch)")
        ax.set_title("flows by workload and the switch's class")
        fig.tight_layout()
        written.append(out / "classes.png")
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)
    return written
