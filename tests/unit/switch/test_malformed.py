"""Malformed and random packets never raise; they follow parser semantics and are counted."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p4lite.switch.core import Switch

REFERENCE = Path(__file__).resolve().parents[2] / "conformance" / "reference"
PROGRAMS = ["parser_extract_basic", "parser_header_stack", "checksum_ipv4", "parser_advance"]
SWITCHES = {n: Switch.from_json((REFERENCE / f"{n}.json").read_text()) for n in PROGRAMS}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(PROGRAMS),
    port=st.integers(min_value=0, max_value=7),
    data=st.binary(max_size=80),
)
def test_random_bytes_never_raise(name: str, port: int, data: bytes) -> None:
    sw = SWITCHES[name]
    before = sw.port_stats(port)
    out = sw.process(port, data)
    after = sw.port_stats(port)
    assert after.rx == before.rx + 1
    for oport, odata in out:
        assert 0 <= oport < 511
        assert isinstance(odata, bytes)
    if not out:
        assert after.dropped == before.dropped + 1


def test_runt_frame_is_forwarded_unchanged_and_counted_as_malformed() -> None:
    sw = Switch.from_json((REFERENCE / "parser_extract_basic.json").read_text())
    out = sw.process(0, b"\x01")
    # BMv2: PacketTooShort does not drop; the partial bytes stay as payload.
    assert [d for _, d in out] == [b"\x01"]
    assert sw.port_stats(0).malformed == 1


def test_broken_program_at_run_time_drops_and_counts() -> None:
    sw = Switch.from_json((REFERENCE / "register_state.json").read_text())

    def boom(p: object) -> None:
        raise RuntimeError("program bug")

    # Simulate an internal failure: the parser closure raises.
    sw._prog.parse = boom  # type: ignore[method-assign,assignment]
    assert sw.process(2, bytes(20)) == []
    stats = sw.port_stats(2)
    assert (stats.rx, stats.dropped, stats.malformed) == (1, 1, 1)


def test_oversized_and_empty_frames() -> None:
    sw = Switch.from_json((REFERENCE / "parser_extract_basic.json").read_text())
    # Ethernet + IPv4 with a 64 KiB payload: parsed as usual, the payload carried.
    big = bytes(12) + b"\x08\x00" + bytes([0x45]) + bytes(19) + bytes(range(256)) * 256
    out = sw.process(0, big)
    assert len(out) == 1 and len(out[0][1]) == len(big)
    assert out[0][1][34:] == big[34:]
    # A runt of no bytes at all: PacketTooShort, passed on like any runt.
    assert [d for _, d in sw.process(0, b"")] == [b""]
    stats = sw.port_stats(0)
    assert (stats.rx, stats.malformed) == (2, 1)
