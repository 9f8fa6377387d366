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


CORPUS = ROOT / "tests" / "conformance"


def test_p4info_corpus_compares_with_p4c(tmp_path: Path) -> None:
    programs, reference = CORPUS / "programs", CORPUS / "reference"
    for name in ("table_exact", "counters"):
        shutil.copy(programs / f"{name}.p4", tmp_path)
        shutil.copy(reference / f"{name}.p4info.txtpb", tmp_path / f"{name}.p4.p4info.txtpb")
    # a later p4c's fields are left out of the comparison
    ref = (reference / "table_exact.p4info.txtpb").read_text(encoding="utf-8")
    later = ref.replace(
        '    alias: "NoAction"\n', '    alias: "NoAction"\n    annotations: "@corelib"\n'
    )
    (tmp_path / "table_exact.p4.p4info.txtpb").write_text(later, encoding="utf-8")
    # different: one key width and one action missing on p4c's side
    shutil.copy(programs / "table_exact.p4", tmp_path / "z_diff.p4")
    changed = ref.replace("bitwidth: 16", "bitwidth: 17", 1)
    (tmp_path / "z_diff.p4.p4info.txtpb").write_text(changed, encoding="utf-8")
    # rejected: p4c compiled it, p4lite does not
    src = (programs / "counters.p4").read_text(encoding="utf-8")
    (tmp_path / "z_reject.p4").write_text(src.replace("apply {", "apply { nope = 1;", 1))
    shutil.copy(reference / "counters.p4info.txtpb", tmp_path / "z_reject.p4.p4info.txtpb")

    out_json = tmp_path / "out.json"
    proc = subprocess.run(
        [sys.executable, "-m", "tools.p4info_corpus", str(tmp_path), "--json", str(out_json)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    outcomes = {
        ln.split()[0]: ln.split()[1] for ln in lines if not ln.startswith((" ", "diff", "total"))
    }
    assert outcomes == {
        "counters": "equal",
        "table_exact": "equal",
        "z_diff": "different",
        "z_reject": "reject",
    }
    assert any(ln.startswith("  tables.match_fields: 1 programs (z_diff)") for ln in lines)
    assert lines[-1] == "total 4: 2 equal, 1 different, 1 reject, 0 crash"
    report = json.loads(out_json.read_text(encoding="utf-8"))
    diff = next(p for p in report["programs"] if p["name"] == "z_diff")
    assert [d["kind"] for d in diff["differences"]] == ["tables.match_fields"]
