"""A fast frame sender: pre-built raw frames on one reused AF_PACKET socket, paced.

Linux only (AF_PACKET); needs CAP_NET_RAW. Imports the standard library only.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

logger = logging.getLogger(__name__)

# Sleeping is coarse (~50-100 us); closer than this to a deadline we spin.
_SPIN_S = 200e-6


@dataclass(frozen=True, slots=True)
class SendReport:
    """What a send run did."""

    sent: int
    nbytes: int
    errors: int
    elapsed: float

    @property
    def pps(self) -> float:
        """Achieved packets per second."""
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0


def _wait_until(deadline: float) -> None:
    while True:
        ahead = deadline - time.perf_counter()
        if ahead <= 0:
            return
        if ahead > _SPIN_S:
            time.sleep(ahead - _SPIN_S)


class RawSender:
    """Sends frames on one interface through a single AF_PACKET socket."""

    def __init__(self, iface: str) -> None:
        self.iface = iface
        try:
            self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            self._sock.bind((iface, 0))
        except OSError as exc:
            raise OSError(
                exc.errno,
                f"cannot open a raw socket on interface {iface!r}: "
                f"{exc.strerror} (needs root and an existing interface)",
            ) from exc

    def close(self) -> None:
        """Close the socket."""
        self._sock.close()

    def __enter__(self) -> RawSender:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def send_paced(self, frames: Sequence[bytes], rate_pps: float | None = None) -> SendReport:
        """Send `frames` in order, at `rate_pps` (None: as fast as possible)."""
        if rate_pps is not None and not rate_pps > 0:
            raise ValueError(f"rate {rate_pps!r}: expected a positive packets-per-second value")
        times = None if rate_pps is None else [i / rate_pps for i in range(len(frames))]
        return self._send(frames, times)

    def send_schedule(self, frames: Sequence[bytes], times: Sequence[float]) -> SendReport:
        """Send frame i at times[i] seconds after the start (times non-decreasing)."""
        if len(frames) != len(times):
            raise ValueError(
                f"schedule: {len(frames)!r} frames but {len(times)!r} times, expected as many"
            )
        return self._send(frames, times)

    def _send(self, frames: Sequence[bytes], times: Sequence[float] | None) -> SendReport:
        send = self._sock.send
        sent = nbytes = errors = 0
        start = time.perf_counter()
        for i, frame in enumerate(frames):
            if times is not None:
                _wait_until(start + times[i])
            try:
                send(frame)
            except OSError as exc:
                # ENOBUFS under overload: count it and go on, as a NIC would drop.
                errors += 1
                logger.debug("send failed on %s: %s", self.iface, exc)
                continue
            sent += 1
            nbytes += len(frame)
        elapsed = time.perf_counter() - start
        logger.info("sent %d frames (%d errors) on %s in %.3f s", sent, errors, self.iface, elapsed)
        return SendReport(sent, nbytes, errors, elapsed)
