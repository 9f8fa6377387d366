"""tools/stf_corpus.py run as a command on a folder of this project's programs.

Two programs of tests/conformance_extra pass; copies broken on purpose give
each other outcome class: a rejected program (with its diagnostic), a wrong
expectation (mismatch) and an STF naming a table that does not exist.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXTRA = ROOT / "tests" / "conformance_extra" / "programs"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.stf_corpus", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )


def test_outcome_classes_and_totals(tmp_path: Path) -> None:
    for name in ("basic_ipv4_forward", "div_mod_pow2"):
        shutil.copy(EXTRA / f"{name}.p4", tmp_path)
        shutil.copy(EXTRA / f"{name}.stf", tmp_path)
    # rejected: an undeclared name
    src = (EXTRA / "div_mod_pow2.p4").read_text(encoding="utf-8")
    (tmp_path / "z_reject.p4").write_text(
        src.replace("\n    apply {", "\n    apply { no_such_name = 1;", 1), encoding="utf-8"
    )
    shutil.copy(EXTRA / "div_mod_pow2.stf", tmp_path / "z_reject.stf")
    # mismatch: every expected packet's last nibble flipped
    shutil.copy(EXTRA / "div_mod_pow2.p4", tmp_path / "z_mismatch.p4")
    lines = []
    for line in (EXTRA / "div_mod_pow2.stf").read_text(encoding="utf-8").splitlines():
        body = line.rstrip(" $")
        flipped = body[:-1] + ("0" if body[-1:] != "0" else "1") + " $"
        lines.append(flipped if line.startswith("expect") else line)
    (tmp_path / "z_mismatch.stf").write_text("\n".join(lines) + "\n", encoding="utf-8")
    # runner error: a table that does not exist
    shutil.copy(EXTRA / "div_mod_pow2.p4", tmp_path / "z_runner.p4")
    (tmp_path / "z_runner.stf").write_text("add no_table k:1 a()\n", encoding="utf-8")
    # a program without an STF is not part of the corpus
    shutil.copy(EXTRA / "div_mod_pow2.p4", tmp_path / "z_no_stf.p4")

    out_json = tmp_path / "out.json"
    proc = _run(str(tmp_path), "--json", str(out_json))
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    by_name = {ln.split()[0]: ln.split()[1] for ln in lines[:-1]}
    assert by_name == {
        "basic_ipv4_forward": "pass",
        "div_mod_pow2": "pass",
        "z_mismatch": "mismatch",
        "z_reject": "reject",
        "z_runner": "runner-error",
    }
    reject_line = next(ln for ln in lines if ln.startswith("z_reject"))
    assert "z_reject.p4:" in reject_line and "error: undeclared name 'no_such_name'" in reject_line
    assert lines[-1] == (
        "total 5: 2 pass, 1 reject, 0 crash, 0 load-error, 1 mismatch, 1 runner-error"
    )
    report = json.loads(out_json.read_text(encoding="utf-8"))
    assert report["counts"]["pass"] == 2
    assert [p["name"] for p in report["programs"]][:2] == ["basic_ipv4_forward", "div_mod_pow2"]

    only = _run(str(tmp_path), "-k", "basic")
    assert only.returncode == 0
    assert only.stdout.splitlines()[-1].startswith("total 1: 1 pass")
    assert _run(str(tmp_path / "missing")).returncode == 2
