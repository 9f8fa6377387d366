"""A fabric of switches: many SwitchConnection by name, driven concurrently.

The top of ``controller.p4rt``: runs one operation per switch in a thread
pool (connect, write, sync, any callable) and reports progress per switch.
May import the standard library and the lower layers of ``controller.p4rt``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from types import TracebackType
from typing import Generic, TypeVar

from controller.p4rt.client import ArbitrationStatus, SwitchConnection
from controller.p4rt.entities import Entity, Update
from controller.p4rt.errors import P4RTError
from controller.p4rt.reconcile import Diff

logger = logging.getLogger(__name__)

_R = TypeVar("_R")


@dataclass(frozen=True, slots=True)
class Progress:
    """One switch finished: how many of ``total`` are done, and its error if it failed."""

    switch: str
    done: int
    total: int
    error: BaseException | None = None


@dataclass(frozen=True, slots=True)
class Outcome(Generic[_R]):
    """The result of one switch's operation, or the error it raised."""

    switch: str
    value: _R | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        """Whether the operation succeeded."""
        return self.error is None


class FabricError(P4RTError):
    """One or more switches failed; ``failures`` maps switch name to its error."""

    def __init__(self, operation: str, failures: Mapping[str, Exception]) -> None:
        """Record the operation name and the error of each failed switch."""
        self.failures = dict(failures)
        lines = "\n".join(f"  {n}: {e}" for n, e in sorted(self.failures.items()))
        super().__init__(f"{operation} failed on {len(self.failures)} switch(es):\n{lines}")


ProgressCallback = Callable[[Progress], None]
"""Called once per switch as it finishes, from the caller's thread."""


class Fabric:
    """Named SwitchConnection objects with concurrent operations over them."""

    def __init__(
        self, connections: Iterable[SwitchConnection] = (), *, max_workers: int = 16
    ) -> None:
        """Hold ``connections`` by their names; run at most ``max_workers`` at once."""
        self._conns: dict[str, SwitchConnection] = {}
        self._lock = threading.Lock()
        self.max_workers = max_workers
        for c in connections:
            self.add(c)

    def add(self, conn: SwitchConnection) -> None:
        """Add a connection; its name must be new."""
        with self._lock:
            if conn.name in self._conns:
                raise P4RTError(f"fabric already holds a switch named {conn.name!r}")
            self._conns[conn.name] = conn

    def remove(self, name: str) -> SwitchConnection:
        """Remove and return a connection (not closed)."""
        with self._lock:
            return self._conns.pop(self._check(name))

    def _check(self, name: str) -> str:
        if name not in self._conns:
            raise P4RTError(f"no switch named {name!r} in the fabric (have {sorted(self._conns)})")
        return name

    def __getitem__(self, name: str) -> SwitchConnection:
        """Return the connection named ``name``."""
        return self._conns[self._check(name)]

    def __contains__(self, name: object) -> bool:
        """Whether a switch of that name is in the fabric."""
        return name in self._conns

    def __iter__(self) -> Iterator[SwitchConnection]:
        """Iterate over the connections in insertion order."""
        return iter(list(self._conns.values()))

    def __len__(self) -> int:
        """Return the number of switches."""
        return len(self._conns)

    @property
    def names(self) -> list[str]:
        """Switch names in insertion order."""
        return list(self._conns)

    def run(
        self,
        operation: Callable[[SwitchConnection], _R],
        names: Sequence[str] | None = None,
        *,
        progress: ProgressCallback | None = None,
        label: str = "operation",
        raise_on_error: bool = True,
    ) -> dict[str, Outcome[_R]]:
        """Run ``operation`` on each named switch (default all) concurrently.

        Returns one Outcome per switch; with ``raise_on_error`` raises
        FabricError after every switch has finished if any failed.
        """
        targets = [self[n] for n in (self.names if names is None else names)]
        outcomes: dict[str, Outcome[_R]] = {}
        if not targets:
            return outcomes
        workers = max(1, min(self.max_workers, len(targets)))
        with ThreadPoolExecutor(workers, thread_name_prefix="p4rt-fabric") as pool:
            futures = {pool.submit(operation, c): c.name for c in targets}
            for done, fut in enumerate(as_completed(futures), start=1):
                name = futures[fut]
                try:
                    outcome: Outcome[_R] = Outcome(name, value=fut.result())
                except Exception as exc:
                    logger.warning("%s on %s failed: %s", label, name, exc)
                    outcome = Outcome(name, error=exc)
                outcomes[name] = outcome
                if progress is not None:
                    progress(Progress(name, done, len(targets), outcome.error))
        failures = {n: o.error for n, o in outcomes.items() if o.error is not None}
        if failures and raise_on_error:
            raise FabricError(label, failures)
        return outcomes

    def connect_all(
        self, *, timeout: float | None = None, progress: ProgressCallback | None = None
    ) -> dict[str, ArbitrationStatus]:
        """Arbitrate with every switch; return each arbitration status."""
        out = self.run(lambda c: c.connect(timeout), progress=progress, label="connect")
        return {n: o.value for n, o in out.items() if o.value is not None}

    def write_all(
        self,
        updates: Mapping[str, Iterable[Update]],
        *,
        progress: ProgressCallback | None = None,
        raise_on_error: bool = True,
        atomicity: str = "CONTINUE_ON_ERROR",
        batch_size: int | None = None,
        timeout: float | None = None,
    ) -> dict[str, Outcome[int]]:
        """Write each switch's updates concurrently (``updates`` maps name to its updates)."""
        lists = {n: list(u) for n, u in updates.items()}

        def _op(c: SwitchConnection) -> int:
            return c.write(
                lists[c.name], atomicity=atomicity, batch_size=batch_size, timeout=timeout
            )

        return self.run(
            _op, list(lists), progress=progress, label="write", raise_on_error=raise_on_error
        )

    def sync_all(
        self,
        intended: Mapping[str, Iterable[Entity]],
        *,
        prune: bool = True,
        progress: ProgressCallback | None = None,
        raise_on_error: bool = True,
    ) -> dict[str, Outcome[Diff]]:
        """Reconcile each named switch with its intended entities concurrently."""
        lists = {n: list(e) for n, e in intended.items()}
        return self.run(
            lambda c: c.sync(lists[c.name], prune=prune),
            list(lists),
            progress=progress,
            label="sync",
            raise_on_error=raise_on_error,
        )

    def close(self) -> None:
        """Close every connection; safe to call twice."""
        for c in self:
            c.close()

    def __enter__(self) -> Fabric:
        """Return self; every connection is closed on exit."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close every connection."""
        self.close()
