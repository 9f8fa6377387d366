"""Hash algorithms give BMv2's outputs on known check vectors."""

from __future__ import annotations

import json
import random
import zlib
from pathlib import Path

import pytest

from p4lite.switch.core import hashes
from p4lite.switch.core.engine import Pkt, Program

REFERENCE = Path(__file__).resolve().parents[2] / "conformance" / "reference"

CHECK = b"123456789"


@pytest.mark.parametrize(
    ("algo", "expected"),
    [
        ("crc16", 0xBB3D),  # CRC-16/ARC check value
        ("crc16_custom", 0xBB3D),
        ("crc32", 0xCBF43926),  # CRC-32 check value
        ("crc32_custom", 0xCBF43926),
        ("crcCCITT", 0x29B1),  # CRC-16/CCITT-FALSE check value
        ("identity", int.from_bytes(CHECK[:8], "big")),
    ],
)
def test_check_vectors(algo: str, expected: int) -> None:
    assert hashes.ALGORITHMS[algo](CHECK) == expected


def test_csum16_of_a_real_ipv4_header() -> None:
    # 20-byte IPv4 header with its checksum field zeroed; the right checksum is 0xb861.
    hdr = bytes.fromhex("450000730000400040110000c0a80001c0a800c7")
    assert hashes.csum16(hdr) == 0xB861
    with_sum = hdr[:10] + (0xB861).to_bytes(2, "big") + hdr[12:]
    assert hashes.csum16(with_sum) == 0


def test_csum16_pads_an_odd_byte_as_high_byte() -> None:
    assert hashes.csum16(b"\x01") == 0xFEFF


def test_xor16() -> None:
    assert hashes.xor16(bytes.fromhex("12345678")) == 0x1234 ^ 0x5678
    assert hashes.xor16(b"\xab") == 0xAB00


def test_crc32_agrees_with_zlib_on_many_inputs() -> None:
    for n in range(0, 64, 7):
        data = bytes(range(n))
        assert hashes.crc32(data) == zlib.crc32(data)


def test_random_is_32_bit_and_follows_the_seed() -> None:
    rand = hashes.make("random", random.Random(7))
    again = hashes.make("random", random.Random(7))
    assert rand is not None and again is not None
    values = [rand(b"") for _ in range(20)]
    assert values == [again(b"") for _ in range(20)]
    assert all(0 <= v < 1 << 32 for v in values)
    assert len(set(values)) > 1


def test_calculation_leaves_out_fields_of_invalid_headers() -> None:
    doc = json.loads((REFERENCE / "parser_extract_basic.json").read_text())
    prog = Program(doc, lambda: 0)
    eth, ipv4 = prog.hdr_index["eth"], prog.hdr_index["ipv4"]
    build = prog.field_bytes_fn(
        [
            {"type": "field", "value": ["eth", "etherType"]},
            {"type": "field", "value": ["ipv4", "ttl"]},
            {"type": "hexstr", "value": "0x5", "bitwidth": 4},
        ],
        "test",
    )
    p = Pkt([list(t) for t in prog.hdr_templates], list(prog.valid_template), 0, b"")
    p.v[eth] = 1
    p.h[eth][prog.layouts[eth].names.index("etherType")] = 0x0800
    p.h[ipv4][prog.layouts[ipv4].names.index("ttl")] = 0x40
    # ipv4 invalid: 16 + 4 bits, zero-padded to 3 bytes.
    assert build(p) == bytes([0x08, 0x00, 0x50])
    p.v[ipv4] = 1
    assert build(p) == bytes([0x08, 0x00, 0x40, 0x50])


def test_extra_bmv2_algorithms() -> None:
    assert hashes.xor32(bytes.fromhex("0102030405")) == 0x01020304 ^ 0x05000000
    assert hashes.ALGORITHMS["cksum16"] is hashes.csum16
    assert hashes.crc8_custom(CHECK) == 0xF4  # CRC-8 check value
    rr = hashes.make("round_robin")
    assert rr is not None
    assert [rr(b"x"), rr(b"y"), rr(b"x")] == [0, 1, 2]
