"""STF dialect parsing and the runner's comparison rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from p4lite.switch.core import ExactMatch, KeyInfo, LpmMatch, MatchKind, TernaryMatch
from p4lite.switch.stf import (
    Expectation,
    StfError,
    _find_key,
    main,
    parse_key_value,
    parse_stf,
    run_stf,
)

CORPUS = Path(__file__).resolve().parents[2] / "conformance"


def key(kind: MatchKind, width: int) -> KeyInfo:
    return KeyInfo("k", kind, width)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0x0a010203", LpmMatch(0x0A010203, 32)),
        ("0x0a01****", LpmMatch(0x0A010000, 16)),
        ("0x0a******", LpmMatch(0x0A000000, 8)),
        ("0b110" + "*" * 29, LpmMatch(0xC0000000, 3)),
        ("0x********", LpmMatch(0, 0)),
    ],
)
def test_lpm_digit_rules(text: str, expected: LpmMatch) -> None:
    assert parse_key_value(key(MatchKind.LPM, 32), text, 1) == expected


@pytest.mark.parametrize(
    ("text", "width", "expected"),
    [
        ("0x12**", 16, TernaryMatch(0x1200, 0xFF00)),
        ("0x1234", 16, TernaryMatch(0x1234, 0xFFFF)),
        ("0x****", 16, TernaryMatch(0, 0)),
        ("0b1*******", 8, TernaryMatch(0x80, 0x80)),
        ("0x*5", 8, TernaryMatch(0x05, 0x0F)),
    ],
)
def test_ternary_digit_rules(text: str, width: int, expected: TernaryMatch) -> None:
    assert parse_key_value(key(MatchKind.TERNARY, width), text, 1) == expected


def test_exact_values_and_errors() -> None:
    assert parse_key_value(key(MatchKind.EXACT, 16), "258", 1) == ExactMatch(258)
    assert parse_key_value(key(MatchKind.EXACT, 16), "0x0102", 1) == ExactMatch(258)
    with pytest.raises(StfError, match="line 4: invalid number '010'"):
        parse_key_value(key(MatchKind.EXACT, 16), "010", 4)
    with pytest.raises(StfError, match="hex or binary"):
        parse_key_value(key(MatchKind.TERNARY, 16), "12", 1)


def test_parse_strips_comments_and_lowercases_keywords() -> None:
    cmds = parse_stf("# header\n\nPACKET 0 00 11  # trailing\n  expect 1 00 $\n")
    assert [(c.keyword, c.args, c.line) for c in cmds] == [
        ("packet", "0 00 11", 3),
        ("expect", "1 00 $", 4),
    ]


def test_expectation_wildcards_and_dollar() -> None:
    exact = Expectation(1, "0a*b", True, 1)
    assert exact.matches(bytes.fromhex("0a1b"))
    assert not exact.matches(bytes.fromhex("0a1b00"))
    assert not exact.matches(bytes.fromhex("0b1b"))
    prefix = Expectation(1, "0a", False, 1)
    assert prefix.matches(bytes.fromhex("0aff"))
    assert not prefix.matches(b"")


def _prog(name: str) -> str:
    return (CORPUS / "reference" / f"{name}.json").read_text()


def test_runner_reports_missing_wrong_and_unexpected_packets() -> None:
    stf = (
        "add MyIngress.t_lpm hdr.h.dst:0x0a****** MyIngress.route(id:1, port:1)\n"
        "packet 0 0a000001 00\n"
        "expect 1 0a000001 02 $\n"  # wrong id
        "packet 0 0b000001 00\n"  # default: port 4, never expected
        "expect 2 00 $\n"  # never sent
    )
    result = run_stf(_prog("table_lpm"), stf)
    assert not result.passed
    reasons = {(m.port, m.reason.split(" (")[0]) for m in result.mismatches}
    assert reasons == {
        (1, "wrong packet"),
        (2, "missing packet"),
        (4, "packet on a port that does not exist"),
    }
    assert "port 1:" in result.render()


def test_runner_records_failed_commands() -> None:
    stf = "add MyIngress.t_lpm hdr.h.dst:0x0a****** MyIngress.nope()\n"
    failed = run_stf(_prog("table_lpm"), stf)
    assert failed.errors == ["line 1: add: no action 'MyIngress.nope'"]
    with pytest.raises(StfError, match="line 1: 'add' needs ACTION"):
        run_stf(_prog("table_lpm"), "add MyIngress.t_lpm hdr.h.dst:0x0a******\n")
    result = run_stf(_prog("table_lpm"), "register_write MyIngress.none 0 1\n")
    assert result.errors and "MyIngress.none" in result.errors[0]
    assert not result.passed


def test_ignored_commands_are_accepted() -> None:
    stf = (
        "wait\nremove all\ncheck_counter c(0) == 1\npacket 0 0a000001 00\nexpect 4 0a000001 00 $\n"
    )
    assert run_stf(_prog("table_lpm"), stf).passed


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prog = CORPUS / "reference" / "table_lpm.json"
    good = CORPUS / "programs" / "table_lpm.stf"
    assert main([str(prog), str(good)]) == 0
    assert "PASS" in capsys.readouterr().out
    bad = tmp_path / "bad.stf"
    bad.write_text("packet 0 0a000001 00\nexpect 4 ff $\n")
    assert main([str(prog), str(bad)]) == 1
    assert "wrong packet" in capsys.readouterr().out
    assert main([str(prog), str(tmp_path / "missing.stf")]) == 2


def test_unique_suffix_names_are_accepted() -> None:
    stf = (
        "add t_lpm hdr.h.dst:0x0a****** route(id:1, port:1)\n"
        "packet 0 0a000001 00\n"
        "expect 1 0a000001 01 $\n"
    )
    assert run_stf(_prog("table_lpm"), stf).passed


def test_dollar_may_be_attached_to_the_data() -> None:
    stf = "packet 0 0a000001 00\nexpect 4 0a000001 00$\n"
    assert run_stf(_prog("table_lpm"), stf).passed
    short = "packet 0 0a000001 00\nexpect 4 0a000001$\n"
    assert not run_stf(_prog("table_lpm"), short).passed


def test_meter_array_set_rates_configures_every_cell() -> None:
    stf = "meter_array_set_rates MyIngress.m 0.000001:1 0.000001:1\n"
    for idx in range(4):
        stf += (
            f"packet 0 0{idx} ff\nexpect 1 0{idx} 00 $\npacket 0 0{idx} ff\nexpect 1 0{idx} 02 $\n"
        )
    result = run_stf(_prog("meter_color"), stf)
    assert result.passed, result.render()


def test_validity_keys_in_every_spelling() -> None:
    keys = [
        KeyInfo("hdr.h.a", MatchKind.EXACT, 8),
        KeyInfo("hdr.h.isValid()", MatchKind.EXACT, 1),
    ]
    for spelling in ("hdr.h.isValid()", "h.valid", "h.$valid$", "hdr.h.$valid$"):
        assert _find_key(keys, spelling, "t", 1) == 1
    assert _find_key(keys, "h.a", "t", 1) == 0
    with pytest.raises(StfError, match="has no key 'b'"):
        _find_key(keys, "b", "t", 1)


def test_a_lone_last_digit_of_packet_data_is_a_byte_of_its_own() -> None:
    # p4c's BMv2 runner reads packet data two digits at a time; a lone last
    # digit is a byte of that value (`... 00 5` ends in 0x05).
    stf = "packet 0 0a000001 00 5\nexpect 4 0a000001 0005 $\n"
    assert run_stf(_prog("table_lpm"), stf).passed
    with pytest.raises(StfError, match=r"line 1: packet data '0a0000\*1' has a wildcard"):
        run_stf(_prog("table_lpm"), "packet 0 0a0000*1\n")
