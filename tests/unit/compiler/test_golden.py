"""Golden outputs: p4lite's own BMv2 JSON and P4Info for a few programs, byte for byte.

The conformance tests judge the compiler by behaviour and by p4c's reference;
these catch any unintended change of the output itself. After an intended
change, rewrite the files with ``pytest tests/unit/compiler/test_golden.py
--update-golden`` and review the diff.
"""

from __future__ import annotations

import contextlib
import difflib
import json
from pathlib import Path

import pytest

from p4lite.compiler.driver import compile_file
from p4lite.compiler.p4info import serialize

TESTS = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"
PROGRAMS = [
    "conformance/programs/table_exact",
    "conformance/programs/parser_header_stack",
    "conformance/programs/checksum_ipv4",
    "conformance/programs/clone_i2e",
    "conformance/programs/counters",
    "conformance/programs/digest",
    "conformance_extra/programs/direct_meter_read",
    "conformance_extra/programs/hash_check_values",
    "conformance_extra/programs/tuple_locals",
    "conformance_extra/programs/local_constants",
]


def outputs(program: str) -> dict[str, str]:
    """The JSON and text P4Info of one program, compiled from its own folder."""
    source = TESTS / f"{program}.p4"
    with contextlib.chdir(source.parent):
        result = compile_file(source.name)
    return {
        ".json": json.dumps(result.json, indent=2) + "\n",
        ".p4info.txtpb": serialize(result.p4info, "text").decode(),
    }


@pytest.mark.parametrize("program", PROGRAMS, ids=[Path(p).name for p in PROGRAMS])
def test_output_equals_golden(program: str, request: pytest.FixtureRequest) -> None:
    name = Path(program).name
    for suffix, text in outputs(program).items():
        path = GOLDEN / f"{name}{suffix}"
        if request.config.getoption("--update-golden", default=False):
            GOLDEN.mkdir(exist_ok=True)
            path.write_text(text, encoding="utf-8")
            continue
        assert path.exists(), f"{path.name} missing: run with --update-golden"
        want = path.read_text(encoding="utf-8")
        if text != want:
            diff = difflib.unified_diff(
                want.splitlines(), text.splitlines(), "golden", "now", lineterm="", n=2
            )
            pytest.fail(
                f"{path.name} differs (--update-golden rewrites it):\n" + "\n".join(list(diff)[:60])
            )
