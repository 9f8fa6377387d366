"""The node registry: what the controller knows of each inference instance.

Fed by advertisements (:mod:`controller.steering.adverts`, from digests and
packet-ins of every switch, or directly in tests) and by latency samples
(probes). Per instance it keeps the models it serves (model id, version,
layer range), its last load figures (queue length, utilisation, request
rate, capacity) and their smoothed values, when it was first and last heard
of, which switches reported it, and its measured latency. An instance whose
last advertisement is older than ``stale_after_s`` expires
(:meth:`NodeRegistry.expire`): the controller's half of failover.

Thread safe (one lock): stream threads update it while the steering loop
reads it. Pure: imports the standard library and ``controller.steering``'s
``adverts`` and ``errors`` only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from controller.steering.adverts import LAYER_LAST_LARGE, Advertisement
from controller.steering.errors import SteeringError

log = logging.getLogger(__name__)

DEFAULT_STALE_S = 0.5
LOAD_SMOOTHING = 0.5  # weight of the newest advertisement in the smoothed load
LATENCY_SMOOTHING = 0.3  # weight of the newest latency sample


@dataclass(frozen=True, slots=True)
class ModelOffer:
    """A model an instance serves: id, version and the layers it can compute."""

    model_id: int
    model_version: int
    layer_first: int
    layer_last: int

    @property
    def large(self) -> bool:
        """A large model for escalations (``layer_last`` 255)."""
        return self.layer_last == LAYER_LAST_LARGE

    def can_start(self, stage: int) -> bool:
        """Whether the instance can take a request whose next layer is ``stage``."""
        return self.layer_first <= stage <= self.layer_last


@dataclass(frozen=True, slots=True)
class Load:
    """Load figures of an instance (the advertisement's CATS metrics)."""

    queue_len: float = 0.0
    utilisation: float = 0.0  # percent, 0..100
    req_rate: float = 0.0  # requests served per second
    capacity: float = 0.0  # requests per second the instance can take (0: unknown)


@dataclass(frozen=True, slots=True)
class InstanceView:
    """A snapshot of one instance as the registry knows it."""

    instance_id: int
    addr: str
    models: tuple[ModelOffer, ...]
    load: Load  # smoothed
    last: Load  # as last advertised
    first_seen: float
    last_seen: float
    adverts: int
    seen_by: tuple[str, ...]
    latency_s: float | None = None  # smoothed measured latency, None before a sample

    def offer(self, model_id: int) -> ModelOffer | None:
        """The model ``model_id`` as this instance serves it (highest version), if any."""
        offers = [m for m in self.models if m.model_id == model_id and not m.large]
        return max(offers, key=lambda m: m.model_version) if offers else None

    def serves(self, model_id: int, stage: int, *, escalation: bool = False) -> bool:
        """Whether a request of ``model_id`` at ``stage`` (or its escalation) can go here."""
        for m in self.models:
            if m.model_id != model_id:
                continue
            if m.large and escalation:
                return True
            if not m.large and m.can_start(stage):
                return True
        return False

    def to_dict(self, now: float) -> dict[str, Any]:
        """JSON-ready figures (ages in seconds relative to ``now``)."""
        return {
            "instance_id": self.instance_id,
            "addr": self.addr,
            "models": [
                {
                    "model_id": m.model_id,
                    "model_version": m.model_version,
                    "layers": [m.layer_first, m.layer_last],
                    "large": m.large,
                }
                for m in self.models
            ],
            "queue_len": self.last.queue_len,
            "utilisation": self.last.utilisation,
            "req_rate": self.last.req_rate,
            "capacity": self.last.capacity,
            "smoothed": {
                "queue_len": round(self.load.queue_len, 3),
                "utilisation": round(self.load.utilisation, 3),
                "req_rate": round(self.load.req_rate, 3),
                "capacity": round(self.load.capacity, 3),
            },
            "latency_ms": None if self.latency_s is None else round(self.latency_s * 1e3, 3),
            "age_s": round(max(0.0, now - self.last_seen), 3),
            "up_s": round(max(0.0, now - self.first_seen), 3),
            "adverts": self.adverts,
            "seen_by": list(self.seen_by),
        }


@dataclass(slots=True)
class _Record:
    addr: str
    models: dict[tuple[int, bool], ModelOffer]
    load: Load
    last: Load
    first_seen: float
    last_seen: float
    adverts: int = 0
    seen_by: dict[str, float] = field(default_factory=dict)
    latency_s: float | None = None


def _smooth(old: float, new: float, alpha: float) -> float:
    return old + alpha * (new - old)


class NodeRegistry:
    """Instances by id, fed by advertisements; stale instances expire."""

    def __init__(
        self,
        stale_after_s: float = DEFAULT_STALE_S,
        *,
        clock: Callable[[], float] = time.monotonic,
        smoothing: float = LOAD_SMOOTHING,
    ) -> None:
        """Start empty; an instance unheard of for ``stale_after_s`` seconds expires."""
        if stale_after_s <= 0:
            raise SteeringError(f"registry stale threshold {stale_after_s!r} s: expected > 0")
        if not 0 < smoothing <= 1:
            raise SteeringError(f"registry smoothing {smoothing!r}: expected 0 < alpha <= 1")
        self.stale_after_s = stale_after_s
        self._clock = clock
        self._alpha = smoothing
        self._lock = threading.Lock()
        self._records: dict[int, _Record] = {}
        self._listeners: list[Callable[[str, int], None]] = []
        self.expired_total = 0
        self.updates_total = 0

    def add_listener(self, callback: Callable[[str, int], None]) -> None:
        """Call ``callback(event, instance_id)`` on 'new' and 'expired' (in the caller's thread)."""
        self._listeners.append(callback)

    def _notify(self, event: str, instance_id: int) -> None:
        for cb in list(self._listeners):
            try:
                cb(event, instance_id)
            except Exception:
                log.exception("registry listener %r failed on %s %d", cb, event, instance_id)

    def update(self, adv: Advertisement) -> bool:
        """Record an advertisement; True when the instance is new (or came back)."""
        now = self._clock()
        last = Load(adv.queue_len, adv.utilisation, adv.req_rate, adv.capacity)
        offer = ModelOffer(adv.model_id, adv.model_version, adv.layer_first, adv.layer_last)
        with self._lock:
            self.updates_total += 1
            rec = self._records.get(adv.instance_id)
            new = rec is None
            if rec is None:
                rec = _Record(adv.addr, {}, last, last, now, now)
                self._records[adv.instance_id] = rec
            else:
                if rec.addr != adv.addr:
                    log.warning(
                        "instance %d: address changed from %s to %s",
                        adv.instance_id,
                        rec.addr,
                        adv.addr,
                    )
                    rec.addr = adv.addr
                rec.load = Load(
                    _smooth(rec.load.queue_len, last.queue_len, self._alpha),
                    _smooth(rec.load.utilisation, last.utilisation, self._alpha),
                    _smooth(rec.load.req_rate, last.req_rate, self._alpha),
                    _smooth(rec.load.capacity, last.capacity, self._alpha),
                )
                rec.last = last
                rec.last_seen = max(rec.last_seen, now)
            rec.models[(offer.model_id, offer.large)] = offer
            rec.adverts += 1
            if adv.switch:
                rec.seen_by[adv.switch] = now
        if new:
            log.info(
                "instance %d at %s: first advertisement (model %d v%d, layers %d..%d%s)",
                adv.instance_id,
                adv.addr,
                adv.model_id,
                adv.model_version,
                adv.layer_first,
                adv.layer_last,
                ", large" if offer.large else "",
            )
            self._notify("new", adv.instance_id)
        return new

    def observe_latency(self, instance_id: int, seconds: float) -> None:
        """Fold a measured latency sample of ``instance_id`` into its smoothed latency."""
        if seconds < 0:
            raise SteeringError(f"latency sample {seconds!r} s of instance {instance_id}: < 0")
        with self._lock:
            rec = self._records.get(instance_id)
            if rec is None:
                return
            old = rec.latency_s
            rec.latency_s = seconds if old is None else _smooth(old, seconds, LATENCY_SMOOTHING)

    def expire(self) -> list[int]:
        """Forget the instances unheard of for longer than the threshold; return their ids."""
        now = self._clock()
        with self._lock:
            gone = [i for i, r in self._records.items() if now - r.last_seen > self.stale_after_s]
            ages = {i: now - self._records[i].last_seen for i in gone}
            for i in gone:
                del self._records[i]
            self.expired_total += len(gone)
        for i in gone:
            log.warning(
                "instance %d expired: last advertisement %.3f s ago (threshold %.3f s)",
                i,
                ages[i],
                self.stale_after_s,
            )
            self._notify("expired", i)
        return gone

    def _view(self, instance_id: int, rec: _Record) -> InstanceView:
        return InstanceView(
            instance_id=instance_id,
            addr=rec.addr,
            models=tuple(sorted(rec.models.values(), key=lambda m: (m.model_id, m.large))),
            load=rec.load,
            last=rec.last,
            first_seen=rec.first_seen,
            last_seen=rec.last_seen,
            adverts=rec.adverts,
            seen_by=tuple(sorted(rec.seen_by)),
            latency_s=rec.latency_s,
        )

    def get(self, instance_id: int) -> InstanceView | None:
        """The instance's view, or None when unknown (or expired)."""
        with self._lock:
            rec = self._records.get(instance_id)
            return None if rec is None else self._view(instance_id, rec)

    def instances(self) -> list[InstanceView]:
        """Every known instance, by id."""
        with self._lock:
            return [self._view(i, r) for i, r in sorted(self._records.items())]

    def seen_recently(self, instance_id: int, switch: str, within_s: float) -> bool:
        """Whether ``switch`` itself reported ``instance_id`` within the last ``within_s``."""
        now = self._clock()
        with self._lock:
            rec = self._records.get(instance_id)
            seen = None if rec is None else rec.seen_by.get(switch)
        return seen is not None and now - seen <= within_s

    def now(self) -> float:
        """The registry's clock."""
        return self._clock()

    def snapshot(self) -> list[dict[str, Any]]:
        """Every instance as JSON-ready figures."""
        now = self._clock()
        return [v.to_dict(now) for v in self.instances()]
