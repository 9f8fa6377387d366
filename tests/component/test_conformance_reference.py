"""Every conformance program (reference p4c JSON + STF) passes on the p4lite switch core."""

from __future__ import annotations

from pathlib import Path

import pytest

from p4lite.switch.stf import run_stf

CORPUS = Path(__file__).resolve().parents[1] / "conformance"
PROGRAMS = sorted(p.stem for p in (CORPUS / "programs").glob("*.stf"))


def test_corpus_is_complete() -> None:
    assert len(PROGRAMS) == 51
    for name in PROGRAMS:
        assert (CORPUS / "reference" / f"{name}.json").is_file(), name


@pytest.mark.parametrize("name", PROGRAMS)
def test_reference_json_passes_stf(name: str) -> None:
    stf = (CORPUS / "programs" / f"{name}.stf").read_text()
    prog = (CORPUS / "reference" / f"{name}.json").read_text()
    result = run_stf(prog, stf)
    assert result.passed, f"{name}:\n{result.render()}"
    # The run really compared packets: every expect line was matched by one output.
    expected = sum(1 for line in stf.splitlines() if line.strip().startswith("expect"))
    assert sum(len(v) for v in result.received.values()) == expected
