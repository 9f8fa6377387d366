"""Extra conformance programs compiled by p4lite and run with their STF on the p4lite switch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from p4lite.compiler.driver import compile_file
from p4lite.switch import stf

PROGRAMS_DIR = Path(__file__).resolve().parents[1] / "conformance_extra" / "programs"
PROGRAMS = sorted(p.stem for p in PROGRAMS_DIR.glob("*.p4"))


@pytest.mark.parametrize("name", PROGRAMS)
def test_extra_program_passes_its_stf(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / f"{name}.p4"
    source.write_text((PROGRAMS_DIR / f"{name}.p4").read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = compile_file(source.name)
    program_json = json.dumps(result.json)
    (tmp_path / f"{name}.json").write_text(program_json, encoding="utf-8")
    stf_text = (PROGRAMS_DIR / f"{name}.stf").read_text(encoding="utf-8")
    outcome = stf.run_stf(program_json, stf_text)
    assert outcome.passed, outcome.render()
