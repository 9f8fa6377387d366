"""`make data` and the README's training command.

The fetch needs a Debian mirror, so the tests never fetch: they run `make data`
on a tree laid out like nDPI's source that the tests write (the derivation
step), run the fetch script where its stamp says the tree is there (its
idempotent path), and use the real data set only when `make data` has been run
here (otherwise those tests are skipped, saying so).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from controller.cli import main
from controller.models.flowdata import load_flow_data
from controller.models.synthetic import FLOW_CLASSES

REPO = Path(__file__).resolve().parents[3]
REAL_DATA = REPO / "data" / "flows-ndpi.npz"
README_TRAIN = (
    ".venv/bin/dinctl train forest --data data/flows-ndpi.npz --packet-limit 8 --max-depth 8 "
    "--out build/models/flows-ndpi.npz"
)


def _make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env={**os.environ, "MAKEFLAGS": ""},
    )


def test_make_data_derives_from_a_fetched_tree(ndpi_tree: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "ndpi-source.stamp").write_text(f"{ndpi_tree}\n")
    fetch = subprocess.run(
        [str(REPO / "tools" / "fetch_ndpi.sh"), str(data_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert fetch.returncode == 0, fetch.stderr
    assert fetch.stdout.startswith(f"nDPI source already fetched: {ndpi_tree}")
    done = _make("data", f"DATA_DIR={data_dir}")
    assert done.returncode == 0, done.stdout + done.stderr
    out = data_dir / "flows-ndpi.npz"
    assert f"wrote {out}: 11 flows from 1 captures of {ndpi_tree}" in done.stdout
    assert "llm_chat                  2 flows        8 packets" in done.stdout
    assert load_flow_data(out).class_counts()["background"] == 4
    again = _make("data", f"DATA_DIR={data_dir}")
    assert again.returncode == 0 and "ndpi_flows.py" not in again.stdout  # up to date


def test_derive_errors_are_one_line(tmp_path: Path) -> None:
    tool = [str(REPO / ".venv/bin/python"), str(REPO / "tools" / "ndpi_flows.py")]
    done = subprocess.run(
        [*tool, "--source", str(tmp_path), "--out", str(tmp_path / "f.npz")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"ndpi_flows: error: nDPI source {str(tmp_path)!r}: expected folders tests/pcap and "
        "tests/result (run `make data` to fetch them)"
    ]


needs_real_data = pytest.mark.skipif(
    not REAL_DATA.is_file(), reason="make data has not been run here (it needs the network)"
)


@needs_real_data
def test_real_data_set_has_every_class() -> None:
    data = load_flow_data(REAL_DATA)
    counts = data.class_counts()
    assert tuple(counts) == FLOW_CLASSES
    assert all(n >= 20 for n in counts.values()), counts
    assert data.manifest["captures_read"] >= 200
    assert "Modbus" in data.app_names and "MQTT" in data.app_names


@needs_real_data
def test_readme_training_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO)
    argv = README_TRAIN.split()[1:]
    out = tmp_path / "flows-ndpi.npz"
    argv[argv.index("build/models/flows-ndpi.npz")] = str(out)
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].endswith("in-switch = quantized on 1.0000")
    assert main(["evaluate", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["quantized"]["accuracy"] >= 0.9
    assert result["quantized"]["macro_f1"] >= 0.4


def test_readme_shows_the_commands_run_here() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert README_TRAIN in text
    assert "\nmake data " in text
