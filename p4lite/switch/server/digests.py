"""Digest delivery: DigestEntry configs, DigestList batching and acks.

A learn list is delivered only once the controller configured it with a
DigestEntry. Samples are batched up to `max_list_size` or for at most
`max_timeout_ns`; a sample already sent is not sent again until its list
is acked or `ack_timeout_ns` passes (BMv2's learning filter behaves the
same way). Imports protobuf stubs only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from p4.v1 import p4data_pb2, p4runtime_pb2

logger = logging.getLogger(__name__)

Sample = tuple[int, ...]
SendFn = Callable[[p4runtime_pb2.DigestList], None]
ToData = Callable[[Sample], p4data_pb2.P4Data]


class DigestEngine:
    """Per-pipeline digest state; thread-safe."""

    def __init__(self, send: SendFn, clock: Callable[[], float] = time.monotonic) -> None:
        self._send = send
        self._clock = clock
        self._lock = threading.Lock()
        self._configs: dict[int, p4runtime_pb2.DigestEntry.Config] = {}
        self._buffers: dict[int, list[Sample]] = {}
        self._buffer_since: dict[int, float] = {}
        self._in_flight: dict[int, dict[Sample, int]] = {}
        self._lists: dict[int, dict[int, tuple[list[Sample], float]]] = {}
        self._to_data: dict[int, ToData] = {}
        self._next_list_id = 1
        self._timer: threading.Timer | None = None
        self._closed = False

    def configure(self, digest_id: int, config: p4runtime_pb2.DigestEntry.Config | None) -> None:
        """Set (or with None, remove) the config of one digest."""
        with self._lock:
            if config is None:
                self._configs.pop(digest_id, None)
                for table in (self._buffers, self._buffer_since, self._in_flight, self._lists):
                    table.pop(digest_id, None)
                return
            copy = p4runtime_pb2.DigestEntry.Config()
            copy.CopyFrom(config)
            self._configs[digest_id] = copy

    def offer(self, digest_id: int, sample: Sample, to_data: ToData) -> None:
        """A sample from the data plane; sent now, later or never (duplicate, unconfigured)."""
        with self._lock:
            config = self._configs.get(digest_id)
            if config is None or self._closed:
                return
            now = self._clock()
            self._expire(digest_id, now)
            in_flight = self._in_flight.setdefault(digest_id, {})
            buffer = self._buffers.setdefault(digest_id, [])
            if sample in in_flight or sample in buffer:
                return
            self._to_data[digest_id] = to_data
            if not buffer:
                self._buffer_since[digest_id] = now
            buffer.append(sample)
            if config.max_timeout_ns == 0 or len(buffer) >= max(1, config.max_list_size):
                self._flush(digest_id, now)
            else:
                self._arm(config.max_timeout_ns / 1e9)

    def ack(self, digest_id: int, list_id: int) -> None:
        """The controller acknowledged a list: its samples may be sent again."""
        with self._lock:
            entry = self._lists.get(digest_id, {}).pop(list_id, None)
            if entry is None:
                logger.debug("digest ack for unknown list %d of digest %d", list_id, digest_id)
                return
            in_flight = self._in_flight.get(digest_id, {})
            for sample in entry[0]:
                in_flight.pop(sample, None)

    def close(self) -> None:
        """Stop the batching timer."""
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def _expire(self, digest_id: int, now: float) -> None:
        lists = self._lists.get(digest_id)
        if not lists:
            return
        in_flight = self._in_flight.get(digest_id, {})
        for list_id, (samples, deadline) in list(lists.items()):
            if deadline <= now:
                del lists[list_id]
                for sample in samples:
                    in_flight.pop(sample, None)

    def _flush(self, digest_id: int, now: float) -> None:
        buffer = self._buffers.get(digest_id)
        config = self._configs.get(digest_id)
        if not buffer or config is None:
            return
        self._buffers[digest_id] = []
        list_id = self._next_list_id
        self._next_list_id += 1
        to_data = self._to_data[digest_id]
        message = p4runtime_pb2.DigestList(
            digest_id=digest_id, list_id=list_id, timestamp=time.time_ns()
        )
        message.data.extend(to_data(sample) for sample in buffer)
        if config.ack_timeout_ns > 0:
            deadline = now + config.ack_timeout_ns / 1e9
            self._lists.setdefault(digest_id, {})[list_id] = (buffer, deadline)
            in_flight = self._in_flight.setdefault(digest_id, {})
            for sample in buffer:
                in_flight[sample] = list_id
        self._send(message)

    def _arm(self, delay: float) -> None:
        if self._timer is not None:
            return
        self._timer = threading.Timer(delay, self._on_timer)
        self._timer.daemon = True
        self._timer.start()

    def _on_timer(self) -> None:
        with self._lock:
            self._timer = None
            if self._closed:
                return
            now = self._clock()
            pending = []
            for digest_id, buffer in self._buffers.items():
                config = self._configs.get(digest_id)
                if not buffer or config is None:
                    continue
                due = self._buffer_since[digest_id] + config.max_timeout_ns / 1e9
                if due <= now:
                    self._flush(digest_id, now)
                else:
                    pending.append(due - now)
            if pending:
                self._arm(min(pending))
