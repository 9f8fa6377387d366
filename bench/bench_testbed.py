"""Testbed benchmark: the enterprise testbed with its default deployment, end to end.

Starts the ``enterprise`` topology as ``make run`` does (``topologies.net.started``:
Mininet, the chosen switch and compiler, the default models, inference nodes,
the static steering plan) and measures:

- ``seconds_up``: from nothing to every entry installed and every node ready;
  ``entries``: how many entries that was; ``rss_mib.<switch>``: each switch
  process's VmRSS with its entries;
- ``latency_ms.<path>`` p50/p99 and ``requests.<path>``: partitioned requests
  (model 1, from the branch hosts to the service address, one stream at a
  time at ``--rate``) by where their layers ran: ``switch_answer`` (layer 0 and
  the exit head on the edge switch, answered there), ``edge_node`` (the rest on
  the on-premises node), ``split_cloud`` (layer 1 on the in-network switch,
  the last on a cloud node across the WAN); and ``cloud_only`` (model 2: the
  whole MLP on a cloud node, the raw inputs sent across the WAN);
- ``failover_ms`` median and max over ``--trials``: a stream's node killed
  (SIGKILL), the time until its first request answered through the backup
  (the data plane alone: the static plan's staleness threshold), with
  ``lost_requests`` per trial; the node is restarted between trials.

Needs root; run it under ``flock /tmp/din-net.lock``. Usage:
``python bench/bench_testbed.py [--json FILE] [--trials N] [--rate R]``.
Prints the figures and writes them with ``--json``; no pass/fail.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_bringup import rss_mib

from p4lite import toolchain
from topologies import demo
from topologies import net as testbed_net
from topologies.deployment import CLOUD_ONLY_MODEL_ID, MODEL_ID, TENANT_NORMAL
from topologies.testbed import Outcome, RequestSpec, Testbed, latencies, percentile

REPO = Path(__file__).resolve().parent.parent
BRANCH = ("h1", "h2", "iot1", "iot2")
MAX_RUNS = 16
ADVERT_WAIT_S = 5.0


def path_kind(outcome: Outcome) -> str | None:
    """The latency group of a served model 1 request, from where its layers ran."""
    e = outcome.expected
    if not outcome.served or e is None:
        return None
    if e.by_switch is not None:
        return "switch_answer"
    switches = [s.where for s in e.steps[:-1]]
    return "split_cloud" if len(switches) > 1 else "edge_node"


def latency_figures(tb: Testbed, rate: float, count: int, work: Path) -> dict[str, Any]:
    """Streams until every path has ``count`` samples (or MAX_RUNS streams); p50/p99 per path."""
    groups: dict[str, list[Outcome]] = {"switch_answer": [], "edge_node": [], "split_cloud": []}
    for n in range(MAX_RUNS):
        spec = RequestSpec(BRANCH[n % len(BRANCH)], MODEL_ID, count=200, rate=rate,
                           tenant=TENANT_NORMAL)  # fmt: skip
        run = tb.requests(spec, work / f"latency-{n}.jsonl")
        for o in run.outcomes:
            kind = path_kind(o)
            if kind is not None:
                groups[kind].append(o)
        if all(len(g) >= count for g in groups.values()):
            break
    cloud = next(n.host for n in tb.deployment.nodes if n.premises != "on-premises")
    baseline = tb.requests(
        RequestSpec("h1", CLOUD_ONLY_MODEL_ID, to=cloud, count=count, rate=rate / 2),
        work / "cloud-only.jsonl",
    )
    groups["cloud_only"] = [o for o in baseline.outcomes if o.served]
    figures: dict[str, Any] = {"latency_ms": {}, "requests": {}}
    for kind, group in groups.items():
        lat = latencies(group)
        figures["requests"][kind] = len(lat)
        if lat:
            figures["latency_ms"][kind] = {
                "p50": round(percentile(lat, 50) / 1000, 3),
                "p99": round(percentile(lat, 99) / 1000, 3),
            }
    return figures


def failover_figures(tb: Testbed, trials: int, rate: float, work: Path) -> dict[str, Any]:
    """Kill the node a stream goes to, ``trials`` times (restarting it in between)."""
    times, lost, killed = [], [], []
    for n in range(trials):
        spec = RequestSpec(BRANCH[n % len(BRANCH)], MODEL_ID, count=int(rate * 4), rate=rate,
                           tenant=TENANT_NORMAL)  # fmt: skip
        _, failover = demo.run_streams(tb, [spec], work / f"failover-{n}", kill_at_s=2.0)
        assert failover is not None
        killed.append(failover.killed)
        lost.append(failover.lost)
        if failover.first_backup_answer_s is not None:
            times.append(failover.first_backup_answer_s * 1000)
        restarted = time.monotonic()
        tb.restart_node(failover.killed)
        instance = tb.deployment.node(failover.killed).instance_id
        # The next trial starts once the edge switch hears the node again.
        edge = tb.deployment.client_switch(spec.client)
        deadline = restarted + ADVERT_WAIT_S
        while time.monotonic() < deadline:
            seen = tb.observer.adverts().get((edge, instance))
            if seen is not None and seen.received > restarted:
                break
            time.sleep(0.05)
    return {
        "failover_trials": trials,
        "failover_measured": len(times),
        "failover_ms_median": round(statistics.median(times), 1) if times else None,
        "failover_ms_max": round(max(times), 1) if times else None,
        "lost_requests": lost,
        "killed": killed,
    }


def main() -> int:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--rate", type=float, default=200.0, help="requests/s of a stream")
    parser.add_argument("--samples", type=int, default=100, help="latency samples per path")
    args = parser.parse_args()
    cc, sw = toolchain.compiler(), toolchain.switch()
    figures: dict[str, Any] = {
        "toolchain": {"compiler": cc.name, "switch": sw.name, "real": cc.real and sw.real}
    }
    with tempfile.TemporaryDirectory() as tmp:
        build = Path(tmp) / "build"
        made = subprocess.run(
            ["make", "--no-print-directory", "-C", str(REPO), "build", "models",
             f"BUILD_DIR={build}"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if made.returncode != 0:
            print(made.stdout + made.stderr)
            return 1
        compiled = toolchain.Compiled(
            REPO / "p4src" / "din.p4", build / "din.json", build / "din.p4info.txtpb"
        )
        topo = testbed_net.load_topology("enterprise")
        start = time.perf_counter()
        # The static plan: the failover figures are the data plane's alone.
        with testbed_net.started(
            topo, compiled, build=build, logs=Path(tmp) / "logs", steering="static"
        ) as tb:
            figures["seconds_up"] = round(time.perf_counter() - start, 2)
            figures["entries"] = tb.entries_installed
            figures["link_delays"] = tb.net.wan_delay.value
            figures["rss_mib"] = {
                s: round(rss_mib(tb.net.net.get(s).process.pid), 1) for s in tb.net.switches
            }
            work = Path(tmp) / "work"
            work.mkdir()
            figures |= latency_figures(tb, args.rate, args.samples, work)
            figures |= failover_figures(tb, args.trials, args.rate, work)
    print(
        f"enterprise testbed ({sw.name}, {figures['link_delays']}): up in "
        f"{figures['seconds_up']:.1f} s with {figures['entries']} entries; switch RSS "
        + ", ".join(f"{s} {v:.0f} MiB" for s, v in figures["rss_mib"].items())
    )
    for kind, lat in figures["latency_ms"].items():
        print(
            f"  {kind:<14} p50 {lat['p50']:7.2f} ms  p99 {lat['p99']:7.2f} ms  "
            f"({figures['requests'][kind]} requests)"
        )
    print(
        f"  failover (data plane, static plan): median {figures['failover_ms_median']} ms, "
        f"max {figures['failover_ms_max']} ms over {figures['failover_measured']} kills "
        f"of {figures['killed']}; lost {figures['lost_requests']}"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
