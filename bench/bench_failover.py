"""Failover benchmark: how long requests to a killed inference instance go unanswered.

Builds, in network namespaces, one switch (the chosen toolchain's, din.p4) with a client
host and three inference nodes (``python -m nodes``, advertising every 20 ms), and runs the
steering service over P4Runtime. Each trial sends requests from 50 client flows at 500/s,
kills one node (SIGKILL) and measures:

- ``dataplane``: the steering service programs the groups and stops; only the data plane
  reacts (the instance's last advertisement older than ``stale_after_us``: its backup);
- ``controller``: the service keeps running; the data plane reacts first, then the
  controller expires the instance and rewrites the group without it.

Figures per mode and data-plane stale time: ``failover_ms`` (kill to the send time of the
first request of a killed instance's flow that is answered again), ``lost`` (requests
never answered), and with the controller ``controller_failover_ms`` (kill to the group
written without the instance). Prints them, writes them with ``--json FILE``; no pass/fail.

Needs root; run under ``flock /tmp/din-net.lock``. Usage:
``python bench/bench_failover.py [--json FILE] [--trials N] [--stale-ms 50,100]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from netns_rig import NetRig, Run

from controller.entries.steering import Route
from controller.models.files import save_model
from controller.models.quant import FloatLayer, MLPModel, quantize_mlp
from controller.p4rt.multi import Fabric
from controller.steering.config import InstanceSpec, ServiceSpec, SteeringConfig
from controller.steering.service import SteeringService
from controller.steering.weights import WeightConfig

SWITCH_MAC = "02:d1:00:01:00:00"
ADVERTISE_MS = 20
RATE = 500
FLOWS = 50
KILL_AFTER_S = 0.7
RUN_S = 2.0
VICTIM = 3


def _model(path: Path) -> None:
    rng = np.random.default_rng(1)
    floats = [
        FloatLayer(rng.normal(size=(16, 16)), rng.normal(size=16), "relu"),
        FloatLayer(rng.normal(size=(16, 4)), rng.normal(size=4), "linear"),
    ]
    save_model(
        MLPModel(
            name="bench", version=1, classes=("a", "b", "c", "d"), input_scale=1 / 255,
            layers=quantize_mlp(floats, 1 / 255, rng.uniform(size=(100, 16))),
            data={"name": "random", "seed": 1},
        ),
        path,
    )  # fmt: skip


def _wait(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _analyse(run: Run, killed_at: float) -> tuple[float | None, int]:
    victim_flows = {
        flow
        for rid, (t, flow) in run.sent.items()
        if t < killed_at and run.answers.get(rid, [0, 0])[1] == VICTIM
    }
    back = sorted(
        run.sent[rid][0] - killed_at
        for rid in run.answers
        if run.sent[rid][1] in victim_flows and run.sent[rid][0] > killed_at
    )
    return (back[0] * 1e3 if back else None), len(run.lost)


def trial(
    rig: NetRig, hosts: dict[int, Any], model: Path, mode: str, stale_ms: int
) -> dict[str, Any]:
    """One kill; the node is started again afterwards."""
    config = SteeringConfig(
        services=(ServiceSpec(1),),
        instances=tuple(InstanceSpec(i) for i in (2, 3, 4)),
        interval_s=0.05,
        stale_after_s=0.3,
        dataplane_stale_us=stale_ms * 1000,
        weights=WeightConfig(hold_s=1.0),
    )
    fabric = Fabric([rig.conns["s1"]])
    service = SteeringService(fabric, config)
    service.start()
    try:
        _wait(lambda: set(service.weights("s1").get(1, {})) == {2, 3, 4}, 30, "three instances")
        time.sleep(0.3)  # relays and advertisements settle
        if mode == "dataplane":
            service.stop()
        rig.client(hosts[1], "run", count=int(RATE * RUN_S), rate=RATE, flows=FLOWS,
                   vectors=[[7] * 16], to="10.0.9.9")  # fmt: skip
        time.sleep(KILL_AFTER_S)
        killed_at = rig.kill(f"node{VICTIM}")
        run = rig.finish("run")
        failover_ms, lost = _analyse(run, killed_at)
        out: dict[str, Any] = {"failover_ms": failover_ms, "lost": lost}
        if mode == "controller":
            _wait(lambda: VICTIM not in service.weights("s1").get(1, {}), 10, "the group rewritten")
            written = [
                d.time for d in service.decisions
                if d.kind == "program" and d.time > killed_at and f"removed [{VICTIM}]" in d.detail
            ]  # fmt: skip
            out["controller_failover_ms"] = (written[0] - killed_at) * 1e3 if written else None
    finally:
        service.stop()
        rig.reap(f"node{VICTIM}")
        rig.node(hosts[VICTIM], VICTIM, "--model", f"1={model}", advertise_ms=ADVERTISE_MS)
    return out


def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Build the rig, run the trials and return the figures."""
    model = work / "model.npz"
    _model(model)
    rig = NetRig(work)
    try:
        hosts = {
            p: rig.host(f"h{p}", f"10.0.{p}.1", f"02:00:00:00:00:{p:02x}", SWITCH_MAC)
            for p in (1, 2, 3, 4)
        }
        routes = [Route(f"{h.ip}/32", h.mac, SWITCH_MAC, p) for p, h in hosts.items()]
        rig.switch("s1", {p: h.iface for p, h in hosts.items()}, routes, {})
        for p in (2, 3, 4):
            rig.node(hosts[p], p, "--model", f"1={model}", advertise_ms=ADVERTISE_MS)
        figures: dict[str, Any] = {
            "advertise_ms": ADVERTISE_MS,
            "rate": RATE,
            "trials": args.trials,
        }
        for stale in args.stale_ms:
            for mode in ("dataplane", "controller"):
                results = [trial(rig, hosts, model, mode, stale) for _ in range(args.trials)]
                key = f"{mode}_stale_{stale}ms"
                row: dict[str, Any] = {}
                for name in ("failover_ms", "lost", "controller_failover_ms"):
                    values = [r[name] for r in results if r.get(name) is not None]
                    if values:
                        row[f"{name}_median"] = round(statistics.median(values), 1)
                        row[f"{name}_max"] = round(max(values), 1)
                figures[key] = row
                print(f"  {key}: {row}", flush=True)
        return figures
    finally:
        rig.close()


def main() -> int:
    """Measure, print and save the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument(
        "--stale-ms", type=lambda t: [int(x) for x in t.split(",")], default=[50, 100],
        help="data-plane stale times to try, comma-separated (default 50,100)",
    )  # fmt: skip
    args = parser.parse_args()
    # The expiry warnings are the event measured, not news: keep the output to the figures.
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    with tempfile.TemporaryDirectory(prefix="din-bench-failover-") as tmp:
        figures = measure(args, Path(tmp))
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
