"""dinctl's switch commands without a switch: argument parsing and error lines."""

from __future__ import annotations

import pytest

from controller import cli
from controller.entries.mlp import MODE_EXIT_HEAD, MODE_FINAL, MODE_NEXT_HERE, Role


def test_roles_parse() -> None:
    args = cli.build_parser().parse_args(
        [
            "compile-entries",
            "--model",
            "m.npz",
            "--p4info",
            "p",
            "--out",
            "o",
            "--role",
            "0:next",
            "--role",
            "1:exit-head:130:10",
            "--role",
            "2:final:0:10",
        ]
    )
    assert args.role == [
        Role(0, MODE_NEXT_HERE),
        Role(1, MODE_EXIT_HEAD, 130, 10),
        Role(2, MODE_FINAL, 0, 10),
    ]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--role", "0:sideways"], "invalid role '0:sideways'"),
        (["--role", "x:next"], "invalid role 'x:next'"),
        (["--config", "only-one"], "invalid --config 'only-one'"),
        (["--election-id", "0"], "invalid election id '0'"),
    ],
)
def test_bad_switch_arguments_are_one_line(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["install", "--model", "m.npz", "--grpc-addr", "127.0.0.1:1"]
    assert cli.main([*base, *argv]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err


def test_election_id_high_low() -> None:
    args = cli.build_parser().parse_args(["status", "--election-id", "1,2"])
    assert args.election_id == (1 << 64) | 2


def test_install_needs_a_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["install", "--grpc-addr", "127.0.0.1:1"]) == 1
    assert "one of the arguments --runtime --model is required" in capsys.readouterr().err


def test_read_needs_a_table_or_counter(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["read", "--grpc-addr", "127.0.0.1:1"]) == 1
    assert capsys.readouterr().err.strip() == (
        "dinctl read: error: give --table NAME or --counter NAME"
    )


def test_one_line_joins_and_shortens() -> None:
    exc = Exception(
        "write failed on 1 switch(es):\n  s1: Write failed\n"
        + "\n".join(f"  update #{i}: ALREADY_EXISTS: x" for i in range(10))
    )
    line = cli._one_line(exc)
    assert "\n" not in line
    assert line.startswith("write failed on 1 switch(es): s1: Write failed; update #0")
    assert line.endswith("... (9 more)")
