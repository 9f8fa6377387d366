"""Every command shown in README.md is run: here, by another named test, or by .ci/run."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

# Commands that other tests (or CI itself) run, and where.
RUN_ELSEWHERE = {
    "make test": ".ci/run",
    "make run": "tests/mininet/test_make_run.py",
    "make run SCENARIO=check": "tests/mininet/test_make_run.py",
    "make run SCENARIO=demo": "tests/mininet/test_make_run.py",
    "make run PCAP=1": "tests/mininet/test_make_run.py",
    "make run TOPO=leaf-spine": "tests/mininet/test_make_run.py",
    "make models": "tests/mininet/test_make_run.py",  # make run depends on it
    "make run STEERING=static": "tests/mininet/test_make_run.py",
    # Beside a testbed with the static plan: the README's plan file, dinctl steer, its status.
    ".venv/bin/dinctl steer --plan logs/steering-plan.json --grpc-addr s1=127.0.0.1:50051 "
    "--election-id 11 --metrics-port 9101": "tests/mininet/test_make_run.py",
    ".venv/bin/dinctl status --grpc-addr 127.0.0.1:50051 --steering-url http://127.0.0.1:9101": (
        "tests/mininet/test_make_run.py"
    ),
    # Derivation on captures the test writes; training when data/ holds the real set.
    "make data": "tests/unit/models/test_make_data.py",
    ".venv/bin/dinctl train forest --data data/flows-ndpi.npz --packet-limit 8 --max-depth 8 "
    "--out build/models/flows-ndpi.npz": "tests/unit/models/test_make_data.py",
}


def readme_commands() -> list[str]:
    """The command lines of README.md's ```sh blocks, without comments."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            command = line.split("  #", 1)[0].strip()
            if command:
                commands.append(command)
    return commands


RUN_HERE = {
    ".venv/bin/python -m p4lite.toolchain which",
    'make build P4C="p4c-bm2-ss"',
    "make run SWITCH=simple_switch_grpc",
    ".venv/bin/dinctl --help",
    ".venv/bin/p4lite-p4c --help",
    ".venv/bin/p4lite-switch --help",
    ".venv/bin/din-node --help",
    ".venv/bin/p4lite-p4c tests/conformance/programs/table_lpm.p4 -o build/table_lpm.json "
    "--p4runtime-files build/table_lpm.p4info.txtpb",
    ".venv/bin/python -m p4lite.switch.stf build/table_lpm.json "
    "tests/conformance/programs/table_lpm.stf",
    ".venv/bin/dinctl train mlp --seed 0 --out build/models/digits-mlp.npz",
    ".venv/bin/dinctl evaluate build/models/digits-mlp.npz",
    ".venv/bin/dinctl info build/models/digits-mlp.npz",
}


def test_every_readme_command_is_accounted_for() -> None:
    unaccounted = [c for c in readme_commands() if c not in RUN_HERE and c not in RUN_ELSEWHERE]
    assert unaccounted == [], f"README commands no test runs: {unaccounted}"
    for command, where in RUN_ELSEWHERE.items():
        assert (REPO / where.split("::")[0]).is_file(), f"{command!r}: {where} is missing"
    assert "make test" in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def _fake_tools(folder: Path, *, switch: bool = True) -> dict[str, str]:
    """A PATH with stand-ins for p4c-bm2-ss (and simple_switch_grpc), to check plumbing."""
    folder.mkdir()
    bm2 = folder / "p4c-bm2-ss"
    bm2.write_text(
        "#!/bin/sh\n"
        'while [ $# -gt 0 ]; do case "$1" in -o) o="$2"; shift 2;; '
        '--p4runtime-files) i="$2"; shift 2;; *) shift;; esac; done\n'
        'echo "{}" > "$o"; echo "" > "$i"\n'
    )
    ssg = folder / "simple_switch_grpc"
    if switch:
        ssg.write_text("#!/bin/sh\nexit 0\n")
    for tool in (bm2, ssg) if switch else (bm2,):
        tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    return {**os.environ, "PATH": f"{folder}:{os.environ['PATH']}", "P4C": "", "SWITCH": ""}


