"""Run every benchmark of the project and write one JSON report plus plots: ``make bench``.

The convention: a benchmark is a script ``bench/bench_<name>.py`` that prints
its figures for a person to read and, when given ``--json FILE``, writes them
to FILE as a JSON object (nested objects allowed; numbers are the figures).
Any script that follows it is picked up, in name order. This runner runs each
one in its own process (so one benchmark's memory does not weigh on the
next), shows its output as it goes, and gathers:

- ``<out>/report.json``: per benchmark its figures as written, its run time,
  or why it failed; and ``figures``, every number flattened to a dotted name
  (``testbed.latency_ms.split_cloud.p50``), each naming the toolchain that
  produced it (compiler and switch, and whether both are the real p4c/BMv2,
  from ``p4lite.toolchain`` as chosen for this run);
- ``<out>/<name>.png``: a bar chart per benchmark of its figures, the
  toolchain in its title (matplotlib, Agg).

A benchmark that fails is reported as failed; the others still run. Some need
root and create namespaces or Mininet networks: run ``make bench`` as root,
under ``flock /tmp/din-net.lock`` where others share the machine.

Usage: ``python -m bench [--out DIR] [NAME ...]`` (NAME: ``p4rt_encode`` for
``bench/bench_p4rt_encode.py``).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from p4lite import toolchain

BENCH_DIR = Path(__file__).resolve().parent
MAX_BARS = 40


def discover(names: list[str]) -> list[Path]:
    """The benchmark scripts to run: all of them, or the ones named."""
    scripts = sorted(BENCH_DIR.glob("bench_*.py"))
    if not names:
        return scripts
    by_name = {s.stem.removeprefix("bench_"): s for s in scripts}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {unknown}; known: {sorted(by_name)}")
    return [by_name[n] for n in names]


def flatten(value: Any, prefix: str) -> Iterator[tuple[str, float]]:
    """Every number in a JSON value, with its dotted path (booleans and text left out)."""
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        if math.isfinite(value):
            yield prefix, float(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from flatten(item, f"{prefix}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from flatten(item, f"{prefix}.{i}")


UNITS = (
    ("_ms", "ms"),
    ("_us", "us"),
    ("mib", "MiB"),
    ("pps", "per second"),
    ("per_s", "per second"),
    ("seconds", "s"),
    ("_s", "s"),
)


def unit(name: str) -> str:
    """A figure's unit, from how its name spells it (``latency_ms``, ``rss_mib``...)."""
    lowered = name.lower()
    for token, label in UNITS:
        if token in lowered:
            return label
    return "count"


def plot(name: str, figures: list[tuple[str, float]], tool: str, path: Path) -> bool:
    """Bar charts of one benchmark's figures, one panel per unit; False when it has none."""
    import matplotlib  # noqa: PLC0415  (only when there is something to draw)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    groups: dict[str, list[tuple[str, float]]] = {}
    for figure in figures[:MAX_BARS]:
        groups.setdefault(unit(figure[0]), []).append(figure)
    if not groups:
        return False
    heights = [0.3 * len(g) + 0.8 for g in groups.values()]
    fig, axes = plt.subplots(
        len(groups), 1, figsize=(9, sum(heights) + 0.6), height_ratios=heights, squeeze=False
    )
    for ax, (label, group) in zip(axes[:, 0], groups.items(), strict=True):
        values = [v for _, v in group]
        ax.barh(range(len(group)), values, color="tab:blue")
        ax.set_yticks(range(len(group)), [n.split(".", 1)[1] for n, _ in group], fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel(label, fontsize=8)
        positive = [v for v in values if v > 0]
        if positive and max(positive) / min(positive) > 1000:
            ax.set_xscale("log")
        for i, v in enumerate(values):
            ax.text(v, i, f" {v:g}", va="center", fontsize=7)
    fig.suptitle(f"{name} ({tool})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def main() -> int:
    """Entry point of ``make bench``."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--out", type=Path, default=Path("build/bench"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    cc, sw = toolchain.compiler(), toolchain.switch()
    tool = {"compiler": cc.name, "switch": sw.name, "real": cc.real and sw.real}
    tool_text = f"{sw.name}, {cc.name}"
    report: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": platform.machine()},
        "toolchain": tool,
        "benchmarks": {},
        "figures": [],
    }
    failed = []
    for script in discover(args.names):
        name = script.stem.removeprefix("bench_")
        figures = args.out / f"{name}.json"
        figures.unlink(missing_ok=True)
        print(f"== {name} ==", flush=True)
        start = time.monotonic()
        result = subprocess.run([sys.executable, str(script), "--json", str(figures)], check=False)
        entry: dict[str, Any] = {"seconds": round(time.monotonic() - start, 2), "toolchain": tool}
        if result.returncode == 0 and figures.is_file():
            entry["figures"] = json.loads(figures.read_text(encoding="utf-8"))
            flat = list(flatten(entry["figures"], name))
            report["figures"] += [
                {"name": n, "value": v, "toolchain": tool}
                for n, v in flat
                if not n.startswith(f"{name}.toolchain.")
            ]
            chart = args.out / f"{name}.png"
            if plot(name, [f for f in flat if ".toolchain." not in f[0]], tool_text, chart):
                entry["plot"] = str(chart)
        else:
            entry["failed"] = f"exit code {result.returncode}"
            failed.append(name)
        report["benchmarks"][name] = entry
    path = args.out / "report.json"
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"report: {path} ({len(report['figures'])} figures, toolchain {tool_text})")
    if failed:
        print(f"failed benchmarks: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
