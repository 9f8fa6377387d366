"""Command line: flags, output files, exit codes, diagnostics without tracebacks."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from p4.config.v1 import p4info_pb2

from p4lite.compiler.__main__ import main
from p4lite.compiler.driver import p4info_format

CORPUS = Path(__file__).resolve().parents[2] / "conformance"
PROGRAMS = sorted(p.stem for p in (CORPUS / "programs").glob("*.p4"))


def test_compiles_to_json_and_text_p4info(tmp_path: Path) -> None:
    out = tmp_path / "o.json"
    info = tmp_path / "o.p4info.txtpb"
    src = str(CORPUS / "programs" / "table_exact.p4")
    assert main([src, "-o", str(out), "--p4runtime-files", str(info)]) == 0
    assert json.loads(out.read_text())["pipelines"][0]["name"] == "ingress"
    assert 'name: "MyIngress.t_fwd"' in info.read_text()


def test_p4info_format_by_suffix_and_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert p4info_format("x.txt") == "text"
    assert p4info_format("dir.v1/x.p4info.txtpb") == "text"
    assert p4info_format("x.json") == "json"
    assert p4info_format("x.bin") == "binary"
    src = str(CORPUS / "programs" / "counters.p4")
    # --p4runtime-format is for --p4runtime-file; the suffixes of --p4runtime-files win
    args = ["--p4runtime-files", f"{tmp_path / 'a.json'},{tmp_path / 'b.txt'}"]
    assert main([src, *args, "--p4runtime-format", "binary"]) == 0
    assert json.loads((tmp_path / "a.json").read_text())["counters"]
    assert 'name: "MyIngress.c"' in (tmp_path / "b.txt").read_text()
    assert main([src, "--p4runtime-file", str(tmp_path / "c.out")]) == 0
    default = p4info_pb2.P4Info()
    default.ParseFromString((tmp_path / "c.out").read_bytes())  # binary by default
    assert default.counters[0].preamble.name == "MyIngress.c"
    assert main([src, "--p4runtime-file", str(tmp_path / "d"), "--p4runtime-format", "json"]) == 0
    assert json.loads((tmp_path / "d").read_text())["counters"]
    # p4c knows no other suffix and writes nothing then
    out = tmp_path / "none.json"
    assert main([src, "-o", str(out), "--p4runtime-files", str(tmp_path / "x.pb")]) == 1
    assert capsys.readouterr().err == (
        f"error: {tmp_path / 'x.pb'}: Could not detect p4runtime info file format"
        " from file suffix .pb\n"
    )
    assert not out.exists()
    assert main([src, "--p4runtime-files", "p4info"]) == 1
    assert "p4info: unknown file kind; known suffixes are .bin, .txt, .json" in (
        capsys.readouterr().err
    )
    binfile = tmp_path / "o.bin"
    src = str(CORPUS / "programs" / "counters.p4")
    assert main([src, "-o", str(tmp_path / "o.json"), "--p4runtime-files", str(binfile)]) == 0
    msg = p4info_pb2.P4Info()
    msg.ParseFromString(binfile.read_bytes())
    assert msg.counters[0].preamble.name == "MyIngress.c"


def test_errors_exit_1_with_diagnostics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], program: Callable[..., str]
) -> None:
    src = tmp_path / "bad.p4"
    src.write_text(program("        hdr.h.a = nope;"), encoding="utf-8")
    assert main([str(src), "-o", str(tmp_path / "o.json")]) == 1
    err = capsys.readouterr().err
    assert "bad.p4:10:19: error: undeclared name 'nope'" in err
    assert "Traceback" not in err
    assert not (tmp_path / "o.json").exists()


def test_defines_and_include_dirs(tmp_path: Path, program: Callable[..., str]) -> None:
    inc = tmp_path / "inc"
    inc.mkdir()
    (inc / "body.p4").write_text("hdr.h.a = VAL;\n", encoding="utf-8")
    src = tmp_path / "p.p4"
    src.write_text(program('#include "body.p4"'), encoding="utf-8")
    out = tmp_path / "o.json"
    assert main([str(src), "-o", str(out), "-I", str(inc), "-D", "VAL=7"]) == 0
    assert '"0x07"' in out.read_text()


def test_missing_file_and_bad_arch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "none.p4"), "-o", str(tmp_path / "o.json")]) == 1
    assert "cannot read" in capsys.readouterr().err
    src = str(CORPUS / "programs" / "table_exact.p4")
    assert main([src, "--arch", "psa"]) == 1


def test_bad_flags_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--no-such-flag"]) == 1
    assert "usage: p4lite-p4c" in capsys.readouterr().err