def _make(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=600,
    )


def test_toolchain_which() -> None:
    result = subprocess.run(
        [str(REPO / ".venv/bin/python"), "-m", "p4lite.toolchain", "which"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    assert result.stdout.startswith("compiler: ")
    assert "\nswitch:   " in result.stdout


def test_make_build_with_a_named_compiler(tmp_path: Path) -> None:
    env = _fake_tools(tmp_path / "bin")
    src = tmp_path / "p4src"
    src.mkdir()
    (src / "prog.p4").write_text("// program\n")
    out = tmp_path / "build"
    result = _make("build", "P4C=p4c-bm2-ss", f"P4SRC={src}", f"BUILD_DIR={out}", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (out / "prog.json").is_file() and (out / "prog.p4info.txtpb").is_file()


@pytest.mark.mininet
def test_make_run_with_a_switch_that_cannot_start_says_so_plainly(tmp_path: Path) -> None:
    # A stand-in simple_switch_grpc that exits at once: the launcher must name the
    # switch and its log, print no traceback, and leave nothing running.
    env = _fake_tools(tmp_path / "bin", switch=True)
    logs = tmp_path / "logs"
    result = _make(
        "run",
        "SWITCH=simple_switch_grpc",
        f"BUILD_DIR={tmp_path / 'build'}",
        f"LOG_DIR={logs}",
        env={**env, "P4C": ""},
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in output
    assert re.search(r"switch\s+ready\s+SWITCH=simple_switch_grpc", output), output
    assert "error: s1: the switch process exited before 127.0.0.1:50051 accepted" in output
    assert "nothing is left running" in output
    assert not (logs / "launcher.pids").exists()


@pytest.mark.parametrize("tool", ["dinctl", "p4lite-p4c", "p4lite-switch", "din-node"])
def test_tool_help(tool: str) -> None:
    result = subprocess.run(
        [str(REPO / ".venv/bin" / tool), "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: "), result.stdout


def test_python_is_the_venv() -> None:
    # The README's commands use .venv/bin; the tests run inside that same venv.
    assert Path(sys.prefix).resolve() == (REPO / ".venv").resolve()


def _run_in(folder: Path, command: str) -> subprocess.CompletedProcess[str]:
    """Run a README command as written, from a folder laid out like the repository."""
    return subprocess.run(
        command.split(), cwd=folder, capture_output=True, text=True, check=False, timeout=300
    )


def _checkout_like(tmp_path: Path) -> Path:
    # The commands write into build/; run them in a folder that links to the
    # repository's inputs so that the real build/ is left alone.
    folder = tmp_path / "repo"
    folder.mkdir()
    for name in (".venv", "tests", "p4src"):
        (folder / name).symlink_to(REPO / name)
    return folder


def test_compile_and_stf_commands(tmp_path: Path) -> None:
    folder = _checkout_like(tmp_path)
    (folder / "build").mkdir()
    compile_cmd, stf_cmd = sorted(c for c in RUN_HERE if "table_lpm" in c)
    compiled = _run_in(folder, compile_cmd)
    assert compiled.returncode == 0, compiled.stderr
    ran = _run_in(folder, stf_cmd)
    assert ran.returncode == 0, ran.stdout + ran.stderr


def test_model_commands(tmp_path: Path) -> None:
    folder = _checkout_like(tmp_path)
    (folder / "build" / "models").mkdir(parents=True)
    train, evaluate, info = (
        next(c for c in RUN_HERE if f"dinctl {verb}" in c) for verb in ("train", "evaluate", "info")
    )
    for command in (train, evaluate, info):
        result = _run_in(folder, command)
        assert result.returncode == 0, f"{command}: {result.stderr}"
    assert '"name": "digits-mlp"' in result.stdout
