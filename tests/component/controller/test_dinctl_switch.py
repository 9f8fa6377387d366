"""dinctl's switch commands in a subprocess against p4lite switch processes started
with --no-p4 (the pipeline comes from --config) and stopped by PID."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from controller.cli import build_parser, shell_argv
from controller.entries import runtime_json
from controller.install import model_entries


def _ok(result: Any) -> str:
    assert result.returncode == 0, result.stderr
    return str(result.stdout)


def _one_line_error(result: Any, *needles: str) -> None:
    assert result.returncode == 1, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("dinctl: error: ") or lines[0].startswith("dinctl "), lines
    for n in needles:
        assert n in lines[0], lines[0]


def test_compile_entries_writes_checked_runtime_json(
    kit: Any, din: Any, models: Any, tmp_path: Path
) -> None:
    out = tmp_path / "s1-runtime.json"
    text = _ok(
        kit.dinctl(
            "compile-entries",
            "--model",
            str(models.v1_path),
            "--model-id",
            "3",
            "--role",
            "0:next",
            "--role",
            "1:next",
            "--role",
            "2:final:0:10",
            "--p4info",
            str(din.p4info),
            "--out",
            str(out),
        )
    )
    rf = runtime_json.read(out)
    assert set(rf.entries) == set(model_entries(models.v1, 3))
    assert rf.p4info == str(din.p4info)
    assert f"{len(rf.entries)} entries" in text


def test_compile_entries_bad_role_is_one_line(
    kit: Any, din: Any, models: Any, tmp_path: Path
) -> None:
    result = kit.dinctl(
        "compile-entries",
        "--model",
        str(models.v1_path),
        "--role",
        "0:sideways",
        "--p4info",
        str(din.p4info),
        "--out",
        str(tmp_path / "x.json"),
    )
    _one_line_error(result, "'0:sideways'")


def test_install_status_read_swap_on_two_switch_processes(
    kit: Any, din: Any, models: Any, switch_process: Callable[[], str], tmp_path: Path
) -> None:
    a, b = switch_process(), switch_process()
    runtime = tmp_path / "s1-runtime.json"
    _ok(
        kit.dinctl(
            "compile-entries",
            "--model",
            str(models.v1_path),
            "--p4info",
            str(din.p4info),
            "--out",
            str(runtime),
        )
    )
    n = len(runtime_json.read(runtime).entries)

    result = kit.dinctl(
        "install",
        "--grpc-addr",
        a,
        "--grpc-addr",
        b,
        "--config",
        din.config,
        "--runtime",
        str(runtime),
    )
    out = _ok(result)
    assert f"installed {2 * n} entries on 2 switch(es)" in out and "entries/s" in out
    assert "100%" in result.stderr and "[" in result.stderr  # the progress bar

    status = json.loads(_ok(kit.dinctl("status", "--grpc-addr", a, "--grpc-addr", b, "--json")))
    for s in status:
        assert s["reachable"] and s["pipeline"] and "primary" not in s
        assert sum(s["entries"].values()) == n
        assert s["active_model_versions"] == {"1": 1}
    text = _ok(kit.dinctl("status", "--grpc-addr", a))
    assert "reachable, pipeline present" in text and "model 1 -> v1" in text

    roles = _ok(kit.dinctl("read", "--grpc-addr", a, "--table", "mlp_role"))
    assert "MyIngress.set_mlp_role(head_layer=0, mode=3, num_classes=10)" in roles
    assert roles.strip().endswith("3 entries")
    counter = _ok(kit.dinctl("read", "--grpc-addr", a, "--counter", "MyIngress.class_packets"))
    assert "packets=0" in counter

    swap = _ok(
        kit.dinctl(
            "swap",
            "--grpc-addr",
            a,
            "--grpc-addr",
            b,
            "--model",
            str(models.v2_path),
            "--model-id",
            "1",
            "--no-progress",
        )
    )
    assert swap.count("version 1 -> 2") == 2
    status = json.loads(_ok(kit.dinctl("status", "--grpc-addr", a, "--grpc-addr", b, "--json")))
    assert [s["active_model_versions"] for s in status] == [{"1": 2}, {"1": 2}]
    assert [sum(s["entries"].values()) for s in status] == [n, n]

    again = kit.dinctl("swap", "--grpc-addr", a, "--model", str(models.v2_path), "--no-progress")
    _one_line_error(again, "version 2 is already active")
    _one_line_error(
        kit.dinctl("read", "--grpc-addr", a, "--table", "MyIngress.nope"), "'MyIngress.nope'"
    )
    dup = kit.dinctl("install", "--grpc-addr", a, "--runtime", str(runtime), "--no-progress")
    _one_line_error(dup, "ALREADY_EXISTS")


def test_install_models_directly(
    kit: Any, din: Any, models: Any, switch_process: Callable[[], str]
) -> None:
    addr = switch_process()
    out = _ok(
        kit.dinctl(
            "install",
            "--grpc-addr",
            addr,
            "--config",
            din.config,
            "--model",
            str(models.v1_path),
            "--model-id",
            "7",
            "--no-progress",
        )
    )
    assert f"installed {len(model_entries(models.v1, 7))} entries" in out
    status = json.loads(_ok(kit.dinctl("status", "--grpc-addr", addr, "--json")))
    assert status[0]["active_model_versions"] == {"7": 1}


def test_switch_without_pipeline(kit: Any, models: Any, switch_process: Callable[[], str]) -> None:
    addr = switch_process()
    status = json.loads(kit.dinctl("status", "--grpc-addr", addr, "--json").stdout)
    assert status == [{"switch": addr, "reachable": True, "pipeline": False}]
    result = kit.dinctl("install", "--grpc-addr", addr, "--model", str(models.v1_path))
    _one_line_error(result, "has no pipeline", "--config")


@pytest.mark.parametrize("command", ["install", "status", "read", "swap"])
def test_unreachable_switch_is_one_line(kit: Any, models: Any, command: str) -> None:
    argv = {
        "install": ["--model", str(models.v1_path)],
        "status": [],
        "read": ["--table", "MyIngress.mlp_role"],
        "swap": ["--model", str(models.v2_path)],
    }[command]
    result = kit.dinctl(command, "--grpc-addr", "127.0.0.1:1", "--timeout", "0.5", *argv)
    if command == "status":
        assert result.returncode == 1
        assert result.stdout.startswith("127.0.0.1:1: unreachable")
    else:
        _one_line_error(result, "127.0.0.1:1")


def test_shell_command_line(din: Any) -> None:
    args = build_parser().parse_args(
        [
            "shell",
            "--grpc-addr",
            "127.0.0.1:9559",
            "--config",
            din.config,
            "--election-id",
            "0,5",
            "--device-id",
            "2",
        ]
    )
    argv = shell_argv(args)
    assert argv[1:3] == ["-m", "p4runtime_sh"]
    assert argv[3:] == [
        "--grpc-addr",
        "127.0.0.1:9559",
        "--device-id",
        "2",
        "--election-id",
        "0,5",
        "--config",
        din.config,
    ]


def test_shell_runs_p4runtime_shell_on_the_switch(
    kit: Any, din: Any, switch_process: Callable[[], str]
) -> None:
    addr = switch_process()
    script = "\n".join(
        [
            'te = table_entry["MyIngress.active_model_version"]'
            '(action="MyIngress.set_model_version")',
            'te.match["hdr.din.model_id"] = "5"',
            'te.action["version"] = "3"',
            "te.insert()",
            'print("COUNT", sum(1 for _ in table_entry["MyIngress.active_model_version"].read()))',
            "",
        ]
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "controller.cli",
            "shell",
            "--grpc-addr",
            addr,
            "--config",
            din.config,
        ],
        input=script,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=kit.REPO,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "COUNT 1" in result.stdout
    status = json.loads(_ok(kit.dinctl("status", "--grpc-addr", addr, "--json")))
    assert status[0]["active_model_versions"] == {"5": 3}
