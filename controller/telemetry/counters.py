"""Reading din.p4's indirect counters over P4Runtime (CounterEntry reads), and their rates.

One Read per switch asks for every cell of every counter in
:data:`~controller.telemetry.names.COUNTERS` that the switch's P4Info has
(wildcard index). Registers are never read: the real BMv2 cannot read them
over P4Runtime. May import the standard library and ``controller.p4rt``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from controller.p4rt import entities as pe
from controller.p4rt.client import SwitchConnection
from controller.p4rt.errors import P4InfoLookupError
from controller.telemetry.names import COUNTERS

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Cell:
    """One counter cell."""

    packets: int = 0
    bytes: int = 0


@dataclass(frozen=True, slots=True)
class CounterSnapshot:
    """Every cell of the read counters of one switch at one time (controller clock, s)."""

    switch: str
    time: float
    counters: Mapping[str, Mapping[int, Cell]] = field(default_factory=dict)

    def cell(self, counter: str, index: int) -> Cell:
        """A cell (zero when absent)."""
        return self.counters.get(counter, {}).get(index, Cell())

    def cells(self, counter: str) -> Mapping[int, Cell]:
        """Every cell of a counter by index."""
        return self.counters.get(counter, {})


def read_counters(
    conn: SwitchConnection,
    names: Sequence[str] = COUNTERS,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> CounterSnapshot:
    """Read every cell of the named counters the switch has, in one Read."""
    index = conn.index if conn.index is not None else conn.load_index()
    present = []
    for name in names:
        try:
            present.append(index.counter(name).name)
        except P4InfoLookupError:
            log.debug("%s: no counter %r", conn.name, name)
    out: dict[str, dict[int, Cell]] = {n: {} for n in present}
    if present:
        for e in conn.read_entities([pe.CounterEntry(n) for n in present]):
            if isinstance(e, pe.CounterEntry) and e.index is not None and e.counter in out:
                out[e.counter][e.index] = Cell(e.packet_count, e.byte_count)
    return CounterSnapshot(conn.name, clock(), out)


def packet_rates(old: CounterSnapshot, new: CounterSnapshot, counter: str) -> dict[int, float]:
    """Packets per second of each cell between two snapshots of one switch."""
    span = new.time - old.time
    if span <= 0:
        return {}
    return {
        i: max(0, c.packets - old.cell(counter, i).packets) / span
        for i, c in new.cells(counter).items()
    }
