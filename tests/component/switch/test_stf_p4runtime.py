"""Conformance STF files run through the P4Runtime server: every control-plane
command becomes a P4Runtime Write, packets go through in-memory ports."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PROGRAMS = Path(__file__).resolve().parents[2] / "conformance" / "programs"
STF_NAMES = sorted(p.stem for p in PROGRAMS.glob("*.stf"))


def _ports(text: str) -> tuple[int, ...]:
    found = {int(m) for m in re.findall(r"^\s*(?:packet|expect)\s+(\d+)", text, re.M)}
    return tuple(sorted(found))


@pytest.mark.parametrize("name", STF_NAMES)
def test_stf_through_p4runtime(make_harness, kit, name: str) -> None:
    path = PROGRAMS / f"{name}.stf"
    h = make_harness(ports=_ports(path.read_text()), cpu_port=None)
    h.primary()
    names = h.set_pipeline(name)
    run = kit.StfRun(h, names)
    run.load(path)
    outputs = run.run()
    for port, frames in outputs.items():
        expected = run.expects.get(port, [])
        assert len(frames) == len(expected), (
            f"port {port}: got {[f.hex() for f in frames]}, expected {expected}"
        )
        for frame, (pattern, exact) in zip(frames, expected, strict=True):
            assert kit.stf_matches(pattern, exact, frame), (
                f"port {port}: got {frame.hex()}, expected {pattern}"
            )
