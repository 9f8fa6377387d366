"""The steering configuration: services, instances, tenant policies, partitions, timing.

A :class:`SteeringConfig` is what a caller (``dinctl steer --plan FILE``, the
launcher, tests) gives :class:`~controller.steering.service.SteeringService`.
It can be written as JSON (:func:`load_config`, :func:`config_from_dict`)::

    {
      "interval_ms": 100, "stale_after_ms": 500, "dataplane_stale_ms": 150,
      "digest_batch_ms": 0,
      "premises": ["s1", "s2"],
      "instances": [{"id": 1, "location": "premises"}, {"id": 3, "location": "cloud"}],
      "services": [{"model_id": 1, "match": [[1, 0]], "instances": [1, 2, 3],
                    "switches": ["s1"]}],
      "policies": [{"tenant": 7, "sensitivities": [1], "locations": ["premises"]}],
      "partitions": [{"model_id": 1, "model": "build/models/digits-mlp.npz",
                      "placements": [{"switch": "s2", "roles": ["0:next", "1:final:0:10"]},
                                     {"switch": null}],
                      "overload_recirc_per_s": 2000}],
      "weights": {"slots": 16, "hysteresis": 0.1, "hold_ms": 1000},
      "probe": {"addr": "10.255.255.254", "interval_ms": 500}
    }

``digest_batch_ms``: the switches batch advertisement digests over this
long (0: each goes at once); frequent advertisements cost the switches and
the controller a message each otherwise, and a batch delays the registry by
at most this much. Instance locations decide tenant policy; ``premises`` (the switches on
premises) is accepted and kept but decides nothing: the data plane tells
raw inputs from activations by each request's stage, on any switch.
Unknown keys are refused with the path of the key. Pure: imports the
standard library, ``controller.entries`` and ``controller.steering``'s pure
modules only.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from controller.entries.mlp import MODES, Role
from controller.entries.steering import MSG_ESCALATION, MSG_REQUEST
from controller.steering.adverts import DIN_UDP_PORT, MAX_INSTANCE_ID
from controller.steering.errors import SteeringError
from controller.steering.policy import PREMISES, TenantPolicy
from controller.steering.weights import WeightConfig

log = logging.getLogger(__name__)

UNKNOWN_LOCATION = "unknown"
MAX_STALE_US = (1 << 48) - 1
ROLE_MODES = {"forward": 0, "next": 1, "exit-head": 2, "final": 3}

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class InstanceSpec:
    """What the controller is told of an instance: its location, optionally its address."""

    instance_id: int
    location: str = PREMISES
    addr: str | None = None  # None: learned from its advertisements

    def __post_init__(self) -> None:
        """Check the id."""
        if not 1 <= self.instance_id <= MAX_INSTANCE_ID:
            raise SteeringError(
                f"instance {self.instance_id!r}: expected an id in 1..{MAX_INSTANCE_ID}"
            )


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """A steered service: a model id, the (msg_type, stage) pairs matched, its candidates."""

    model_id: int
    match: tuple[tuple[int, int], ...] = ((MSG_REQUEST, 0),)
    instances: tuple[int, ...] | None = None  # None: every instance serving the model
    switches: tuple[str, ...] | None = None  # None: every switch

    def __post_init__(self) -> None:
        """Check the model id and the matches."""
        where = f"service of model {self.model_id!r}"
        if not 0 <= self.model_id <= 0xFFFF:
            raise SteeringError(f"{where}: model id: expected 0..65535")
        if not self.match:
            raise SteeringError(f"{where}: no (msg_type, stage) to match: expected at least one")
        for msg, stage in self.match:
            if msg not in (MSG_REQUEST, MSG_ESCALATION) or not 0 <= stage <= 0xFE:
                raise SteeringError(
                    f"{where}: match ({msg!r}, {stage!r}): expected msg_type 1 (request) or "
                    "3 (escalation) and stage 0..254"
                )

    @property
    def name(self) -> str:
        """A short label for logs and metrics."""
        return f"model{self.model_id}"

    def on(self, switch: str) -> bool:
        """Whether this service is steered on ``switch``."""
        return self.switches is None or switch in self.switches


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a model's in-network layers run: a switch with its ``mlp_role`` rows, or nowhere."""

    switch: str | None
    roles: tuple[Role, ...] = ()

    def __post_init__(self) -> None:
        """A switch needs roles; no switch takes none."""
        if self.switch is None and self.roles:
            raise SteeringError(f"placement without a switch has roles {self.roles!r}")
        if self.switch is not None and not self.roles:
            raise SteeringError(f"placement on {self.switch!r}: no roles: expected at least one")

    @property
    def label(self) -> str:
        """'s2' or 'nodes'."""
        return self.switch or "nodes"


