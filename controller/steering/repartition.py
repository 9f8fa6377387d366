"""Re-partitioning: moving a model's in-network layers between switches and the nodes.

A :class:`~controller.steering.config.PartitionSpec` lists where a model's
first layers may run, in order of preference: a switch with its
``mlp_role`` rows, or nowhere (the nodes compute every layer, which they can
from any stage). :meth:`Repartitioner.prepare` installs the layer tables on
every switch of a placement beforehand (no roles, so they compute nothing
yet), so that a move writes only roles. :meth:`Repartitioner.move` writes
the new placement's roles first and only then deletes the old roles: a
request in flight is computed by one switch or the other, or finished by a
node from whatever stage it carries; none is dropped. Tenant policy does not
depend on where layers run (the data plane tells raw inputs from
activations by the request's stage), so a move re-plans nothing else.

:meth:`Repartitioner.check` decides moves from switch load: a placement
whose switch recirculates more than its mark per second moves to the next
placement; it moves back once the preferred switch's request rate has
fallen to ``recover_fraction`` of the rate that made it move, for
``hold_s``.

May import the standard library, ``controller.entries``, ``controller.models``,
``controller.p4rt`` and ``controller.install``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from controller import install
from controller.entries import types as et
from controller.entries.mlp import active_version_entry, role_entries
from controller.models.files import load_model
from controller.models.quant import MLPModel
from controller.p4rt import entities as pe
from controller.p4rt.client import SwitchConnection
from controller.p4rt.multi import Fabric
from controller.steering.config import PartitionSpec, Placement
from controller.steering.errors import SteeringError

log = logging.getLogger(__name__)

ROLE_TABLE = "MyIngress.mlp_role"
BIAS_TABLE = "MyIngress.mlp.mlp_bias"


@dataclass(frozen=True, slots=True)
class SwitchLoad:
    """A switch's DIN load from its ``din_events`` counter: per-second rates."""

    requests_per_s: float
    recirculations_per_s: float


@dataclass(frozen=True, slots=True)
class Move:
    """A move of a model's layers, as done or to do."""

    model_id: int
    source: Placement
    target: Placement
    reason: str
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class MoveRequest:
    """A move :meth:`Repartitioner.check` calls for; ``rate``: the request rate that caused it."""

    model_id: int
    index: int
    reason: str
    rate: float = 0.0


@dataclass(slots=True)
class _State:
    index: int = 0
    moved_at: float = 0.0
    rate_at_move: float = 0.0
    calm_since: float | None = None


def _key_value(e: pe.TableEntry, field: str) -> int | None:
    m = e.match_dict().get(field)
    return m.value if isinstance(m, pe.Exact) else None


