"""tools/p4info_corpus.py run as a command on this project's conformance programs.

A program with p4c's P4Info beside it compares equal; a copy whose reference
gives a table another size is different (its kind named); a copy that does
not compile is rejected; a program without a reference is not part of it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFORMANCE = ROOT / "tests" / "conformance"


def test_equal_different_reject_and_totals(tmp_path: Path) -> None:
    program = CONFORMANCE / "programs" / "action_calls.p4"
    reference = (CONFORMANCE / "reference" / "action_calls.p4info.txtpb").read_text(
        encoding="utf-8"
    )
    shutil.copy(program, tmp_path / "a_equal.p4")
    (tmp_path / "a_equal.p4.p4info.txtpb").write_text(reference, encoding="utf-8")
    # different: the reference gives the table another size
    shutil.copy(program, tmp_path / "b_different.p4")
    assert "size: " in reference
    changed = reference.replace("size: ", "size: 7", 1)
    (tmp_path / "b_different.p4.p4info.txtpb").write_text(changed, encoding="utf-8")
    # reject: an undeclared name
    src = program.read_text(encoding="utf-8")
    (tmp_path / "c_reject.p4").write_text(
        src.replace("\n    apply {", "\n    apply { no_such_name = 1;", 1), encoding="utf-8"
    )
    (tmp_path / "c_reject.p4.p4info.txtpb").write_text(reference, encoding="utf-8")
    shutil.copy(program, tmp_path / "d_no_reference.p4")

    out_json = tmp_path / "out.json"
    proc = subprocess.run(
        [sys.executable, "-m", "tools.p4info_corpus", str(tmp_path), "--json", str(out_json)],
        capture_output=True, text=True, cwd=ROOT, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    outcomes = {ln.split()[0]: ln.split()[1] for ln in lines if ln.split()[:1] in
                (["a_equal"], ["b_different"], ["c_reject"])}  # fmt: skip
    assert outcomes == {"a_equal": "equal", "b_different": "different", "c_reject": "reject"}
    assert "tables.size: 1 programs (b_different)" in proc.stdout
    assert lines[-1] == "total 3: 1 equal, 1 different, 1 reject, 0 crash"
    saved = json.loads(out_json.read_text(encoding="utf-8"))
    assert saved["counts"] == {"equal": 1, "different": 1, "reject": 1, "crash": 0}
    assert [p["name"] for p in saved["programs"]] == ["a_equal", "b_different", "c_reject"]
