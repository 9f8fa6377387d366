"""Run every benchmark of the project and write one JSON report: ``make bench``.

Each benchmark is a script ``bench/bench_*.py`` that prints its figures for a
person to read and, when given ``--json FILE``, writes them to FILE as a JSON
object. This runner runs each one in its own process (so one benchmark's memory
does not weigh on the next), shows its output as it goes, and gathers the
figures, with the toolchain that produced them, into ``<out>/report.json``.
A benchmark that fails is reported as failed; the others still run.

Usage: ``python -m bench [--out DIR] [NAME ...]`` (NAME: ``p4rt_encode`` for
``bench/bench_p4rt_encode.py``).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from p4lite import toolchain

BENCH_DIR = Path(__file__).resolve().parent


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


def main() -> int:
    """Entry point of ``make bench``."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--out", type=Path, default=Path("build/bench"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    cc, sw = toolchain.compiler(), toolchain.switch()
    report: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": platform.machine()},
        "toolchain": {"compiler": cc.name, "switch": sw.name, "real": cc.real and sw.real},
        "benchmarks": {},
    }
    failed = []
    for script in discover(args.names):
        name = script.stem.removeprefix("bench_")
        figures = args.out / f"{name}.json"
        figures.unlink(missing_ok=True)
        print(f"== {name} ==", flush=True)
        start = time.monotonic()
        result = subprocess.run([sys.executable, str(script), "--json", str(figures)], check=False)
        entry: dict[str, Any] = {"seconds": round(time.monotonic() - start, 2)}
        if result.returncode == 0 and figures.is_file():
            entry["figures"] = json.loads(figures.read_text(encoding="utf-8"))
        else:
            entry["failed"] = f"exit code {result.returncode}"
            failed.append(name)
        report["benchmarks"][name] = entry
    path = args.out / "report.json"
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"report: {path}")
    if failed:
        print(f"failed benchmarks: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
