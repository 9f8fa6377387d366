"""Tests of canonical byte strings and user value parsing."""

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.p4rt import codec
from controller.p4rt.errors import EncodingError


@st.composite
def width_and_value(draw: st.DrawFn) -> tuple[int, int]:
    width = draw(st.integers(min_value=1, max_value=160))
    return width, draw(st.integers(min_value=0, max_value=(1 << width) - 1))


@given(width_and_value())
def test_encode_decode_round_trip(wv: tuple[int, int]) -> None:
    width, value = wv
    data = codec.encode(value, width)
    assert codec.decode(data, width) == value
    assert codec.is_canonical(data)
    assert len(data) <= (width + 7) // 8


@given(width_and_value())
def test_padded_form_canonicalizes_to_the_same_bytes(wv: tuple[int, int]) -> None:
    width, value = wv
    padded = codec.encode_padded(value, width)
    assert len(padded) == (width + 7) // 8
    assert codec.canonicalize(padded) == codec.encode(value, width)
    assert codec.decode(padded, width) == value


@pytest.mark.parametrize(
    ("value", "width", "expected"),
    [
        (0, 1, b"\x00"),
        (0, 32, b"\x00"),
        (1, 9, b"\x01"),
        (255, 9, b"\xff"),
        (256, 9, b"\x01\x00"),
        (0x0A000001, 32, b"\x0a\x00\x00\x01"),
        (0x00FF, 48, b"\xff"),
    ],
)
def test_canonical_forms(value: int, width: int, expected: bytes) -> None:
    assert codec.encode(value, width) == expected


def test_out_of_range_message() -> None:
    with pytest.raises(EncodingError, match=r"^invalid value for bitwidth 9: 512$"):
        codec.encode(512, 9)
    with pytest.raises(EncodingError, match="bitwidth 8: -1"):
        codec.encode(-1, 8)
    with pytest.raises(EncodingError, match="invalid bitwidth 0"):
        codec.encode(0, 0)


def test_decode_checks_width_and_empty() -> None:
    with pytest.raises(EncodingError, match="bitwidth 9: 512"):
        codec.decode(b"\x02\x00", 9)
    with pytest.raises(EncodingError, match="b''"):
        codec.decode(b"")
    assert codec.decode(b"\x00\x00\x07") == 7
    assert not codec.is_canonical(b"\x00\x07")
    assert not codec.is_canonical(b"")


@pytest.mark.parametrize(
    ("text", "width", "expected"),
    [
        ("10.0.0.1", 32, 0x0A000001),
        ("aa:bb:cc:dd:ee:ff", 48, 0xAABBCCDDEEFF),
        ("0:1:2:3:4:5", 48, 0x000102030405),
        ("AA-BB-CC-DD-EE-FF", 48, 0xAABBCCDDEEFF),
        ("2001:db8::1", 128, 0x20010DB8000000000000000000000001),
        ("0x1ff", 9, 511),
        ("0b101", 3, 5),
        ("1_000", 16, 1000),
        (" 42 ", 8, 42),
        (7, 3, 7),
        (b"\x01\x00", 9, 256),
    ],
)
def test_parse_value(text: codec.UserValue, width: int, expected: int) -> None:
    assert codec.parse_value(text, width) == expected


@pytest.mark.parametrize(
    ("text", "width", "message"),
    [
        ("10.0.0.256", 32, "invalid IPv4 address '10.0.0.256'"),
        ("10.0.0.1", 16, "bitwidth 16"),
        ("gg", 8, "invalid value 'gg': expected an integer"),
        ("::zz", 128, "invalid IPv6 address"),
        (True, 1, "not a bool"),
        (1.5, 8, "expected int, bytes or str, got float"),
    ],
)
def test_parse_value_errors(text: object, width: int, message: str) -> None:
    with pytest.raises(EncodingError, match=message):
        codec.parse_value(text, width)  # type: ignore[arg-type]


def test_parse_lpm() -> None:
    assert codec.parse_lpm("10.0.0.0/8", 32) == (0x0A000000, 8)
    assert codec.parse_lpm("10.1.2.3", 32) == (0x0A010203, 32)
    assert codec.parse_lpm((0x0A000000, 8), 32) == (0x0A000000, 8)
    assert codec.parse_lpm("0.0.0.0/0", 32) == (0, 0)
    with pytest.raises(EncodingError, match=r"bits beyond the prefix length 8.*0xa000000"):
        codec.parse_lpm("10.0.0.1/8", 32)
    with pytest.raises(EncodingError, match="invalid prefix length 33"):
        codec.parse_lpm("10.0.0.0/33", 32)
    with pytest.raises(EncodingError, match="expected '<address>/<length>'"):
        codec.parse_lpm("10.0.0.0/x", 32)


def test_parse_ternary() -> None:
    assert codec.parse_ternary("0x0a00&&&0xff00", 16) == (0x0A00, 0xFF00)
    assert codec.parse_ternary("10.0.0.0&&&255.0.0.0", 32) == (0x0A000000, 0xFF000000)
    assert codec.parse_ternary(5, 8) == (5, 0xFF)
    with pytest.raises(EncodingError, match="bits outside the mask"):
        codec.parse_ternary("0x0a01&&&0xff00", 16)


def test_parse_range() -> None:
    assert codec.parse_range("1000..2000", 16) == (1000, 2000)
    assert codec.parse_range("7", 16) == (7, 7)
    assert codec.parse_range((1, 2), 16) == (1, 2)
    assert codec.parse_range("10.0.0.1..10.0.0.9", 32) == (0x0A000001, 0x0A000009)
    with pytest.raises(EncodingError, match=r"low 9 is above high 1; use '<start>..<end>'"):
        codec.parse_range("9..1", 16)
    with pytest.raises(EncodingError, match="bitwidth 16: 70000"):
        codec.parse_range("1..70000", 16)


@given(width_and_value(), st.data())
def test_lpm_text_round_trip(wv: tuple[int, int], data: st.DataObject) -> None:
    width, value = wv
    plen = data.draw(st.integers(min_value=0, max_value=width))
    network = value & codec.prefix_mask(plen, width)
    assert codec.parse_lpm(f"{network:#x}/{plen}", width) == (network, plen)


@given(width_and_value(), st.integers(min_value=0))
def test_ternary_text_round_trip(wv: tuple[int, int], raw_mask: int) -> None:
    width, value = wv
    mask = raw_mask & ((1 << width) - 1)
    assert codec.parse_ternary(f"{value & mask}&&&{mask:#x}", width) == (value & mask, mask)


@given(st.integers(min_value=0, max_value=(1 << 32) - 1))
def test_ipv4_text_round_trip(value: int) -> None:
    assert codec.parse_value(str(ipaddress.IPv4Address(value)), 32) == value


@given(st.integers(min_value=0, max_value=(1 << 128) - 1))
def test_ipv6_text_round_trip(value: int) -> None:
    assert codec.parse_value(str(ipaddress.IPv6Address(value)), 128) == value


@given(st.binary(min_size=6, max_size=6))
def test_mac_text_round_trip(raw: bytes) -> None:
    assert codec.parse_value(":".join(f"{b:02x}" for b in raw), 48) == int.from_bytes(raw, "big")
