"""Switch core benchmark: packets per second of ``Switch.process`` alone.

No ports, sockets or server: the p4lite core runs frames in a loop, so this is
the ceiling the data-plane loop around it can reach. Programs, compiled with
``python -m p4lite.compiler`` (or given precompiled with ``--ipv4-json`` and
``--din-json``):

- ``tests/p4/ipv4_lpm.p4`` with one /24 route and ``--entries`` /32 routes;
- ``p4src/din.p4``: an ordinary UDP flow (routing, flow classifier idle), the
  same flow with a random forest installed (``din_flow_classified``: feature
  registers, quantization ranges, codes and trees, built as
  ``bench/bench_switch.py`` builds them), and a DIN request through two MLP
  layers (the second by recirculation) that the switch answers, with a table
  entry for each input value the request carries.

Prints the figures and, with ``--json FILE``, writes them (``python -m bench``).
Each figure is the best of ``--repeat`` runs of ``--seconds``; no pass/fail.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from controller.entries import types as et
from controller.install import model_entries
from controller.models.synthetic import flow_dataset
from controller.models.trees import train_flow_classifier
from p4lite.switch.core import (
    ActionCall,
    ExactMatch,
    KeyMatch,
    LpmMatch,
    RangeMatch,
    Switch,
    SwitchOptions,
    TernaryMatch,
)
from traffic.frames import Endpoints, udp_frame
from traffic.wire import DinHeader, encode

REPO = Path(__file__).resolve().parent.parent
IPV4_LPM = REPO / "tests" / "p4" / "ipv4_lpm.p4"
DIN = REPO / "p4src" / "din.p4"

FLOW = Endpoints("08:00:00:00:01:11", "08:00:00:00:fe:00", "10.0.1.1", "10.0.2.2", 40000, 9000)
DIN_CLIENT = Endpoints(
    "00:00:0a:00:01:01", "00:00:0a:00:01:fe", "10.0.1.1", "10.0.9.9", 40000, 7350
)
MODEL, VERSION = 7, 2
# din.p4's MLP roles (p4src/README.md): run this layer and recirculate, or answer.
_NEXT_HERE, _FINAL = 1, 3


def _ip(addr: str) -> int:
    return int.from_bytes(bytes(int(x) for x in addr.split(".")), "big")


def compile_json(source: Path, out_dir: Path) -> str:
    """BMv2 JSON of `source` from p4lite's compiler."""
    out = out_dir / f"{source.stem}.json"
    argv = [sys.executable, "-m", "p4lite.compiler", "-o", str(out)]
    argv += ["--p4runtime-files", str(out_dir / f"{source.stem}.p4info.txtpb"), str(source)]
    result = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{source}: p4lite.compiler failed:\n{result.stderr}")
    return out.read_text()


def rate(
    process: Callable[[int, bytes], list[tuple[int, bytes]]],
    port: int,
    frame: bytes,
    seconds: float,
    repeat: int,
) -> dict[str, float]:
    """Best packets per second of `process(port, frame)` over `repeat` runs."""
    best = 0.0
    for _ in range(repeat):
        count = 0
        start = time.perf_counter()
        deadline = start + seconds
        while True:
            for _ in range(200):
                process(port, frame)
            count += 200
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, count / (now - start))
    return {"pps": round(best), "us_per_packet": round(1e6 / best, 2)}


def ipv4_lpm_switch(program: str, entries: int) -> Switch:
    """ipv4_lpm with the route the frames take and `entries` other /32 routes."""
    sw = Switch.from_json(program)

    def route(net: int, plen: int, port: int) -> None:
        action = ActionCall("MyIngress.ipv4_forward", (0x080000000222, port))
        sw.add_entry("MyIngress.ipv4_lpm", [LpmMatch(net, plen)], action)

    route(_ip("10.0.2.0"), 24, 2)
    base = _ip("10.128.0.0")
    for i in range(entries):
        route(base + i + 1, 32, 2)
    return sw


