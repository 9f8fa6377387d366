"""bench/__main__.py: any bench_*.py following the convention is run; one report, plots.

The runner is pointed at a folder of stand-in benchmarks (one that writes
nested figures, one that fails) and run as ``make bench`` runs it.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[3]

GOOD = """\
import json, sys
path = sys.argv[sys.argv.index("--json") + 1]
print("figures for a person")
json.dump({"toolchain": {"switch": "x"}, "latency_ms": {"p50": 1.5, "p99": 9.0},
           "rss_mib": 55.0, "ok": True, "trials": [3, 4]}, open(path, "w"))
"""
BAD = "import sys\nsys.exit(3)\n"


def _runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_runner", REPO / "bench" / "__main__.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_conforming_script_runs_into_one_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = _runner()
    scripts = tmp_path / "bench"
    scripts.mkdir()
    (scripts / "bench_good.py").write_text(GOOD)
    (scripts / "bench_bad.py").write_text(BAD)
    (scripts / "helper.py").write_text("raise SystemExit('not a benchmark')\n")
    monkeypatch.setattr(runner, "BENCH_DIR", scripts)
    out = tmp_path / "out"
    monkeypatch.setattr(sys, "argv", ["bench", "--out", str(out)])
    assert runner.main() == 1  # one benchmark failed; the other still ran
    report = json.loads((out / "report.json").read_text())
    assert set(report["benchmarks"]) == {"good", "bad"}
    assert report["benchmarks"]["bad"]["failed"] == "exit code 3"
    good = report["benchmarks"]["good"]
    assert good["figures"]["latency_ms"] == {"p50": 1.5, "p99": 9.0}
    names = {f["name"]: f for f in report["figures"]}
    assert set(names) == {
        "good.latency_ms.p50",
        "good.latency_ms.p99",
        "good.rss_mib",
        "good.trials.0",
        "good.trials.1",
    }
    tool = report["toolchain"]
    assert set(tool) == {"compiler", "switch", "real"}
    assert all(f["toolchain"] == tool for f in report["figures"])
    assert (out / "good.png").read_bytes()[:4] == b"\x89PNG"
    assert good["plot"] == str(out / "good.png")


def test_units_come_from_the_names() -> None:
    runner = _runner()
    assert [runner.unit(n) for n in ("a.latency_ms.p50", "x.rss_mib", "s.seconds_up",
                                     "s.max_pps", "t.entries")] == [
        "ms", "MiB", "s", "per second", "count"
    ]  # fmt: skip


def test_unknown_benchmark_is_named() -> None:
    with pytest.raises(SystemExit, match=r"unknown benchmark\(s\) \['nope'\]"):
        _runner().discover(["nope"])
