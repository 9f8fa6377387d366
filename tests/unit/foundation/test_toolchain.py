"""p4lite.toolchain: the order in which compilers and switches are chosen, and builds."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from p4lite import toolchain
from p4lite.toolchain import Flavor, ToolchainError

FAKE_BM2_SS = """#!/bin/sh
# A stand-in for p4c-bm2-ss: PROG.p4 -o OUT.json --p4runtime-files OUT.p4info.txtpb
out=""; p4info=""
while [ $# -gt 0 ]; do
  case "$1" in
    -o) out="$2"; shift 2;;
    --p4runtime-files) p4info="$2"; shift 2;;
    *) src="$1"; shift;;
  esac
done
[ -f "$src" ] || { echo "$src: no such file" >&2; exit 1; }
echo "{\\"program\\": \\"$src\\"}" > "$out"
echo "pkg_info {}" > "$p4info"
"""


def _executable(folder: Path, name: str, text: str = "#!/bin/sh\nexit 0\n") -> Path:
    path = folder / name
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def test_p4lite_is_chosen_when_no_real_tool_is_on_path(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path)}
    cc, sw = toolchain.compiler(env), toolchain.switch(env)
    assert (cc.name, cc.real) == ("p4lite-p4c", False)
    assert cc.argv == (sys.executable, "-m", "p4lite.compiler")
    assert (sw.name, sw.real) == ("p4lite-switch", False)
    assert sw.argv == (sys.executable, "-m", "p4lite.switch")


def test_real_tools_on_path_come_first(tmp_path: Path) -> None:
    bm2 = _executable(tmp_path, "p4c-bm2-ss")
    _executable(tmp_path, "p4c")
    ssg = _executable(tmp_path, "simple_switch_grpc")
    env = {"PATH": str(tmp_path)}
    cc, sw = toolchain.compiler(env), toolchain.switch(env)
    assert cc.argv == (str(bm2),) and cc.real and cc.flavor is Flavor.BM2_SS
    assert sw.argv == (str(ssg),) and sw.real


def test_p4c_driver_is_run_for_bmv2_v1model(tmp_path: Path) -> None:
    p4c = _executable(tmp_path, "p4c")
    cc = toolchain.compiler({"PATH": str(tmp_path)})
    assert cc.argv == (str(p4c), "--target", "bmv2", "--arch", "v1model")
    assert cc.flavor is Flavor.P4C_DRIVER
    argv = toolchain.compile_argv(cc, Path("p4src/din.p4"), Path("build"))
    # The driver takes an output folder, p4c-bm2-ss an output file.
    assert argv[-4:] == ["-o", "build", "--p4runtime-files", "build/din.p4info.txtpb"]


def test_overrides_beat_path(tmp_path: Path) -> None:
    _executable(tmp_path, "p4c-bm2-ss")
    _executable(tmp_path, "simple_switch_grpc")
    env = {"PATH": str(tmp_path), "P4C": "my-p4c --flag", "SWITCH": "p4lite-switch"}
    cc, sw = toolchain.compiler(env), toolchain.switch(env)
    assert cc.argv == ("my-p4c", "--flag") and cc.real
    assert sw.argv == ("p4lite-switch",) and not sw.real
    # An empty override means "choose automatically", as `make P4C=` passes it.
    assert toolchain.compiler({"PATH": str(tmp_path), "P4C": ""}).name == "p4c-bm2-ss"


def test_build_compiles_every_top_level_program(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _executable(bin_dir, "p4c-bm2-ss", FAKE_BM2_SS)
    src = tmp_path / "p4src"
    (src / "include").mkdir(parents=True)
    (src / "a.p4").write_text("// a\n")
    (src / "b.p4").write_text("// b\n")
    (src / "include" / "headers.p4").write_text("// not a program\n")
    out = tmp_path / "build"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "P4C": ""}
    result = subprocess.run(
        [sys.executable, "-m", "p4lite.toolchain", "build", "--out", str(out), str(src)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "a.json",
        "a.p4info.txtpb",
        "b.json",
        "b.p4info.txtpb",
    ]
    assert "[p4c-bm2-ss]" in result.stdout


def test_a_failing_compile_is_one_clear_error(tmp_path: Path) -> None:
    failing = _executable(
        tmp_path, "cc-fails", "#!/bin/sh\necho 'x.p4:1:1: error: bad' >&2\nexit 1\n"
    )
    prog = tmp_path / "x.p4"
    prog.write_text("garbage\n")
    tool = toolchain.Tool((str(failing),), name="cc-fails", real=True)
    with pytest.raises(ToolchainError, match=r"x\.p4: cc-fails failed with exit code 1"):
        toolchain.compile_program(prog, tmp_path / "out", tool)


def test_missing_sources_are_named(tmp_path: Path) -> None:
    with pytest.raises(ToolchainError, match=r"nowhere\.p4: no such P4 file or folder"):
        toolchain.programs([tmp_path / "nowhere.p4"])
