"""Text forms of match and parameter values: IPv4 addresses, MACs, ints.

Imports the standard library only.
"""

from __future__ import annotations

import ipaddress
import logging
import re

from controller.entries.errors import EntriesError

log = logging.getLogger(__name__)

_MAC = re.compile(r"[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}")


def ipv4(value: int | str, what: str = "IPv4 address") -> int:
    """An IPv4 address (dotted quad or int) as a 32-bit int."""
    if isinstance(value, bool):
        raise EntriesError(f"{what}: {value!r}: expected an IPv4 address")
    if isinstance(value, int):
        if not 0 <= value <= 0xFFFFFFFF:
            raise EntriesError(f"{what}: {value!r}: expected 0..2^32-1")
        return value
    try:
        return int(ipaddress.IPv4Address(value))
    except ValueError:
        raise EntriesError(f"{what}: {value!r}: expected a dotted quad like '10.0.1.1'") from None


def mac(value: int | str, what: str = "MAC address") -> int:
    """A MAC address ('08:00:00:00:01:11' or int) as a 48-bit int."""
    if isinstance(value, bool):
        raise EntriesError(f"{what}: {value!r}: expected a MAC address")
    if isinstance(value, int):
        if not 0 <= value < 1 << 48:
            raise EntriesError(f"{what}: {value!r}: expected 0..2^48-1")
        return value
    if not _MAC.fullmatch(value):
        raise EntriesError(f"{what}: {value!r}: expected six hex bytes like '08:00:00:00:01:11'")
    return int(re.sub("[:-]", "", value), 16)


def parse_value(value: object, what: str) -> int:
    """A JSON value as an int: int, IPv4 or MAC text, or '0x..' / decimal text."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise EntriesError(f"{what}: {value!r}: expected an int or a string")
    if isinstance(value, int):
        if value < 0:
            raise EntriesError(f"{what}: {value!r}: expected a non-negative int")
        return value
    text = value.strip()
    if text.count(".") == 3:
        return ipv4(text, what)
    if _MAC.fullmatch(text):
        return mac(text, what)
    try:
        number = int(text, 0)
    except ValueError:
        raise EntriesError(
            f"{what}: {value!r}: expected an int, '0x..', an IPv4 address or a MAC"
        ) from None
    if number < 0:
        raise EntriesError(f"{what}: {value!r}: expected a non-negative int")
    return number
