"""Per-port pcap capture, named like BMv2's (`<iface>_in.pcap`, `<iface>_out.pcap`).

Classic libpcap format, Ethernet link type, microsecond timestamps; each
record is flushed so that a capture can be read while the switch runs.
Imports only the standard library.
"""

from __future__ import annotations

import logging
import struct
import time
from pathlib import Path
from typing import BinaryIO

logger = logging.getLogger(__name__)

_MAGIC = 0xA1B2C3D4
_LINKTYPE_ETHERNET = 1
_SNAPLEN = 65535


class PcapWriter:
    """Appends frames to one pcap file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: BinaryIO = path.open("wb")
        self._file.write(struct.pack("<IHHiIII", _MAGIC, 2, 4, 0, 0, _SNAPLEN, _LINKTYPE_ETHERNET))
        self._file.flush()

    def write(self, frame: bytes, timestamp: float | None = None) -> None:
        """Record one frame."""
        now = time.time() if timestamp is None else timestamp
        seconds = int(now)
        micros = int((now - seconds) * 1_000_000)
        captured = frame[:_SNAPLEN]
        self._file.write(struct.pack("<IIII", seconds, micros, len(captured), len(frame)))
        self._file.write(captured)
        self._file.flush()

    def close(self) -> None:
        """Close the file."""
        self._file.close()


def read_pcap(path: Path) -> list[bytes]:
    """Frames of a classic little-endian pcap file (for tests and tools)."""
    data = path.read_bytes()
    if len(data) < 24 or struct.unpack_from("<I", data)[0] != _MAGIC:
        raise ValueError(f"{path}: not a little-endian microsecond pcap file")
    frames: list[bytes] = []
    offset = 24
    while offset + 16 <= len(data):
        _, _, incl, _ = struct.unpack_from("<IIII", data, offset)
        offset += 16
        frames.append(data[offset : offset + incl])
        offset += incl
    return frames


class PcapSet:
    """The in/out capture files of every port in one directory."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._writers: dict[tuple[str, str], PcapWriter] = {}

    def _writer(self, iface: str, direction: str) -> PcapWriter:
        key = (iface, direction)
        writer = self._writers.get(key)
        if writer is None:
            writer = PcapWriter(self.directory / f"{iface}_{direction}.pcap")
            self._writers[key] = writer
        return writer

    def record_in(self, iface: str, frame: bytes) -> None:
        """Record a frame received on `iface`."""
        self._writer(iface, "in").write(frame)

    def record_out(self, iface: str, frame: bytes) -> None:
        """Record a frame sent on `iface`."""
        self._writer(iface, "out").write(frame)

    def close(self) -> None:
        """Close every file."""
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
