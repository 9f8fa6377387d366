"""Generated packers/unpackers agree with a bit-by-bit reference."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from p4lite.switch.core.codegen import make_concat, make_packer, make_unpacker


@st.composite
def layouts(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    widths = draw(st.lists(st.integers(min_value=1, max_value=48), min_size=1, max_size=8))
    pad = (-sum(widths)) % 8
    if pad:
        widths.append(pad)
    values = [draw(st.integers(min_value=0, max_value=(1 << w) - 1)) for w in widths]
    return widths, values


def reference_pack(widths: list[int], values: list[int]) -> bytes:
    bits = "".join(format(v, f"0{w}b") for v, w in zip(values, widths, strict=True))
    return int(bits, 2).to_bytes(len(bits) // 8, "big")


@given(layouts())
def test_pack_and_unpack_round_trip(layout: tuple[list[int], list[int]]) -> None:
    widths, values = layout
    data = make_packer(widths)(values)
    assert data == reference_pack(widths, values)
    unpack = make_unpacker(widths, [False] * len(widths))
    assert unpack(int.from_bytes(data, "big")) == values


def test_signed_fields_are_sign_extended_and_masked_when_packed() -> None:
    unpack = make_unpacker([4, 4], [True, False])
    assert unpack(0xF7) == [-1, 7]
    assert make_packer([4, 4])([-1, 7]) == b"\xf7"


def test_concat_needs_every_header_valid() -> None:
    concat = make_concat([(0, 0, 0xFF, 8), (-2, 0x5, 0xF, 4), (1, -1, 1, 1)])
    hs = [[0xAB], [0]]
    assert concat(hs, [1, 1]) == bytes([0xAB, 0x58])
    assert concat(hs, [1, 0]) is None
