"""Shared helpers for the compiler's unit tests."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

import pytest

from p4lite.compiler.driver import Result, compile_file

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT / "tests" / "conformance"
PROGRAMS = sorted(p.stem for p in (CORPUS / "programs").glob("*.p4"))

_cache: dict[str, Result] = {}


def _compiled(name: str) -> Result:
    if name not in _cache:
        # compiled from inside the folder, as the reference was (relative source names)
        with contextlib.chdir(CORPUS / "programs"):
            _cache[name] = compile_file(f"{name}.p4")
    return _cache[name]


@pytest.fixture(scope="session")
def compiled() -> Callable[[str], Result]:
    """Compile a corpus program once per test session."""
    return _compiled


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The conformance corpus folder."""
    return CORPUS


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--update-golden``: rewrite the golden JSON and P4Info files (test_golden)."""
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/unit/compiler/golden/ from the compiler's current output",
    )


V1_HEAD = "#include <core.p4>\n#include <v1model.p4>\n"
V1_TAIL = """
parser P(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control V(inout headers_t hdr, inout meta_t meta) { apply { } }
control E(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control C(inout headers_t hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers_t hdr) { apply { pkt.emit(hdr.h); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
"""


def _program(ingress_body: str, decls: str = "", ingress_locals: str = "") -> str:
    return (
        V1_HEAD
        + "header h_t { bit<8> a; bit<8> b; bit<16> c; int<8> s; }\n"
        + "struct headers_t { h_t h; }\nstruct meta_t { bit<8> m; }\n"
        + decls
        + "\ncontrol I(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {\n"
        + ingress_locals
        + "\n    apply {\n"
        + ingress_body
        + "\n    }\n}\n"
        + V1_TAIL
    )


@pytest.fixture(scope="session")
def program() -> Callable[..., str]:
    """Build a whole v1model program around an ingress apply body."""
    return _program


@pytest.fixture
def compile_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Result]:
    """Write P4 text to prog.p4 in a temp dir and compile it from there (relative name)."""
    monkeypatch.chdir(tmp_path)

    def run(text: str) -> Result:
        (tmp_path / "prog.p4").write_text(text, encoding="utf-8")
        return compile_file("prog.p4")

    return run
