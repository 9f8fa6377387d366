"""The port interface the data-plane loop drives.

A port moves whole frames (bytes starting at the first byte the parser
sees) and exposes a file descriptor that becomes readable when a frame
waits. Imports only the standard library.
"""

from __future__ import annotations

import abc
import logging

logger = logging.getLogger(__name__)


class PortError(Exception):
    """Base of the errors raised by the ports package."""


class Port(abc.ABC):
    """One switch port: a number, a name and a frame source/sink."""

    def __init__(self, number: int, name: str) -> None:
        if not 0 <= number < 511:
            raise PortError(f"port {name!r}: invalid port number {number!r}, expected 0..510")
        self.number = number
        self.name = name

    @abc.abstractmethod
    def fileno(self) -> int:
        """File descriptor that is readable when a frame waits."""

    @abc.abstractmethod
    def recv(self) -> bytes | None:
        """One received frame, or None if nothing (or nothing of interest) waits."""

    @abc.abstractmethod
    def send(self, frame: bytes) -> None:
        """Transmit one frame; errors are logged, never raised."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the port's resources."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.number}@{self.name})"
