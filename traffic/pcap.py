"""Classic libpcap files (Ethernet link type) read and written with struct.

Reads microsecond and nanosecond files of either byte order; writes
microsecond little-endian files that tcpdump, Wireshark and scapy read.
Imports the standard library only.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterable
from pathlib import Path

logger = logging.getLogger(__name__)

LINKTYPE_ETHERNET = 1
_MAGIC_US = 0xA1B2C3D4
_MAGIC_NS = 0xA1B23C4D
_SNAPLEN = 65535

Record = tuple[float, bytes]


class PcapError(ValueError):
    """A file that is not a readable classic pcap."""


def write_pcap(path: str | Path, records: Iterable[Record]) -> int:
    """Write (timestamp seconds, frame) records; returns how many were written."""
    count = 0
    with Path(path).open("wb") as out:
        out.write(struct.pack("<IHHiIII", _MAGIC_US, 2, 4, 0, 0, _SNAPLEN, LINKTYPE_ETHERNET))
        for ts, frame in records:
            usec_total = round(ts * 1_000_000)
            sec, usec = divmod(usec_total, 1_000_000)
            out.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)))
            out.write(frame)
            count += 1
    logger.debug("wrote %d frames to %s", count, path)
    return count


def read_pcap(path: str | Path) -> list[Record]:
    """All (timestamp seconds, frame) records of a classic pcap file."""
    data = Path(path).read_bytes()
    if len(data) < 24:
        raise PcapError(f"pcap file {str(path)!r}: {len(data)!r} bytes, too short for a header")
    for endian in ("<", ">"):
        (magic,) = struct.unpack_from(endian + "I", data)
        if magic in (_MAGIC_US, _MAGIC_NS):
            break
    else:
        raise PcapError(
            f"pcap file {str(path)!r}: magic {data[:4].hex()!r}, expected a classic pcap "
            "(a1b2c3d4 or a1b23c4d; pcapng is not read)"
        )
    divisor = 1e9 if magic == _MAGIC_NS else 1e6
    linktype = struct.unpack_from(endian + "I", data, 20)[0]
    if linktype != LINKTYPE_ETHERNET:
        raise PcapError(f"pcap file {str(path)!r}: link type {linktype!r}, expected 1 (Ethernet)")
    rec = struct.Struct(endian + "IIII")
    out: list[Record] = []
    off = 24
    while off + rec.size <= len(data):
        sec, frac, incl, _orig = rec.unpack_from(data, off)
        off += rec.size
        if off + incl > len(data):
            raise PcapError(f"pcap file {str(path)!r}: record at byte {off!r} is truncated")
        out.append((sec + frac / divisor, data[off : off + incl]))
        off += incl
    return out