@dataclass(frozen=True, slots=True)
class PartitionSpec:
    """A model whose layers may move: placements in order of preference, overload marks."""

    model_id: int
    model: str  # model file path
    placements: tuple[Placement, ...]
    version: int | None = None  # None: the model file's version
    overload_recirc_per_s: float = 5000.0
    recover_fraction: float = 0.5
    hold_s: float = 2.0

    def __post_init__(self) -> None:
        """Check placements and marks."""
        where = f"partition of model {self.model_id!r}"
        if len(self.placements) < 2:
            raise SteeringError(f"{where}: {len(self.placements)} placement(s): expected >= 2")
        if self.overload_recirc_per_s <= 0:
            raise SteeringError(
                f"{where}: overload mark {self.overload_recirc_per_s!r}/s: expected > 0"
            )
        if not 0 < self.recover_fraction < 1:
            raise SteeringError(f"{where}: recover fraction {self.recover_fraction!r}: 0 < f < 1")
        if self.hold_s < 0:
            raise SteeringError(f"{where}: hold time {self.hold_s!r} s: expected >= 0")


@dataclass(frozen=True, slots=True)
class ProbeConfig:
    """Where probe answers go (an address no host has) and how often probes leave."""

    addr: str = "10.255.255.254"
    port: int = 7351
    interval_s: float = 0.5
    timeout_s: float = 2.0
    tenant: int = 0

    def __post_init__(self) -> None:
        """Check the address, port and timing."""
        try:
            ipaddress.IPv4Address(self.addr)
        except ValueError:
            raise SteeringError(f"probe address {self.addr!r}: expected a dotted quad") from None
        if not 1 <= self.port <= 0xFFFF or self.port == DIN_UDP_PORT:
            raise SteeringError(f"probe port {self.port!r}: expected 1..65535 other than 7350")
        if self.interval_s <= 0 or self.timeout_s <= 0:
            raise SteeringError(
                f"probe interval {self.interval_s!r} s, timeout {self.timeout_s!r} s: expected > 0"
            )


