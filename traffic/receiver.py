"""A receiver that reports what arrived on an interface (AF_PACKET, Linux).

Counts frames and bytes, decodes DIN messages with traffic.wire, and can keep
the frames for a pcap. Imports the standard library and traffic.frames/wire.
"""

from __future__ import annotations

import logging
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from types import TracebackType

from traffic.frames import parse_frame
from traffic.wire import DinFormatError, DinMessage, decode

logger = logging.getLogger(__name__)

_ETH_P_ALL = 0x0003
_PACKET_OUTGOING = 4


@dataclass(frozen=True, slots=True)
class ReceiveReport:
    """What arrived during one receive run."""

    frames: int
    nbytes: int
    din: int
    din_by_type: tuple[tuple[int, int], ...]
    din_malformed: int
    first_ts: float | None
    last_ts: float | None
    messages: tuple[DinMessage, ...] = ()
    records: tuple[tuple[float, bytes], ...] = field(default=(), repr=False)

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready summary (without frames and messages)."""
        return {
            "frames": self.frames,
            "bytes": self.nbytes,
            "din": self.din,
            "din_by_type": {str(t): n for t, n in self.din_by_type},
            "din_malformed": self.din_malformed,
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
            "request_ids": [m.header.request_id for m in self.messages],
        }


class Receiver:
    """Receives the frames arriving on one interface (outgoing ones are ignored)."""

    def __init__(self, iface: str) -> None:
        self.iface = iface
        try:
            self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_ALL))
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

    def __enter__(self) -> Receiver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def run(
        self,
        *,
        timeout: float,
        count: int | None = None,
        din_only: bool = False,
        keep: bool = False,
    ) -> ReceiveReport:
        """Receive until `count` frames arrived or `timeout` seconds passed."""
        if not timeout > 0:
            raise ValueError(f"timeout {timeout!r}: expected a positive number of seconds")
        deadline = time.monotonic() + timeout
        frames = nbytes = din = malformed = 0
        by_type: Counter[int] = Counter()
        messages: list[DinMessage] = []
        records: list[tuple[float, bytes]] = []
        first: float | None = None
        last: float | None = None
        while count is None or frames < count:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._sock.settimeout(left)
            try:
                data, addr = self._sock.recvfrom(65535)
            except TimeoutError:
                break
            if addr[2] == _PACKET_OUTGOING:
                continue
            info = parse_frame(data)
            if din_only and not info.is_din:
                continue
            now = time.time()
            first = now if first is None else first
            last = now
            frames += 1
            nbytes += len(data)
            if keep:
                records.append((now, data))
            if info.is_din:
                din += 1
                try:
                    msg = decode(info.l4_payload)
                except DinFormatError as exc:
                    malformed += 1
                    logger.debug("malformed DIN frame: %s", exc)
                    continue
                by_type[msg.header.msg_type] += 1
                messages.append(msg)
        return ReceiveReport(
            frames=frames,
            nbytes=nbytes,
            din=din,
            din_by_type=tuple(sorted(by_type.items())),
            din_malformed=malformed,
            first_ts=first,
            last_ts=last,
            messages=tuple(messages),
            records=tuple(records),
        )
