"""Hash and checksum algorithms of BMv2 (``calculations`` and selector ``algo`` names).

Every function takes the bytes BMv2 builds from the listed fields and returns the
unsigned result BMv2 would return. Standard library only.
"""

from __future__ import annotations

import logging
import random
import sys
import zlib
from collections.abc import Callable

logger = logging.getLogger(__name__)

HashFn = Callable[[bytes], int]
_LITTLE = sys.byteorder == "little"


def _reflect(value: int, width: int) -> int:
    """Bit-reverse ``value`` over ``width`` bits."""
    out = 0
    for _ in range(width):
        out = (out << 1) | (value & 1)
        value >>= 1
    return out


def _crc_table(poly: int, width: int, reflected: bool) -> list[int]:
    """Byte-wise lookup table for a CRC of ``width`` bits."""
    table = []
    top = 1 << (width - 1)
    mask = (1 << width) - 1
    rpoly = _reflect(poly, width)
    for byte in range(256):
        if reflected:
            crc = byte
            for _ in range(8):
                crc = (crc >> 1) ^ rpoly if crc & 1 else crc >> 1
        else:
            crc = byte << (width - 8)
            for _ in range(8):
                crc = ((crc << 1) ^ poly) & mask if crc & top else (crc << 1) & mask
        table.append(crc)
    return table


def make_crc(
    *, width: int, poly: int, init: int, xor_out: int, reflect_in: bool, reflect_out: bool
) -> HashFn:
    """Build a CRC function with the usual Rocksoft parameters."""
    mask = (1 << width) - 1
    if reflect_in:
        table = _crc_table(poly, width, True)
        start = _reflect(init, width)

        def crc_r(data: bytes) -> int:
            crc = start
            for b in data:
                crc = (crc >> 8) ^ table[(crc ^ b) & 0xFF]
            if not reflect_out:
                crc = _reflect(crc, width)
            return (crc ^ xor_out) & mask

        return crc_r
    table = _crc_table(poly, width, False)
    shift = width - 8

    def crc_n(data: bytes) -> int:
        crc = init
        for b in data:
            crc = ((crc << 8) & mask) ^ table[((crc >> shift) ^ b) & 0xFF]
        if reflect_out:
            crc = _reflect(crc, width)
        return (crc ^ xor_out) & mask

    return crc_n


crc16 = make_crc(width=16, poly=0x8005, init=0, xor_out=0, reflect_in=True, reflect_out=True)
crc_ccitt = make_crc(
    width=16, poly=0x1021, init=0xFFFF, xor_out=0, reflect_in=False, reflect_out=False
)


def crc32(data: bytes) -> int:
    """Standard CRC-32 (zlib)."""
    return zlib.crc32(data) & 0xFFFFFFFF


def csum16(data: bytes) -> int:
    """Internet checksum: ones' complement of the ones' complement sum of 16-bit words."""
    if len(data) % 2:
        data += b"\x00"
    # The ones' complement sum does not depend on byte order (RFC 1071), so sum
    # native-order words and swap the result on little-endian hosts.
    total = sum(memoryview(data).cast("H"))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    if _LITTLE:
        total = ((total & 0xFF) << 8) | (total >> 8)
    return ~total & 0xFFFF


def xor16(data: bytes) -> int:
    """XOR of the 16-bit big-endian words (an odd last byte is the high byte)."""
    if len(data) % 2:
        data += b"\x00"
    out = 0
    for i in range(0, len(data), 2):
        out ^= int.from_bytes(data[i : i + 2], "big")
    return out


def identity(data: bytes) -> int:
    """The first 8 bytes of the data as a big-endian integer (BMv2 keeps a uint64)."""
    return int.from_bytes(data[:8], "big")


def xor32(data: bytes) -> int:
    """XOR of the 32-bit big-endian words (the tail is zero-padded)."""
    data += b"\x00" * ((-len(data)) % 4)
    out = 0
    for i in range(0, len(data), 4):
        out ^= int.from_bytes(data[i : i + 4], "big")
    return out


crc8_custom = make_crc(width=8, poly=0x07, init=0, xor_out=0, reflect_in=False, reflect_out=False)
crc64_custom = make_crc(width=64, poly=0x1B, init=0, xor_out=0, reflect_in=True, reflect_out=True)


class RoundRobin:
    """BMv2's ``round_robin``: 0, 1, 2, ... whatever the data."""

    def __init__(self) -> None:
        self.next = 0

    def __call__(self, data: bytes) -> int:
        """Return the next counter value."""
        del data
        self.next += 1
        return self.next - 1


def random_hash(rng: random.Random) -> HashFn:
    """BMv2's ``random`` algorithm: a random 32-bit value, whatever the data."""

    def rand(data: bytes) -> int:
        del data
        return rng.getrandbits(32)

    return rand


def make(algo: str, rng: random.Random | None = None) -> HashFn | None:
    """A hash function by BMv2 name; stateful ones get a fresh instance."""
    if algo == "round_robin":
        return RoundRobin()
    if algo == "random":
        return random_hash(rng or random.Random())
    return ALGORITHMS.get(algo)


ALGORITHMS: dict[str, HashFn] = {
    "crc16": crc16,
    "crc16_custom": crc16,
    "crc32": crc32,
    "crc32_custom": crc32,
    "crcCCITT": crc_ccitt,
    "csum16": csum16,
    "cksum16": csum16,
    "xor32": xor32,
    "crc8_custom": crc8_custom,
    "crc64_custom": crc64_custom,
    "xor16": xor16,
    "identity": identity,
}
