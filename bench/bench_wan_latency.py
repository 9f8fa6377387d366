"""WAN latency benchmark: partitioned inference in the network versus the cloud alone.

Builds, in network namespaces, the enterprise path: client -- s1 (edge) -- s2 (in-network)
==WAN== s3 (cloud gateway) -- cloud inference node, three switch processes running din.p4
and ``python -m nodes`` on the cloud host. The WAN link delays each direction by
``--wan-ms`` (p4lite's per-port egress delay, or netem with the real switch). The digits
MLP's entries are on s1 and s2; two runs send the held-out digits as DIN requests:

- ``in_network``: s1 computes layer 0, s2 layers 1 and 2 and answers when confident (exit
  threshold ``--threshold``, by default the exit sweep's: the largest share of split 0's
  test requests answered in the network at one point of accuracy lost or less against the
  large model, ``bench_exit_sweep.py``); the rest escalates over the WAN to the node;
- ``cloud_only``: no switch computes; every request crosses the WAN to the node.

Figures per run: latency p50/p99 (client send to answer), the same for switch answers and
node answers, share answered in the network, accuracy, lost requests. Prints them, writes
them with ``--json FILE``; no pass/fail. Needs root; run under ``flock /tmp/din-net.lock``.
Usage: ``python bench/bench_wan_latency.py [--json FILE] [--wan-ms 20] [--threshold T]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from bench_exit_sweep import best_within_1_point, load_or_train, sweep
from netns_rig import NetRig, Run, percentile

from controller import install
from controller.entries.mlp import MODE_FINAL, MODE_FORWARD, MODE_NEXT_HERE, Role, role_entries
from controller.entries.steering import Route
from controller.models.datasets import digits16
from controller.models.files import load_model
from controller.models.quant import MLPModel, quantize_input
from p4lite import toolchain

REPO = Path(__file__).resolve().parent.parent
SWITCH_MAC = "02:d1:00:01:00:00"
CLIENT_IP, CLOUD_IP = "10.0.1.1", "10.0.3.1"
FLAG_SWITCH_ANSWER = 0x01
RATE = 100


def _model(models: Path, work: Path) -> MLPModel:
    path = models / "digits-mlp.npz"
    if not path.is_file():
        path = work / "digits-mlp.npz"
        cmd = [sys.executable, "-m", "controller.cli", "train", "mlp", "--out", str(path)]
        subprocess.run(cmd, check=True, capture_output=True, cwd=REPO)
    model = load_model(path)
    assert isinstance(model, MLPModel)
    return model


def _figures(run: Run, labels: np.ndarray) -> dict[str, Any]:
    all_ms = run.latencies_ms()
    by_switch = [(a[0] - run.sent[r][0]) * 1e3 for r, a in run.answers.items() if a[2] & 1]
    by_node = [(a[0] - run.sent[r][0]) * 1e3 for r, a in run.answers.items() if not a[2] & 1]
    correct = sum(1 for r, a in run.answers.items() if a[3] == labels[(r - 1) % len(labels)])

    def ms(values: list[float], q: float) -> float | None:
        p = percentile(values, q)
        return None if p is None else round(p, 2)

    return {
        "requests": len(run.sent),
        "lost": len(run.lost),
        "latency_ms_p50": ms(all_ms, 0.5),
        "latency_ms_p99": ms(all_ms, 0.99),
        "switch_answers_ms_p50": ms(by_switch, 0.5),
        "node_answers_ms_p50": ms(by_node, 0.5),
        "node_answers_ms_p99": ms(by_node, 0.99),
        "share_in_network": round(len(by_switch) / max(1, len(run.answers)), 4),
        "accuracy": round(correct / max(1, len(run.answers)), 4),
    }


def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Build the path, run both configurations and return the figures."""
    model = _model(args.models, work)
    if args.threshold is None:
        large = load_or_train(args.models, "digits-large", work, 0, "--large")
        args.threshold = best_within_1_point(sweep(model, large, 0)[0])["threshold"]
        print(f"exit threshold {args.threshold}: the sweep's best within one point", flush=True)
    model = dataclasses.replace(model, exit_thresholds=(args.threshold,) * 10)
    split = digits16(0)
    codes = quantize_input(model, split.x_test)
    vectors = [[int(v) for v in row] for row in codes]
    labels = np.asarray(split.y_test)
    rig = NetRig(work)
    real = toolchain.switch().real
    try:
        client = rig.host("c", CLIENT_IP, "02:00:00:00:00:01", SWITCH_MAC)
        cloud = rig.host("n", CLOUD_IP, "02:00:00:00:00:03", SWITCH_MAC)
        a12, b12 = rig.link("l12")
        a23, b23 = rig.link("l23")
        wan = {} if real else {2: args.wan_ms}
        if real:
            for iface in (a23, b23):
                subprocess.run(["tc", "qdisc", "add", "dev", iface, "root", "netem", "delay",
                                f"{args.wan_ms}ms"], check=True, capture_output=True)  # fmt: skip

        def routes(to_client: tuple[int, str], to_cloud: tuple[int, str]) -> list[Route]:
            return [
                Route(f"{CLIENT_IP}/32", to_client[1], SWITCH_MAC, to_client[0]),
                Route(f"{CLOUD_IP}/32", to_cloud[1], SWITCH_MAC, to_cloud[0]),
            ]

        s1 = rig.switch("s1", {1: client.iface, 2: a12},
                        routes((1, client.mac), (2, SWITCH_MAC)), {})  # fmt: skip
        s2 = rig.switch("s2", {1: b12, 2: a23}, routes((1, SWITCH_MAC), (2, SWITCH_MAC)), wan)
        rig.switch(
            "s3",
            {1: b23, 2: cloud.iface},
            routes((1, SWITCH_MAC), (2, cloud.mac)),
            {} if real else {1: args.wan_ms},
        )
        for conn in (s1, s2):
            install.install(conn, install.model_entries(model, 1, roles=[]))
        node_model = args.models / "digits-mlp.npz"
        if not node_model.is_file():
            node_model = work / "digits-mlp.npz"
        rig.node(cloud, 9, "--model", f"1={node_model}")
        roles = {
            "s1": role_entries(1, model.version, [Role(0, MODE_FORWARD)]),
            "s2": role_entries(
                1, model.version, [Role(1, MODE_NEXT_HERE), Role(2, MODE_FINAL, num_classes=10)]
            ),
        }
        figures: dict[str, Any] = {"wan_ms_each_way": args.wan_ms, "threshold": args.threshold,
                                   "rate": RATE}  # fmt: skip
        for name in ("cloud_only", "in_network"):
            if name == "in_network":
                for sw, conn in (("s1", s1), ("s2", s2)):
                    install.install(conn, roles[sw])
            rig.client(client, name, count=len(vectors), rate=RATE, flows=10, vectors=vectors,
                       to=CLOUD_IP)  # fmt: skip
            figures[name] = _figures(rig.finish(name), labels)
            print(f"  {name}: {figures[name]}", flush=True)
        return figures
    finally:
        rig.close()


def main() -> int:
    """Measure, print and save the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument("--models", type=Path, default=REPO / "build" / "models")
    parser.add_argument("--wan-ms", type=float, default=20.0, help="WAN delay each way")
    parser.add_argument(
        "--threshold",
        type=int,
        help="exit threshold (confidence; default: the exit sweep's best within one point)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    with tempfile.TemporaryDirectory(prefix="din-bench-wan-") as tmp:
        figures = measure(args, Path(tmp))
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
