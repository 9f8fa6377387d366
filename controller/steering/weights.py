"""Path selection: integer selector weights per service from load and latency, with hysteresis.

A service's candidates are the live instances that can serve it. Each gets a
score: its capacity (requests/s it advertises), times its headroom (less at
high utilisation or request rate), times a latency factor (the expected
response time, measured latency plus queue length over capacity, relative to
the best candidate's). An overloaded instance (queue or utilisation above a
high mark, and until both fall below a low mark) gets no share while another
candidate is not overloaded: its share moves elsewhere. The scores become
integer weights summing to ``slots`` (the members of the selector group,
each candidate at least one); the selector picks member
``crc32(src_addr, src_port) mod size``.

Hysteresis: a new split replaces the programmed one when the candidates
change (an instance appears, expires or becomes overloaded or recovers), or
when some instance's share moves by more than ``hysteresis`` and the last
change is at least ``hold_s`` old; small changes never rewrite the group.

Pure: imports the standard library and ``controller.steering`` (``errors``,
``registry``) only.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from controller.steering.errors import SteeringError
from controller.steering.registry import Load

log = logging.getLogger(__name__)

MAX_COPIES = 16  # controller.entries.steering.MAX_REPEATS: members per instance in a group


@dataclass(frozen=True, slots=True)
class WeightConfig:
    """How load and latency become weights, and when a new split is worth writing."""

    slots: int = 16
    default_capacity: float = 1000.0  # requests/s of an instance that advertises 0
    load_penalty: float = 0.5  # share of the weight lost at full utilisation
    latency_floor_s: float = 0.005  # latency differences well below this hardly count
    overload_utilisation: float = 95.0
    overload_queue: float = 32.0
    recover_utilisation: float = 80.0
    recover_queue: float = 8.0
    hysteresis: float = 0.1
    hold_s: float = 1.0

    def __post_init__(self) -> None:
        """Refuse values that cannot give a group."""
        if not 1 <= self.slots <= MAX_COPIES * 4:
            raise SteeringError(f"weight slots {self.slots!r}: expected 1..{MAX_COPIES * 4}")
        if self.default_capacity <= 0:
            raise SteeringError(f"default capacity {self.default_capacity!r}: expected > 0")
        if not 0 <= self.load_penalty < 1:
            raise SteeringError(f"load penalty {self.load_penalty!r}: expected 0 <= p < 1")
        if self.latency_floor_s <= 0:
            raise SteeringError(f"latency floor {self.latency_floor_s!r} s: expected > 0")
        if self.recover_utilisation > self.overload_utilisation:
            raise SteeringError(
                f"recover utilisation {self.recover_utilisation!r}: expected at most the "
                f"overload utilisation {self.overload_utilisation!r}"
            )
        if self.recover_queue > self.overload_queue:
            raise SteeringError(
                f"recover queue {self.recover_queue!r}: expected at most the overload "
                f"queue {self.overload_queue!r}"
            )
        if not 0 <= self.hysteresis < 1:
            raise SteeringError(f"hysteresis {self.hysteresis!r}: expected 0 <= h < 1")
        if self.hold_s < 0:
            raise SteeringError(f"hold time {self.hold_s!r} s: expected >= 0")


@dataclass(frozen=True, slots=True)
class Candidate:
    """An instance that can serve the service: its (smoothed) load and measured latency."""

    instance_id: int
    load: Load
    latency_s: float | None = None


@dataclass(frozen=True, slots=True)
class WeightState:
    """What is programmed for one service on one switch."""

    weights: tuple[tuple[int, int], ...] = ()
    overloaded: frozenset[int] = frozenset()
    changed_at: float = -math.inf


@dataclass(frozen=True, slots=True)
class Decision:
    """The split to program (``changed``: it differs from the state's) and why."""

    weights: tuple[tuple[int, int], ...]
    overloaded: frozenset[int]
    changed: bool
    reason: str
    scores: Mapping[int, float] = field(default_factory=dict)

    def state(self, previous: WeightState, now: float) -> WeightState:
        """The state after programming this decision."""
        return WeightState(
            self.weights, self.overloaded, now if self.changed else previous.changed_at
        )


def is_overloaded(c: Candidate, was: bool, cfg: WeightConfig) -> bool:
    """Overloaded above the high marks; an overloaded instance recovers below both low marks."""
    if was:
        return c.load.queue_len > cfg.recover_queue or c.load.utilisation > cfg.recover_utilisation
    return c.load.queue_len >= cfg.overload_queue or c.load.utilisation >= cfg.overload_utilisation


def scores(cands: Sequence[Candidate], cfg: WeightConfig) -> dict[int, float]:
    """Capacity x headroom x latency factor, per candidate."""
    expected: dict[int, float] = {}
    caps: dict[int, float] = {}
    for c in cands:
        cap = c.load.capacity if c.load.capacity > 0 else cfg.default_capacity
        caps[c.instance_id] = cap
        expected[c.instance_id] = (c.latency_s or 0.0) + c.load.queue_len / cap
    best = min(expected.values(), default=0.0)
    out: dict[int, float] = {}
    for c in cands:
        cap = caps[c.instance_id]
        busy = min(1.0, max(c.load.utilisation / 100.0, c.load.req_rate / cap))
        headroom = 1.0 - cfg.load_penalty * busy
        factor = (best + cfg.latency_floor_s) / (expected[c.instance_id] + cfg.latency_floor_s)
        out[c.instance_id] = cap * headroom * factor
    return out


def to_integers(values: Mapping[int, float], slots: int) -> dict[int, int]:
    """Integer weights proportional to ``values``: each >= 1, at most 16, summing to ``slots``.

    Largest remainders get the slots left after flooring; with more
    candidates than slots every one gets 1. The sum is smaller than
    ``slots`` only when every candidate already has 16.
    """
    ids = sorted(values)
    if not ids:
        return {}
    if any(v < 0 or math.isnan(v) for v in values.values()):
        raise SteeringError(f"scores {dict(values)!r}: expected non-negative numbers")
    total_slots = max(slots, len(ids))
    total = sum(values.values())
    if total <= 0:
        ideal = {i: total_slots / len(ids) for i in ids}
    else:
        ideal = {i: values[i] / total * total_slots for i in ids}
    out = {i: min(MAX_COPIES, max(1, math.floor(ideal[i]))) for i in ids}
    # Hand out what is left by largest remainder; take back from the smallest
    # remainders when the minimum of 1 overdrew.
    while sum(out.values()) < total_slots:
        open_ids = [i for i in ids if out[i] < MAX_COPIES]
        if not open_ids:
            break
        pick = max(open_ids, key=lambda i: (ideal[i] - out[i], -i))
        out[pick] += 1
    while sum(out.values()) > total_slots:
        over = [i for i in ids if out[i] > 1]
        pick = min(over, key=lambda i: (ideal[i] - out[i], i))
        out[pick] -= 1
    return out


def shares(weights: Sequence[tuple[int, int]]) -> dict[int, float]:
    """Each instance's share of the group (weights over their sum)."""
    total = sum(w for _, w in weights)
    return {i: w / total for i, w in weights} if total else {}


def _describe(weights: Sequence[tuple[int, int]]) -> str:
    return " ".join(f"{i}:{w}" for i, w in weights) or "none"


def decide(
    state: WeightState, cands: Sequence[Candidate], now: float, cfg: WeightConfig
) -> Decision:
    """The split for these candidates, or the programmed one when the change is too small."""
    over = frozenset(
        c.instance_id for c in cands if is_overloaded(c, c.instance_id in state.overloaded, cfg)
    )
    eligible = [c for c in cands if c.instance_id not in over] or list(cands)
    sc = scores(eligible, cfg)
    proposal = tuple(sorted(to_integers(sc, cfg.slots).items()))
    old_ids = {i for i, _ in state.weights}
    new_ids = {i for i, _ in proposal}
    if new_ids != old_ids or over != state.overloaded:
        parts = []
        if added := sorted(new_ids - old_ids):
            parts.append(f"added {added}")
        if removed := sorted(old_ids - new_ids):
            parts.append(f"removed {removed}")
        if newly := sorted(over - state.overloaded):
            parts.append(f"overloaded {newly}")
        if back := sorted(state.overloaded - over):
            parts.append(f"recovered {back}")
        if over and len(eligible) == len(cands):
            parts.append("all overloaded: share kept")
        reason = ", ".join(parts) + f": {_describe(state.weights)} -> {_describe(proposal)}"
        changed = proposal != state.weights
        return Decision(proposal if changed else state.weights, over, changed, reason, sc)
    old, new = shares(state.weights), shares(proposal)
    moved = max((abs(new[i] - old[i]) for i in new), default=0.0)
    if (
        proposal != state.weights
        and moved > cfg.hysteresis
        and now - state.changed_at >= cfg.hold_s
    ):
        reason = (
            f"rebalance (largest share change {moved:.2f} > {cfg.hysteresis:.2f}): "
            f"{_describe(state.weights)} -> {_describe(proposal)}"
        )
        return Decision(proposal, over, True, reason, sc)
    return Decision(state.weights, over, False, f"kept {_describe(state.weights)}", sc)
