"""Bring-up benchmark: seconds to start a leaf-spine testbed, and memory per switch process.

Builds ``topologies.model.leaf_spine`` (default 8 leaves, 8 spines, 8 hosts
per leaf: 16 switches, 64 hosts) on Mininet with the chosen switch (p4lite, or
simple_switch_grpc where installed) running din.p4 compiled by the chosen
compiler, and times each phase the way ``make run`` goes through it:

- ``seconds_network``: hosts, links and switch processes up, every gRPC port
  accepting connections;
- ``seconds_pipelines``: P4Runtime connections made and din.p4 pushed to all;
- ``seconds_routes``: the deployment's routes written (``controller.install``);
- ``seconds_total``: the three together (the goal is under 60 s), then a ping
  from the first host to the last one checks that traffic flows;
- ``rss_mib_per_switch`` median and max, and ``rss_mib_switches_total``
  (VmRSS of every switch process with its routes installed);
- ``seconds_stop``: everything stopped (by PID).

Needs root; run it under ``flock /tmp/din-net.lock``. Usage:
``python bench/bench_bringup.py [--json FILE] [--leaves N] [--spines N] [--hosts-per-leaf N]``.
Prints the figures and writes them with ``--json``; no pass/fail.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from p4lite import toolchain
from topologies import deployment, model, network
from topologies import net as testbed_net

REPO = Path(__file__).resolve().parent.parent
GOAL_S = 60.0


def rss_mib(pid: int) -> float:
    """Resident set size of a process, MiB (VmRSS of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def bring_up(topo: model.Topology, compiled: toolchain.Compiled, logs: Path) -> dict[str, Any]:
    """Start the topology, install its routes, ping across, stop; the phases' figures."""
    figures: dict[str, Any] = {}
    plan = deployment.plan(topo, None)
    start = time.perf_counter()
    net = network.build(topo, json_path=compiled.json, log_dir=logs)
    stop_start = 0.0
    try:
        with network.running(net):
            figures["seconds_network"] = round(time.perf_counter() - start, 2)
            mark = time.perf_counter()
            fabric = testbed_net.connect(net, compiled)
            try:
                figures["seconds_pipelines"] = round(time.perf_counter() - mark, 2)
                mark = time.perf_counter()
                result = testbed_net.install_defaults(fabric, plan)
                figures["seconds_routes"] = round(time.perf_counter() - mark, 2)
                figures["routes"] = result.total
                figures["seconds_total"] = round(time.perf_counter() - start, 2)
                hosts = list(topo.hosts.values())
                first, last = net.net.get(hosts[0].name), hosts[-1]
                out = first.cmd(f"ping -c 1 -W 2 {last.address}")
                figures["ping_first_to_last_ok"] = " 0% packet loss" in out
                rss = [rss_mib(net.net.get(s).process.pid) for s in net.switches]
                figures["rss_mib_per_switch_median"] = round(statistics.median(rss), 1)
                figures["rss_mib_per_switch_max"] = round(max(rss), 1)
                figures["rss_mib_switches_total"] = round(sum(rss), 1)
            finally:
                fabric.close()
            stop_start = time.perf_counter()
    finally:
        if stop_start:
            figures["seconds_stop"] = round(time.perf_counter() - stop_start, 2)
    return figures


def main() -> int:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--leaves", type=int, default=8)
    parser.add_argument("--spines", type=int, default=8)
    parser.add_argument("--hosts-per-leaf", type=int, default=8)
    args = parser.parse_args()
    topo = model.leaf_spine(
        leaves=args.leaves, spines=args.spines, hosts_per_leaf=args.hosts_per_leaf
    )
    cc, sw = toolchain.compiler(), toolchain.switch()
    with tempfile.TemporaryDirectory() as tmp:
        compiled = toolchain.compile_program(REPO / "p4src" / "din.p4", Path(tmp) / "build", cc)
        figures: dict[str, Any] = {
            "toolchain": {"compiler": cc.name, "switch": sw.name, "real": cc.real and sw.real},
            "switches": len(topo.switches),
            "hosts": len(topo.hosts),
        }
        figures |= bring_up(topo, compiled, Path(tmp) / "logs")
    print(
        f"leaf-spine {args.leaves} leaves x {args.spines} spines, {len(topo.hosts)} hosts "
        f"({sw.name}): up in {figures['seconds_total']:.1f} s (goal < {GOAL_S:.0f} s): "
        f"network {figures['seconds_network']:.1f} s, pipelines "
        f"{figures['seconds_pipelines']:.1f} s, {figures['routes']} routes "
        f"{figures['seconds_routes']:.1f} s; ping across "
        f"{'ok' if figures['ping_first_to_last_ok'] else 'FAILED'}; stop "
        f"{figures.get('seconds_stop', 0):.1f} s"
    )
    rss = (
        figures["rss_mib_per_switch_median"],
        figures["rss_mib_per_switch_max"],
        figures["rss_mib_switches_total"],
    )
    print(f"switch RSS: median {rss[0]:.1f} MiB, max {rss[1]:.1f} MiB, all {rss[2]:.0f} MiB")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
