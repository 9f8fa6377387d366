"""Tenant policy: which instances a tenant's requests may reach, compiled to ``tenant_policy``.

A :class:`TenantPolicy` covers one tenant at some sensitivity levels: the
locations its raw inputs may go to (default on premises only), optionally a
list of allowed instances, and whether activations computed on premises may
go further (default yes: only raw inputs must stay). The data plane's
``tenant_policy`` is keyed by (tenant, sensitivity) only, not by stage, so
the compiler works per switch: where a request can still carry raw inputs
when it is steered (a ``din_steer`` match at stage 0 of a model the switch
does not compute itself, or the switch is not on premises), the tenant is
allowed only the instances in its raw-input locations; where every request
steered has had its first layer computed on this on-premises switch, the
activation rule applies. A request whose chosen instance is not allowed goes
to the instance's backup when that one is allowed, else it is dropped and
counted (``policy_drops``, ``din_events``).

Pure: imports the standard library, ``controller.entries.steering`` and
``controller.steering.errors`` only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from controller.entries.steering import MSG_ESCALATION, Policy
from controller.steering.errors import SteeringError

log = logging.getLogger(__name__)

PREMISES = "premises"
MAX_TENANT = 0xFFFF
MAX_SENSITIVITY = 0xFF


@dataclass(frozen=True, slots=True)
class TenantPolicy:
    """Where one tenant's requests of the given sensitivity levels may be served."""

    tenant_id: int
    sensitivities: tuple[int, ...] = (1,)
    locations: tuple[str, ...] = (PREMISES,)
    instances: tuple[int, ...] | None = None  # None: any instance in an allowed location
    activations_anywhere: bool = True

    def __post_init__(self) -> None:
        """Check the ids and levels."""
        where = f"policy of tenant {self.tenant_id!r}"
        if not 0 <= self.tenant_id <= MAX_TENANT:
            raise SteeringError(f"{where}: tenant id: expected 0..{MAX_TENANT}")
        if not self.sensitivities:
            raise SteeringError(f"{where}: no sensitivity level: expected at least one")
        for level in self.sensitivities:
            if not 0 <= level <= MAX_SENSITIVITY:
                raise SteeringError(
                    f"{where}: sensitivity {level!r}: expected 0..{MAX_SENSITIVITY}"
                )
        if len(set(self.sensitivities)) != len(self.sensitivities):
            raise SteeringError(f"{where}: sensitivities {self.sensitivities!r}: given twice")

    def allowed(self, locations: Mapping[int, str], *, raw: bool) -> tuple[int, ...]:
        """The instances (of ``locations``: id -> location) allowed when inputs may be ``raw``."""
        chosen = []
        for inst, where in sorted(locations.items()):
            if self.instances is not None and inst not in self.instances:
                continue
            if (raw or not self.activations_anywhere) and where not in self.locations:
                continue
            chosen.append(inst)
        return tuple(chosen)


def compile_policies(
    policies: Sequence[TenantPolicy],
    locations: Mapping[int, str],
    *,
    raw: bool,
    switch: str = "",
) -> list[Policy]:
    """``tenant_policy`` rows for one switch; ``raw``: raw inputs can be steered there."""
    seen: set[tuple[int, int]] = set()
    out = []
    for p in policies:
        allowed = p.allowed(locations, raw=raw)
        for level in p.sensitivities:
            key = (p.tenant_id, level)
            if key in seen:
                raise SteeringError(
                    f"policy of tenant {p.tenant_id} sensitivity {level}: given twice: "
                    "expected one policy per (tenant, sensitivity)"
                )
            seen.add(key)
            out.append(Policy(p.tenant_id, level, allowed))
        log.debug(
            "%s: tenant %d levels %s -> instances %s (%s inputs)",
            switch or "policy",
            p.tenant_id,
            list(p.sensitivities),
            list(allowed),
            "raw" if raw else "computed",
        )
    return out


def raw_inputs_steered(
    matches: Iterable[tuple[int, int, int]],
    first_layer_here: Iterable[int],
    *,
    on_premises: bool,
) -> bool:
    """Whether raw inputs can be steered on a switch.

    ``matches``: its ``din_steer`` matches as (model_id, msg_type, stage);
    ``first_layer_here``: the models whose layer 0 the switch computes itself.
    A switch off the premises counts as raw: what reached it already left. An
    escalation at stage 0 is raw too (it carries the input of its final layer).
    """
    if not on_premises:
        return True
    computed = set(first_layer_here)
    return any(
        stage == 0 and (msg == MSG_ESCALATION or model not in computed)
        for model, msg, stage in matches
    )