def din_switch(program: str) -> tuple[Switch, bytes]:
    """din.p4 with routes and a two-layer model; returns the switch and a request frame."""
    sw = Switch.from_json(program, SwitchOptions(cpu_port=255))

    def add(table: str, keys: list[Any], action: str, *params: int) -> None:
        sw.add_entry(table, keys, ActionCall(action, tuple(params)), priority=1)

    for net, port in (("10.0.1.0", 1), ("10.0.2.0", 2), ("10.0.3.0", 3)):
        mac = 0x00000A000000 | (port << 8)
        add(
            "MyIngress.ipv4_lpm",
            [LpmMatch(_ip(net), 24)],
            "MyIngress.ipv4_forward",
            mac | 1,
            mac | 0xFE,
            port,
        )
    rng = random.Random(0)
    inputs = [rng.randrange(1, 256) for _ in range(16)]
    for layer in (0, 1):
        bias = [rng.randrange(-3000, 3000) & 0xFFFFFFFF for _ in range(16)]
        add(
            "MyIngress.mlp.mlp_bias",
            [ExactMatch(MODEL), ExactMatch(VERSION), ExactMatch(layer)],
            "MyIngress.mlp.set_bias",
            9,
            *bias,
        )
        # Every input value 1..255 of every input has an entry, as a real
        # model's tables would (a miss adds 0); the request hits one per input.
        for i in range(16):
            weights = [rng.randrange(-128, 128) for _ in range(16)]
            for v in range(1, 256):
                keys = [ExactMatch(MODEL), ExactMatch(VERSION), ExactMatch(layer), ExactMatch(v)]
                add(
                    f"MyIngress.mlp.mlp_in_{i}",
                    keys,
                    "MyIngress.mlp.accumulate",
                    *((v * w) & 0xFFFFFFFF for w in weights),
                )
    add(
        "MyIngress.active_model_version",
        [ExactMatch(MODEL)],
        "MyIngress.set_model_version",
        VERSION,
    )
    for stage, mode in ((0, _NEXT_HERE), (1, _FINAL)):
        keys = [ExactMatch(MODEL), ExactMatch(VERSION), ExactMatch(stage)]
        add("MyIngress.mlp_role", keys, "MyIngress.set_mlp_role", mode, 0, 4)
    for c in range(4):
        keys = [ExactMatch(MODEL), ExactMatch(VERSION), ExactMatch(c)]
        add("MyIngress.exit_threshold", keys, "MyIngress.set_exit_threshold", 0)
    request = udp_frame(DIN_CLIENT, encode(DinHeader(model_id=MODEL, request_id=42), inputs))
    return sw, request


def install_forest(sw: Switch) -> int:
    """The random forest of bench_switch's ``flow_classified`` in classifier slot 1;
    returns the number of entries."""
    forest = train_flow_classifier(flow_dataset(40, seed=1), seed=1)
    entries = model_entries(forest, 1)
    for entry in entries:
        if not isinstance(entry, et.TableEntry) or entry.action is None:
            raise RuntimeError(f"unexpected forest entity {entry!r}")
        given = entry.match_dict()
        matches: list[KeyMatch | None] = []
        for key in sw.table_info(entry.table).keys:
            match given.get(key.name):
                case et.Exact(value):
                    matches.append(ExactMatch(value))
                case et.Range(low, high):
                    matches.append(RangeMatch(low, high))
                case et.Ternary(value, mask):
                    matches.append(TernaryMatch(value, mask))
                case et.Lpm(value, plen):
                    matches.append(LpmMatch(value, plen))
                case None:
                    matches.append(None)
        params = entry.param_dict()
        values = tuple(params[p.name] for p in sw.action_info(entry.action).params)
        sw.add_entry(entry.table, matches, ActionCall(entry.action, values), entry.priority)
    return len(entries)


def main() -> int:
    """Measure, print and optionally save the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument("--seconds", type=float, default=1.0, help="length of one run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (best is kept)")
    parser.add_argument("--entries", type=int, default=2000, help="extra /32 routes")
    parser.add_argument("--ipv4-json", type=Path, help="precompiled ipv4_lpm.p4 JSON")
    parser.add_argument("--din-json", type=Path, help="precompiled din.p4 JSON")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="din-bench-core-") as tmp:
        work = Path(tmp)
        ipv4_text = args.ipv4_json.read_text() if args.ipv4_json else compile_json(IPV4_LPM, work)
        din_text = args.din_json.read_text() if args.din_json else compile_json(DIN, work)

    figures: dict[str, Any] = {"seconds": args.seconds, "repeat": args.repeat}
    sw = ipv4_lpm_switch(ipv4_text, args.entries)
    frame = udp_frame(FLOW, bytes(18))
    if [p for p, _ in sw.process(1, frame)] != [2]:
        raise RuntimeError("ipv4_lpm: the benchmark frame is not forwarded to port 2")
    figures["ipv4_lpm"] = {"entries": args.entries + 1} | rate(
        sw.process, 1, frame, args.seconds, args.repeat
    )

    sw, request = din_switch(din_text)
    flow = udp_frame(FLOW, bytes(18))
    if [p for p, _ in sw.process(1, flow)] != [2]:
        raise RuntimeError("din: the ordinary flow is not forwarded to port 2")
    figures["din_flow"] = rate(sw.process, 1, flow, args.seconds, args.repeat)
    classified, _ = din_switch(din_text)
    forest = install_forest(classified)
    if [p for p, _ in classified.process(1, flow)] != [2]:
        raise RuntimeError("din: the classified flow is not forwarded to port 2")
    figures["din_flow_classified"] = {"entries": forest} | rate(
        classified.process, 1, flow, args.seconds, args.repeat
    )
    answer = sw.process(1, request)
    if [p for p, _ in answer] != [1]:
        raise RuntimeError("din: the request is not answered to port 1")
    figures["din_request_2_layers"] = rate(sw.process, 1, request, args.seconds, args.repeat)

    for key, value in figures.items():
        print(f"{key:24} {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