@dataclass(frozen=True, slots=True)
class SteeringConfig:
    """Everything the steering service needs besides the switches."""

    services: tuple[ServiceSpec, ...]
    instances: tuple[InstanceSpec, ...] = ()
    policies: tuple[TenantPolicy, ...] = ()
    partitions: tuple[PartitionSpec, ...] = ()
    premises: tuple[str, ...] = ()  # switches on premises (informational)
    interval_s: float = 0.1
    stale_after_s: float = 0.5
    dataplane_stale_us: int = 150_000  # 0: no data-plane failover
    relay: bool = True
    relay_window_s: float = 0.25
    counters_interval_s: float = 0.5
    digest_batch_s: float = 0.0  # advertisement digests batched over this long (0: none)
    weights: WeightConfig = field(default_factory=WeightConfig)
    probe: ProbeConfig | None = None  # None: no latency probes

    def __post_init__(self) -> None:
        """Check timing and that ids are unique."""
        if self.interval_s <= 0 or self.stale_after_s <= 0 or self.counters_interval_s <= 0:
            raise SteeringError(
                f"intervals {self.interval_s!r}, {self.stale_after_s!r}, "
                f"{self.counters_interval_s!r} s: expected > 0"
            )
        if not 0 <= self.dataplane_stale_us <= MAX_STALE_US:
            raise SteeringError(f"dataplane stale time {self.dataplane_stale_us!r} us: 0..2^48-1")
        if not 0 <= self.digest_batch_s < self.stale_after_s:
            raise SteeringError(
                f"digest batch {self.digest_batch_s!r} s: expected 0 <= batch < the stale "
                f"time {self.stale_after_s!r} s"
            )
        ids = [i.instance_id for i in self.instances]
        if len(set(ids)) != len(ids):
            raise SteeringError(f"instances {ids!r}: expected each id once")
        models = [p.model_id for p in self.partitions]
        if len(set(models)) != len(models):
            raise SteeringError(f"partitions of models {models!r}: expected one per model")
        for i, a in enumerate(self.services):
            for b in self.services[i + 1 :]:
                common = set(a.match) & set(b.match) if a.model_id == b.model_id else set()
                shared = (
                    a.switches is None or b.switches is None or set(a.switches) & set(b.switches)
                )
                if common and shared:
                    raise SteeringError(
                        f"model {a.model_id} matches {sorted(common)!r} are steered by two "
                        "services on one switch: expected one service per match and switch"
                    )

    def location(self, instance_id: int) -> str:
        """The configured location of an instance ('unknown' when not configured)."""
        for spec in self.instances:
            if spec.instance_id == instance_id:
                return spec.location
        return UNKNOWN_LOCATION

    def pinned_addr(self, instance_id: int) -> str | None:
        """The configured address of an instance, if any."""
        for spec in self.instances:
            if spec.instance_id == instance_id:
                return spec.addr
        return None


# JSON ----------------------------------------------------------------------------


def _get(
    d: Mapping[str, Any], key: str, kind: Callable[[Any, str], _T], where: str, default: _T
) -> _T:
    if key not in d or (d[key] is None and default is None):
        return default
    return kind(d[key], f"{where}.{key}")


