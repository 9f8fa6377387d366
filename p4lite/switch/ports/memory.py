"""In-memory ports for tests and embedding.

Each port is a datagram socket pair: the switch owns one end, the test the
other, so that the data-plane loop polls in-memory ports exactly like raw
sockets. Imports only the standard library and `ports.base`.
"""

from __future__ import annotations

import logging
import select
import socket

from p4lite.switch.ports.base import Port, PortError

logger = logging.getLogger(__name__)

_MAX_FRAME = 65536


class MemoryPort(Port):
    """A port backed by a local socket pair; the test side is `inject`/`take`."""

    def __init__(self, number: int, name: str | None = None) -> None:
        super().__init__(number, name if name is not None else f"mem{number}")
        self._switch_end, self._peer_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._switch_end.setblocking(False)
        # Large buffers so that a burst of test frames never blocks the sender.
        for sock in (self._switch_end, self._peer_end):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)

    def fileno(self) -> int:
        """Switch-side descriptor."""
        return self._switch_end.fileno()

    def recv(self) -> bytes | None:
        """Next frame injected by the peer, or None."""
        try:
            return self._switch_end.recv(_MAX_FRAME)
        except BlockingIOError:
            return None

    def send(self, frame: bytes) -> None:
        """Hand a frame to the peer side."""
        try:
            self._switch_end.send(frame)
        except OSError as exc:
            logger.warning("port %s: dropped a %d-byte frame on send: %s", self, len(frame), exc)

    def inject(self, frame: bytes) -> None:
        """Send a frame into the switch on this port (test side)."""
        if not frame:
            raise PortError(f"port {self.name!r}: cannot inject an empty frame")
        self._peer_end.send(frame)

    def take(self, timeout: float = 1.0) -> bytes | None:
        """The next frame the switch sent on this port, or None after `timeout` seconds."""
        readable, _, _ = select.select([self._peer_end], [], [], timeout)
        if not readable:
            return None
        return self._peer_end.recv(_MAX_FRAME)

    def take_all(self, timeout: float = 0.05) -> list[bytes]:
        """Every frame sent on this port until none arrives for `timeout` seconds."""
        frames: list[bytes] = []
        while (frame := self.take(timeout)) is not None:
            frames.append(frame)
        return frames

    def close(self) -> None:
        """Close both ends."""
        self._switch_end.close()
        self._peer_end.close()
