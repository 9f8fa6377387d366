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
   plots (matplotlib, Agg): per class: flows, classified as, accuracy and
   agreement with the model; per stream and path (where each layer ran, as
   the deployment's entries put them and the answer's instance and flags
   confirm): answers, latency p50/p99; failover: from the kill to the first
   answer through the backup instance, the gap in answers and the requests
   lost; policy: the switches' re-steers and drops.

Returns 0 when everything ran and every answer and class agreed with the
models, 1 otherwise (the summary says what). Starts processes only in
Mininet hosts through ``Testbed`` and waits for or stops each by PID.
May import matplotlib, controller, topologies and the standard library.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Iterable, Sequence
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
    """What the kill of a node did to the main stream."""

    killed: str
    pid: int
    at_s: float  # since the stream's first request
    backup: str | None
    first_backup_answer_s: float | None  # sent time, since the kill
    gap_ms: float | None  # between the last answered node-bound request before and the first after
    lost: int  # node-bound requests sent after the kill that got no answer
    failover_answers: int  # answers marked as failed over by the data plane


def run(testbed: Testbed, options: DemoOptions | None = None) -> int:
    """Run the demo on the testbed; print and write the summary; return an exit status."""
    opts = options or DemoOptions()
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
    runs, failover = _requests(testbed, opts, out)
    counters = read_all_counters(testbed.fabric)
    summary = _summary(
        testbed, opts, results=flow_results, runs=runs, failover=failover, counters=counters
    )
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    plots = _plots(testbed, flow_results, runs, failover, out)
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
    testbed: Testbed, opts: DemoOptions, out: Path
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
    return run_streams(testbed, specs, out, kill_at_s=kill_at)


def run_streams(
    testbed: Testbed, specs: Sequence[RequestSpec], out: Path, *, kill_at_s: float | None = None
) -> tuple[list[RequestRun], Failover | None]:
    """Run request streams side by side; answers go to ``<out>/answers-<i>.jsonl``.

    With ``kill_at_s``, the inference node the first stream's requests are
    steered to is killed (SIGKILL, by PID) that long after the stream's first
    request, and the failover is measured on that stream.
    """
    out.mkdir(parents=True, exist_ok=True)
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
    return runs, failover


def _answers(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    text = path.read_text(encoding="utf-8")
    # The client may be half-way through writing the last line.
    return [json.loads(line) for line in text.splitlines() if line.endswith("}")]


def _kill_at(testbed: Testbed, at_s: float, answers: Path) -> Failover:
    """Wait for the stream's first node answer, then kill that node ``at_s`` into the stream."""
    start = time.monotonic()
    target: str | None = None
    while target is None:
        if time.monotonic() - start > FIRST_NODE_ANSWER_TIMEOUT_S:
            raise TestbedError("the main request stream got no answer from a node to steer by")
        for a in _answers(answers):
            if not a["flags"] & FLAG_SWITCH_ANSWER and a["instance_id"]:
                target = testbed.deployment.node(a["instance_id"]).host
                break
        time.sleep(0.05)  # the client appends answers as they come
    first = min((a["sent_ns"] for a in _answers(answers)), default=time.perf_counter_ns())
    wait = at_s - (time.perf_counter_ns() - first) / 1e9
    if wait > 0:
        time.sleep(wait)  # that far into the stream, by its own clock
    pid = testbed.kill_node(target)
    # From here on the node is gone (killed and reaped): no request sent later reaches it.
    kill_ns = time.perf_counter_ns()
    print(f"killed the inference node on {target} (pid {pid})")
    return Failover(target, pid, (kill_ns - first) / 1e9, None, None, None, 0, 0)


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
    lost = sum(
        1
        for o in node_bound
        if o.request_id not in answers and first + (o.request_id - 1) * interval_ns >= kill_ns
    )
    flagged = sum(1 for a in answers.values() if a["flags"] & FLAG_FAILOVER)
    if not after:
        return Failover(killed.killed, killed.pid, killed.at_s, None, None, None, lost, flagged)
    t_after, backup_id = after[0]
    gap = (t_after - max(before)) / 1e6 if before else None
    return Failover(
        killed.killed,
        killed.pid,
        killed.at_s,
        dep.node(backup_id).host,
        (t_after - kill_ns) / 1e9,
        gap,
        lost,
        flagged,
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
            "lost_node_bound_requests": failover.lost,
            "answers_marked_failover": failover.failover_answers,
            "data_plane_failovers": {n: c.event("failover") for n, c in counters.items()},
        }
        if failover.backup is None:
            failed.append(f"no answer through a backup after {failover.killed} was killed")
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
    lines = [
        f"DIN demo on '{summary['topology']}' ({tc['switch']}, link delays: "
        f"{summary['link_delays']})",
        f"flows, classified at {summary['classifier_switch']}:",
        f"  {'workload':<20}{'class':<20}{'flows':>5}  {'classified as':<34}{'accuracy':>9}"
        f"{'model':>7}",
    ]
    for workload, c in summary["classes"].items():
        got = ", ".join(f"{k} {v}" for k, v in sorted(c["classified_as"].items()))
        acc = f"{c['accuracy']:.2f}" if c["accuracy"] is not None else "-"
        lines.append(
            f"  {workload:<20}{c['flow_class']:<20}{c['flows']:>5}  {got:<34}{acc:>9}"
            f"{c['model_agrees']:>4}/{c['flows']}"
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
            lines.append(
                f"failover: {fo['killed']} killed at {fo['at_s']:.2f} s; first answer through "
                f"{fo['backup']} sent {fo['failover_ms']:.0f} ms after the kill; answer gap "
                f"{fo['answer_gap_ms']} ms; {fo['lost_node_bound_requests']} requests lost"
            )
        else:
            lines.append(f"failover: {fo['killed']} killed; no answer through a backup")
    pol = ", ".join(
        f"{n}: re-steered {p['re_steered']}, dropped {p['dropped']}"
        for n, p in summary["policy"].items()
        if p["re_steered"] or p["dropped"]
    )
    lines.append(f"policy: {pol or 'no re-steer, no drop'}")
    return "\n".join(lines)


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
