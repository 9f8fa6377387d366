"""A node's CATS metric advertisements: DIN msg_type 4 datagrams, periodic and on change.

Every ``interval_s`` (default 100 ms) the node sends one advertisement per
model it serves (p4src/README.md "Node advertisement") to ``target``: the
common header names the model (``model_id``, ``model_version``); the body
carries the instance id, the layer range the node can compute (0..last layer;
``layer_last`` 255 for the large escalation model), the queue length, the
utilisation in percent, the served requests per second (EWMA over intervals)
and the capacity in requests per second. Advertisements leave from the node's
DIN socket, so their UDP source port is 7350 and the switches on the way
parse them. An advertisement goes out at once (at most every ``MIN_GAP_S``)
when the queue fill crosses 50 % or 90 % of the queue size, or the
utilisation crosses 50, 80 or 95 %, in either direction.

Imports ``nodes.catalog``, ``nodes.metrics``, ``traffic.wire`` and the
standard library only.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from nodes.catalog import NodeError, ServedModel
from nodes.metrics import Metrics
from traffic.wire import DIN_UDP_PORT, DinAdvert, DinHeader, MsgType, encode

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 0.1
MIN_GAP_S = 0.01  # change-triggered advertisements are at most this frequent
QUEUE_LEVELS = (0.5, 0.9)  # queue fill fractions that trigger an advertisement
UTIL_LEVELS = (0.5, 0.8, 0.95)
LAYER_LAST_LARGE = 0xFF  # the advertisement's marker of a large escalation model
U16_MAX = 0xFFFF
U32_MAX = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class AdvertiseSettings:
    """Where and how often a node advertises."""

    target: tuple[str, int]
    interval_s: float = DEFAULT_INTERVAL_S

    def __post_init__(self) -> None:
        """Refuse a target or interval that cannot work."""
        if self.interval_s <= 0:
            raise NodeError(f"advertise interval {self.interval_s!r} s: expected > 0")
        host, port = self.target
        if not host or not 1 <= port <= 0xFFFF:
            raise NodeError(f"advertise target {self.target!r}: expected a host and 1..65535")

    @classmethod
    def parse_target(cls, text: str) -> tuple[str, int]:
        """``HOST:PORT`` or ``HOST`` (port 7350) to a (host, port) pair."""
        host, sep, port = text.rpartition(":")
        if not sep:
            return text, DIN_UDP_PORT
        if not host or not port.isdigit() or not 1 <= int(port) <= 0xFFFF:
            raise NodeError(f"advertise target {text!r}: expected HOST:PORT with port 1..65535")
        return host, int(port)


def advert_messages(
    instance_id: int,
    models: Sequence[ServedModel],
    *,
    queue_len: int,
    utilisation: float,
    req_rate: float,
    capacity: int,
) -> list[bytes]:
    """One encoded advertisement per served model."""
    out = []
    for served in models:
        head = DinHeader(
            msg_type=MsgType.ADVERTISE,
            model_id=served.model_id,
            model_version=served.version,
        )
        body = DinAdvert(
            instance_id=instance_id,
            layer_first=0,
            layer_last=LAYER_LAST_LARGE if served.large else served.layers - 1,
            queue_len=min(U16_MAX, queue_len),
            utilisation=max(0, min(100, round(utilisation * 100))),
            req_rate=min(U32_MAX, round(req_rate)),
            capacity=min(U32_MAX, capacity),
        )
        out.append(encode(head, body))
    return out


class Advertiser:
    """The thread that sends a node's advertisements."""

    def __init__(
        self,
        settings: AdvertiseSettings,
        *,
        instance_id: int,
        models: Sequence[ServedModel],
        metrics: Metrics,
        queue_len: Callable[[], int],
        queue_size: int,
        capacity: Callable[[], int],
        send: Callable[[bytes, tuple[str, int]], bool],
    ) -> None:
        """Prepare; ``send`` puts one datagram on the node's socket."""
        self.settings = settings
        self._instance_id = instance_id
        self._models = tuple(models)
        self._metrics = metrics
        self._queue_len = queue_len
        self._queue_size = queue_size
        self._capacity = capacity
        self._send = send
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="din-node-advert", daemon=True)
        self._levels = (0, 0)

    def start(self) -> None:
        """Send the first advertisement now and keep sending."""
        self._thread.start()

    def stop(self) -> None:
        """Stop sending."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)

    def poke(self) -> None:
        """The load may have changed: check the thresholds soon."""
        self._wake.set()

    def _current_levels(self) -> tuple[int, int]:
        fill = self._queue_len() / self._queue_size
        return (
            bisect.bisect_right(QUEUE_LEVELS, fill),
            bisect.bisect_right(UTIL_LEVELS, self._metrics.utilisation()),
        )

    def _loop(self) -> None:
        interval = self.settings.interval_s
        last_sent = time.monotonic() - interval
        due = time.monotonic()
        pending = False  # a poke arrived: compare the levels once the gap allows
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= due:
                self._advertise(periodic=True)
                last_sent, pending = now, False
                due = max(due + interval, now)
                continue
            if pending and now - last_sent >= MIN_GAP_S:
                pending = False
                if self._current_levels() != self._levels:
                    self._advertise(periodic=False)
                    last_sent = now
                continue
            timeout = due - now
            if pending:
                timeout = min(timeout, last_sent + MIN_GAP_S - now)
            if self._wake.wait(timeout=timeout):
                self._wake.clear()
                pending = True

    def _advertise(self, *, periodic: bool) -> None:
        # Only the periodic tick folds a new rate sample in: a change-triggered
        # advertisement's short window would make the rate jump.
        rate = self._metrics.sample_rate() if periodic else self._metrics.rate()
        self._levels = self._current_levels()
        messages = advert_messages(
            self._instance_id,
            self._models,
            queue_len=self._queue_len(),
            utilisation=self._metrics.utilisation(),
            req_rate=rate,
            capacity=self._capacity(),
        )
        if not periodic:
            # Counted before sending, so whoever receives it sees it counted.
            self._metrics.count("adverts_triggered")
        for data in messages:
            if self._send(data, self.settings.target):
                self._metrics.count("adverts_sent")
        log.debug("advertised %d model(s) to %s:%d", len(messages), *self.settings.target)