class Repartitioner:
    """The current placement of each partitioned model, and the moves between placements."""

    def __init__(
        self,
        fabric: Fabric,
        specs: Sequence[PartitionSpec],
        *,
        clock: Callable[[], float] = time.monotonic,
        loader: Callable[[str], MLPModel] | None = None,
    ) -> None:
        """Track ``specs`` on ``fabric``; each model starts at its first placement."""
        self.fabric = fabric
        self.specs = {s.model_id: s for s in specs}
        self._clock = clock
        self._loader = loader or _load_mlp
        self._models: dict[int, MLPModel] = {}
        self._state = {s.model_id: _State() for s in specs}
        self.moves: list[Move] = []
        for spec in specs:
            for p in spec.placements:
                if p.switch is not None and p.switch not in fabric:
                    raise SteeringError(
                        f"partition of model {spec.model_id}: placement on {p.switch!r}: "
                        f"expected one of the switches {fabric.names!r}"
                    )

    def model(self, model_id: int) -> MLPModel:
        """The model file of a partitioned model (loaded once)."""
        if model_id not in self._models:
            self._models[model_id] = self._loader(self.specs[model_id].model)
        return self._models[model_id]

    def version(self, model_id: int) -> int:
        """The model version whose roles are written."""
        spec = self.specs[model_id]
        return spec.version if spec.version is not None else self.model(model_id).version

    def placement(self, model_id: int) -> Placement:
        """The current placement of ``model_id``."""
        return self.specs[model_id].placements[self._state[model_id].index]

    # Installing -------------------------------------------------------------------

    def _roles(self, model_id: int, p: Placement) -> list[et.TableEntry]:
        return role_entries(model_id, self.version(model_id), p.roles)

    def _read_roles(self, conn: SwitchConnection, model_id: int) -> dict[int, pe.TableEntry]:
        version = self.version(model_id)
        out = {}
        for e in conn.read_entities([pe.TableEntry(ROLE_TABLE)]):
            if (
                isinstance(e, pe.TableEntry)
                and _key_value(e, "hdr.din.model_id") == model_id
                and _key_value(e, "hdr.din.model_version") == version
            ):
                stage = _key_value(e, "hdr.din.stage")
                if stage is not None:
                    out[stage] = e
        return out

    def prepare(self) -> None:
        """Install every placement switch's layer tables; roles only where the model starts."""
        for model_id, spec in self.specs.items():
            model, version = self.model(model_id), self.version(model_id)
            for p in spec.placements:
                if p.switch is None:
                    continue
                conn = self.fabric[p.switch]
                has_layers = any(
                    isinstance(e, pe.TableEntry)
                    and _key_value(e, "hdr.din.model_id") == model_id
                    and _key_value(e, "hdr.din.model_version") == version
                    for e in conn.read_entities([pe.TableEntry(BIAS_TABLE)])
                )
                entries: list[et.Entity] = []
                if not has_layers:
                    entries += install.model_entries(
                        model, model_id, version=version, roles=[], activate=False
                    )
                if model_id not in install.active_versions(conn):
                    entries.append(active_version_entry(model_id, version))
                if entries:
                    install.install(conn, entries)
                    log.info(
                        "model %d v%d: %d layer entries ready on %s",
                        model_id,
                        version,
                        len(entries),
                        p.switch,
                    )
            current = self.placement(model_id)
            for p in spec.placements:
                if p.switch is not None and p.switch != current.switch:
                    self._delete_roles(model_id, p, keep=current)
            self._write_roles(model_id, current, exact=True)

    def _write_roles(self, model_id: int, p: Placement, *, exact: bool) -> None:
        """Write ``p``'s roles on its switch (new first); ``exact`` also deletes the others."""
        if p.switch is None:
            return
        conn = self.fabric[p.switch]
        index = conn.index if conn.index is not None else conn.load_index()
        have = self._read_roles(conn, model_id)
        want = dict(zip((r.stage for r in p.roles), self._roles(model_id, p), strict=True))
        builder = pe.EntityBuilder(index)
        ups = []
        for stage, entry in sorted(want.items()):
            converted = install.to_p4rt(entry, builder)
            if stage not in have:
                ups.append(pe.Update(pe.UpdateType.INSERT, converted))
            elif have[stage] != converted:
                ups.append(pe.Update(pe.UpdateType.MODIFY, converted))
        if ups:
            conn.write(ups, stop_on_error=True)
        if exact:
            gone = [e for stage, e in have.items() if stage not in want]
            if gone:
                conn.delete(gone, stop_on_error=True)

    def _delete_roles(self, model_id: int, p: Placement, keep: Placement) -> None:
        if p.switch is None:
            return
        conn = self.fabric[p.switch]
        keep_stages = {r.stage for r in keep.roles} if keep.switch == p.switch else set()
        have = self._read_roles(conn, model_id)
        gone = [e for stage, e in have.items() if stage not in keep_stages]
        if gone:
            conn.delete(gone, stop_on_error=True)

    # Moving -----------------------------------------------------------------------

    def move(
        self,
        model_id: int,
        to_index: int,
        reason: str,
        *,
        rate: float = 0.0,
    ) -> Move:
        """Move ``model_id`` to placement ``to_index``: new roles, then old roles out.

        ``rate``: the request rate that made the model move away from its
        preferred placement; 0 (a move by hand) never moves back by itself.
        """
        spec = self.specs.get(model_id)
        if spec is None:
            raise SteeringError(
                f"model {model_id!r} has no partition: expected one of {sorted(self.specs)!r}"
            )
        if not 0 <= to_index < len(spec.placements):
            raise SteeringError(
                f"model {model_id}: placement {to_index!r}: expected 0..{len(spec.placements) - 1}"
            )
        start = self._clock()
        t0 = time.perf_counter()
        state = self._state[model_id]
        source, target = spec.placements[state.index], spec.placements[to_index]
        self._write_roles(model_id, target, exact=False)
        self._delete_roles(model_id, source, keep=target)
        state.index = to_index
        state.moved_at = start
        state.calm_since = None
        state.rate_at_move = rate
        done = Move(model_id, source, target, reason, time.perf_counter() - t0)
        self.moves.append(done)
        log.warning(
            "model %d layers moved from %s to %s in %.1f ms: %s",
            model_id,
            source.label,
            target.label,
            done.seconds * 1e3,
            reason,
        )
        return done

    def check(self, loads: Mapping[str, SwitchLoad]) -> list[MoveRequest]:
        """Moves that the switch loads call for."""
        now = self._clock()
        out = []
        for model_id, spec in self.specs.items():
            state = self._state[model_id]
            here = spec.placements[state.index]
            load = loads.get(here.switch) if here.switch is not None else None
            if load is not None and load.recirculations_per_s >= spec.overload_recirc_per_s:
                nxt = self._next_free(spec, state.index, loads)
                if nxt is not None:
                    out.append(
                        MoveRequest(
                            model_id,
                            nxt,
                            f"{here.switch} recirculates {load.recirculations_per_s:.0f}/s "
                            f">= {spec.overload_recirc_per_s:.0f}/s",
                            load.requests_per_s,
                        )
                    )
                continue
            if state.index == 0 or state.rate_at_move <= 0:
                continue
            preferred = spec.placements[0].switch
            pl = loads.get(preferred) if preferred is not None else None
            if pl is None:
                continue
            calm = pl.requests_per_s <= spec.recover_fraction * state.rate_at_move
            if not calm:
                state.calm_since = None
                continue
            if state.calm_since is None:
                state.calm_since = now
            if now - state.calm_since >= spec.hold_s and now - state.moved_at >= spec.hold_s:
                out.append(
                    MoveRequest(
                        model_id,
                        0,
                        f"{preferred} requests {pl.requests_per_s:.0f}/s <= "
                        f"{spec.recover_fraction:.2f} x {state.rate_at_move:.0f}/s "
                        f"for {spec.hold_s:.1f} s",
                    )
                )
        return out

    def _next_free(
        self, spec: PartitionSpec, index: int, loads: Mapping[str, SwitchLoad]
    ) -> int | None:
        for k in range(index + 1, len(spec.placements)):
            sw = spec.placements[k].switch
            load = loads.get(sw) if sw is not None else None
            if load is None or load.recirculations_per_s < spec.overload_recirc_per_s:
                return k
        return None

    def switches(self) -> set[str]:
        """Every switch of any placement (their load is what :meth:`check` needs)."""
        return {p.switch for s in self.specs.values() for p in s.placements if p.switch}

    def status(self) -> list[dict[str, object]]:
        """JSON-ready placements."""
        return [
            {
                "model_id": model_id,
                "placement": self.placement(model_id).label,
                "placements": [p.label for p in spec.placements],
                "moves": sum(1 for m in self.moves if m.model_id == model_id),
            }
            for model_id, spec in self.specs.items()
        ]


def _load_mlp(path: str) -> MLPModel:
    model = load_model(path)
    if not isinstance(model, MLPModel):
        raise SteeringError(f"partition model {path!r}: kind {model.kind!r}: expected an mlp model")
    return model
