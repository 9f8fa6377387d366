"""P4Runtime byte strings and P4Data to and from ints.

P4Runtime values are big-endian byte strings. Servers accept any length
whose value fits the width (leading zeros allowed) and answer with the
canonical form: the shortest string, at least one byte. Imports only
protobuf stubs and `server.errors`.
"""

from __future__ import annotations

import logging

from p4.v1 import p4data_pb2

from p4lite.switch.server.errors import invalid

logger = logging.getLogger(__name__)


def decode(data: bytes, bitwidth: int, what: str) -> int:
    """The int in `data`; INVALID_ARGUMENT if empty or wider than `bitwidth` bits."""
    if not data:
        raise invalid(f"{what}: empty byte string, expected a value of {bitwidth} bits")
    value = int.from_bytes(data, "big")
    if bitwidth > 0 and value >> bitwidth:
        raise invalid(f"{what}: value 0x{data.hex()} ({value!r}) does not fit in {bitwidth} bits")
    return value


def encode(value: int) -> bytes:
    """Canonical byte string of a non-negative int (b'\\x00' for 0)."""
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def encode_width(value: int, bitwidth: int) -> bytes:
    """Full-width byte string (for header fields that must keep their size)."""
    return value.to_bytes((bitwidth + 7) // 8, "big")


def bitstring(value: int) -> p4data_pb2.P4Data:
    """A P4Data holding one canonical bitstring."""
    return p4data_pb2.P4Data(bitstring=encode(value))


def p4data_int(data: p4data_pb2.P4Data, bitwidth: int, what: str) -> int:
    """The int in a bitstring (or bool) P4Data."""
    kind = data.WhichOneof("data")
    match kind:
        case "bitstring":
            return decode(data.bitstring, bitwidth, what)
        case "bool":
            return int(data.bool)
        case _:
            raise invalid(f"{what}: P4Data of kind {kind!r}, expected a bitstring")
