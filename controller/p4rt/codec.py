"""Byte-string codec for P4Runtime values and parsers for user-written values.

P4Runtime carries every bit<W> value as a big-endian byte string; the
canonical form (P4Runtime spec, "Bytestrings") has no leading zero bytes and
encodes 0 as a single zero byte. This module encodes and decodes that form,
checks widths, and parses what people type: integers, "10.0.0.1",
"aa:bb:cc:dd:ee:ff", "10.0.0.0/8", "value&&&mask", "lo..hi".
May import only the standard library and :mod:`controller.p4rt.errors`.
"""

from __future__ import annotations

import ipaddress
import logging
import re

from controller.p4rt.errors import EncodingError

logger = logging.getLogger(__name__)

UserValue = int | str | bytes
"""What a caller may give for a bit<W> value."""

_MAC_RE = re.compile(r"^[0-9a-fA-F]{1,2}([:-][0-9a-fA-F]{1,2}){5}$")


def check_width(value: int, bitwidth: int) -> int:
    """Return ``value`` if it fits in ``bitwidth`` unsigned bits, else raise EncodingError."""
    if bitwidth <= 0:
        raise EncodingError(f"invalid bitwidth {bitwidth!r}: expected a positive width")
    if value < 0 or value >> bitwidth:
        raise EncodingError(f"invalid value for bitwidth {bitwidth}: {value!r}")
    return value


def encode(value: int, bitwidth: int) -> bytes:
    """Encode an unsigned ``value`` of ``bitwidth`` bits as a canonical byte string."""
    check_width(value, bitwidth)
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def encode_padded(value: int, bitwidth: int) -> bytes:
    """Encode ``value`` in exactly ceil(bitwidth/8) bytes (for targets that want full width)."""
    check_width(value, bitwidth)
    return value.to_bytes((bitwidth + 7) // 8, "big")


def decode(data: bytes, bitwidth: int | None = None) -> int:
    """Decode a big-endian byte string (canonical or padded); check the width if given."""
    if not data:
        raise EncodingError("invalid byte string b'': expected at least one byte")
    value = int.from_bytes(data, "big")
    if bitwidth is not None:
        check_width(value, bitwidth)
    return value


def canonicalize(data: bytes) -> bytes:
    """Strip leading zero bytes, keeping one byte for 0."""
    stripped = data.lstrip(b"\x00")
    return stripped or b"\x00"


def is_canonical(data: bytes) -> bool:
    """Whether ``data`` is in canonical form (non-empty, no leading zero byte unless 0)."""
    return data == canonicalize(data) and bool(data)


def parse_value(value: UserValue, bitwidth: int) -> int:
    """Parse an int, bytes, or a string (decimal, 0x/0b, IPv4, IPv6, MAC) for bit<bitwidth>."""
    if isinstance(value, bool):
        raise EncodingError(f"invalid value {value!r}: expected an integer, not a bool")
    if isinstance(value, int):
        return check_width(value, bitwidth)
    if isinstance(value, bytes):
        return decode(value, bitwidth)
    if not isinstance(value, str):
        raise EncodingError(
            f"invalid value {value!r}: expected int, bytes or str, got {type(value).__name__}"
        )
    text = value.strip()
    parsed: int | None = None
    if _MAC_RE.match(text):
        parsed = int("".join(p.zfill(2) for p in re.split(r"[:-]", text)), 16)
    elif text.count(".") == 3 and ":" not in text:
        try:
            parsed = int(ipaddress.IPv4Address(text))
        except ValueError as exc:
            raise EncodingError(f"invalid IPv4 address {value!r}: {exc}") from None
    elif ":" in text:
        try:
            parsed = int(ipaddress.IPv6Address(text))
        except ValueError as exc:
            raise EncodingError(f"invalid IPv6 address {value!r}: {exc}") from None
    else:
        try:
            parsed = int(text.replace("_", ""), 0)
        except ValueError:
            raise EncodingError(
                f"invalid value {value!r}: expected an integer (decimal, 0x.., 0b..), "
                "an IPv4/IPv6 address or a MAC address"
            ) from None
    return check_width(parsed, bitwidth)


def parse_lpm(value: UserValue | tuple[UserValue, int], bitwidth: int) -> tuple[int, int]:
    """Parse 'addr/len' or (value, prefix_len) into (value, prefix_len); host bits must be 0."""
    if isinstance(value, tuple):
        raw, plen = value
    elif isinstance(value, str) and "/" in value:
        raw, _, plen_text = value.rpartition("/")
        try:
            plen = int(plen_text)
        except ValueError:
            raise EncodingError(
                f"invalid prefix length in {value!r}: expected '<address>/<length>'"
            ) from None
    else:
        raw, plen = value, bitwidth
    number = parse_value(raw, bitwidth)
    if not 0 <= plen <= bitwidth:
        raise EncodingError(f"invalid prefix length {plen!r} in {value!r}: expected 0..{bitwidth}")
    host_mask = (1 << (bitwidth - plen)) - 1
    if number & host_mask:
        raise EncodingError(
            f"invalid lpm value {value!r}: bits beyond the prefix length {plen} are set; "
            f"expected value {number & ~host_mask:#x}"
        )
    return number, plen


def prefix_mask(prefix_len: int, bitwidth: int) -> int:
    """Return the mask of the top ``prefix_len`` bits of a ``bitwidth``-bit value."""
    return ((1 << prefix_len) - 1) << (bitwidth - prefix_len)


def parse_ternary(value: UserValue | tuple[UserValue, UserValue], bitwidth: int) -> tuple[int, int]:
    """Parse 'value&&&mask' or (value, mask); a bare value means an all-ones mask."""
    if isinstance(value, tuple):
        raw, raw_mask = value
    elif isinstance(value, str) and "&&&" in value:
        raw, _, raw_mask = value.partition("&&&")
    else:
        raw, raw_mask = value, (1 << bitwidth) - 1
    number = parse_value(raw, bitwidth)
    mask = parse_value(raw_mask, bitwidth)
    if number & ~mask:
        raise EncodingError(
            f"invalid ternary value {value!r}: value has bits outside the mask; "
            f"expected value {number & mask:#x} for mask {mask:#x}"
        )
    return number, mask


def parse_range(value: UserValue | tuple[UserValue, UserValue], bitwidth: int) -> tuple[int, int]:
    """Parse 'lo..hi' or (lo, hi); a bare value means the range [value, value]."""
    if isinstance(value, tuple):
        raw_lo, raw_hi = value
    elif isinstance(value, str) and ".." in value:
        raw_lo, _, raw_hi = value.partition("..")
    else:
        raw_lo = raw_hi = value
    low = parse_value(raw_lo, bitwidth)
    high = parse_value(raw_hi, bitwidth)
    if low > high:
        raise EncodingError(
            f"invalid range {value!r}: low {low} is above high {high}; use '<start>..<end>'"
        )
    return low, high