def _int(v: Any, where: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise SteeringError(f"{where}: {v!r}: expected an integer")
    return v


def _num(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise SteeringError(f"{where}: {v!r}: expected a number")
    return float(v)


def _bool(v: Any, where: str) -> bool:
    if not isinstance(v, bool):
        raise SteeringError(f"{where}: {v!r}: expected true or false")
    return v


def _str(v: Any, where: str) -> str:
    if not isinstance(v, str) or not v:
        raise SteeringError(f"{where}: {v!r}: expected a non-empty string")
    return v


def _list(v: Any, where: str) -> list[Any]:
    if not isinstance(v, list):
        raise SteeringError(f"{where}: {v!r}: expected a list")
    return v


def _obj(v: Any, where: str, keys: Sequence[str]) -> Mapping[str, Any]:
    if not isinstance(v, dict):
        raise SteeringError(f"{where}: {v!r}: expected an object")
    unknown = sorted(set(v) - set(keys))
    if unknown:
        raise SteeringError(
            f"{where}: unknown key(s) {unknown!r}: expected some of {sorted(keys)!r}"
        )
    return v


def _ints(v: Any, where: str) -> tuple[int, ...]:
    return tuple(_int(x, f"{where}[{i}]") for i, x in enumerate(_list(v, where)))


def _strs(v: Any, where: str) -> tuple[str, ...]:
    return tuple(_str(x, f"{where}[{i}]") for i, x in enumerate(_list(v, where)))


def parse_role(text: str, where: str = "role") -> Role:
    """'STAGE:MODE[:HEAD_LAYER[:NUM_CLASSES]]', MODE one of forward, next, exit-head, final."""
    parts = text.split(":") if isinstance(text, str) else []
    try:
        if not 2 <= len(parts) <= 4 or parts[1] not in ROLE_MODES:
            raise ValueError(text)
        nums = [int(p) for p in (parts[0], *parts[2:])]
    except ValueError:
        raise SteeringError(
            f"{where}: {text!r}: expected STAGE:MODE[:HEAD_LAYER[:NUM_CLASSES]] with MODE one "
            f"of {', '.join(ROLE_MODES)}"
        ) from None
    stage, head, classes = nums[0], *[*nums[1:], 0, 0][:2]
    role = Role(stage, ROLE_MODES[parts[1]], head, classes)
    if role.mode not in MODES:
        raise SteeringError(f"{where}: mode {role.mode!r}: expected one of {MODES!r}")
    return role


def _instance(v: Any, where: str) -> InstanceSpec:
    d = _obj(v, where, ("id", "location", "addr"))
    if "id" not in d:
        raise SteeringError(f"{where}: missing 'id'")
    return InstanceSpec(
        _int(d["id"], f"{where}.id"),
        _get(d, "location", _str, where, PREMISES),
        _get(d, "addr", _str, where, None),
    )


def _service(v: Any, where: str) -> ServiceSpec:
    d = _obj(v, where, ("model_id", "match", "instances", "switches"))
    if "model_id" not in d:
        raise SteeringError(f"{where}: missing 'model_id'")
    match: tuple[tuple[int, int], ...] = ((MSG_REQUEST, 0),)
    if "match" in d:
        pairs = []
        for i, m in enumerate(_list(d["match"], f"{where}.match")):
            pair = _ints(m, f"{where}.match[{i}]")
            if len(pair) != 2:
                raise SteeringError(f"{where}.match[{i}]: {m!r}: expected [msg_type, stage]")
            pairs.append((pair[0], pair[1]))
        match = tuple(pairs)
    return ServiceSpec(
        _int(d["model_id"], f"{where}.model_id"),
        match,
        _get(d, "instances", _ints, where, None),
        _get(d, "switches", _strs, where, None),
    )


def _policy(v: Any, where: str) -> TenantPolicy:
    d = _obj(
        v, where, ("tenant", "sensitivities", "locations", "instances", "activations_anywhere")
    )
    if "tenant" not in d:
        raise SteeringError(f"{where}: missing 'tenant'")
    return TenantPolicy(
        _int(d["tenant"], f"{where}.tenant"),
        _get(d, "sensitivities", _ints, where, (1,)),
        _get(d, "locations", _strs, where, (PREMISES,)),
        _get(d, "instances", _ints, where, None),
        _get(d, "activations_anywhere", _bool, where, True),
    )


def _placement(v: Any, where: str) -> Placement:
    d = _obj(v, where, ("switch", "roles"))
    switch = None if d.get("switch") is None else _str(d["switch"], f"{where}.switch")
    roles = tuple(
        parse_role(r, f"{where}.roles[{i}]")
        for i, r in enumerate(_list(d.get("roles", []), f"{where}.roles"))
    )
    return Placement(switch, roles)


def _partition(v: Any, where: str, base: Path | None) -> PartitionSpec:
    keys = ("model_id", "model", "version", "placements", "overload_recirc_per_s",
            "recover_fraction", "hold_ms")  # fmt: skip
    d = _obj(v, where, keys)
    for key in ("model_id", "model", "placements"):
        if key not in d:
            raise SteeringError(f"{where}: missing {key!r}")
    model = _str(d["model"], f"{where}.model")
    if base is not None and not os.path.isabs(model) and not Path(model).exists():
        model = str(base / model)
    return PartitionSpec(
        model_id=_int(d["model_id"], f"{where}.model_id"),
        model=model,
        placements=tuple(
            _placement(p, f"{where}.placements[{i}]")
            for i, p in enumerate(_list(d["placements"], f"{where}.placements"))
        ),
        version=_get(d, "version", _int, where, None),
        overload_recirc_per_s=_get(d, "overload_recirc_per_s", _num, where, 5000.0),
        recover_fraction=_get(d, "recover_fraction", _num, where, 0.5),
        hold_s=_get(d, "hold_ms", _num, where, 2000.0) / 1e3,
    )


_WEIGHT_KEYS = {
    "slots": "slots",
    "default_capacity": "default_capacity",
    "load_penalty": "load_penalty",
    "latency_floor_ms": "latency_floor_s",
    "overload_utilisation": "overload_utilisation",
    "overload_queue": "overload_queue",
    "recover_utilisation": "recover_utilisation",
    "recover_queue": "recover_queue",
    "hysteresis": "hysteresis",
    "hold_ms": "hold_s",
}


def _weights(v: Any, where: str) -> WeightConfig:
    d = _obj(v, where, tuple(_WEIGHT_KEYS))
    kwargs: dict[str, Any] = {}
    for key, attr in _WEIGHT_KEYS.items():
        if key in d:
            value = (
                _int(d[key], f"{where}.{key}") if key == "slots" else _num(d[key], f"{where}.{key}")
            )
            kwargs[attr] = value / 1e3 if key.endswith("_ms") else value
    return WeightConfig(**kwargs)


_TOP_KEYS = (
    "services", "instances", "policies", "partitions", "premises", "interval_ms",
    "stale_after_ms", "dataplane_stale_ms", "relay", "relay_window_ms", "counters_interval_ms",
    "digest_batch_ms", "weights", "probe",
)  # fmt: skip


def _probe(v: Any, where: str) -> ProbeConfig:
    d = _obj(v, where, ("addr", "port", "interval_ms", "timeout_ms", "tenant"))
    return ProbeConfig(
        addr=_get(d, "addr", _str, where, "10.255.255.254"),
        port=_get(d, "port", _int, where, 7351),
        interval_s=_get(d, "interval_ms", _num, where, 500.0) / 1e3,
        timeout_s=_get(d, "timeout_ms", _num, where, 2000.0) / 1e3,
        tenant=_get(d, "tenant", _int, where, 0),
    )


def config_from_dict(data: Any, where: str = "plan", base: Path | None = None) -> SteeringConfig:
    """A SteeringConfig from parsed JSON; errors name the path of the bad value."""
    d = _obj(data, where, _TOP_KEYS)
    if "services" not in d:
        raise SteeringError(f"{where}: missing 'services'")

    def items(key: str, parse: Callable[[Any, str], _T]) -> tuple[_T, ...]:
        return tuple(
            parse(x, f"{where}.{key}[{i}]")
            for i, x in enumerate(_list(d.get(key, []), f"{where}.{key}"))
        )

    ms = 1e3
    return SteeringConfig(
        services=items("services", _service),
        instances=items("instances", _instance),
        policies=items("policies", _policy),
        partitions=items("partitions", lambda x, w: _partition(x, w, base)),
        premises=_get(d, "premises", _strs, where, ()),
        interval_s=_get(d, "interval_ms", _num, where, 100.0) / ms,
        stale_after_s=_get(d, "stale_after_ms", _num, where, 500.0) / ms,
        dataplane_stale_us=round(_get(d, "dataplane_stale_ms", _num, where, 150.0) * 1e3),
        relay=_get(d, "relay", _bool, where, True),
        relay_window_s=_get(d, "relay_window_ms", _num, where, 250.0) / ms,
        counters_interval_s=_get(d, "counters_interval_ms", _num, where, 500.0) / ms,
        digest_batch_s=_get(d, "digest_batch_ms", _num, where, 0.0) / ms,
        weights=_weights(d["weights"], f"{where}.weights") if "weights" in d else WeightConfig(),
        probe=_probe(d["probe"], f"{where}.probe") if d.get("probe") is not None else None,
    )


def load_config(path: str | os.PathLike[str]) -> SteeringConfig:
    """Read a steering plan JSON file (model paths relative to the file's folder)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SteeringError(f"steering plan {str(p)!r}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise SteeringError(
            f"steering plan {str(p)!r}: line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    return config_from_dict(data, p.name, p.parent)
