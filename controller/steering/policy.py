"""Tenant policy: which instances a tenant's data may reach, compiled to ``tenant_policy``.

A :class:`TenantPolicy` covers one tenant at some sensitivity levels: the
locations its raw inputs may go to (default on premises only), optionally a
list of allowed instances, and whether activations may go further (default
yes: only raw inputs must stay). Each ``tenant_policy`` row carries two
bitmaps and the data plane picks one per packet by what the packet carries:
``allowed_raw`` for a request or escalation at stage 0 (the raw inputs; an
escalation at stage 0 carries the input of its final layer 0), ``allowed``
at any later stage (activations a switch computed on the inputs' way). So
the rows are the same on every switch, wherever layers run. A switch that
steers a request replaces a chosen instance that is not allowed by the
instance's backup when that one is allowed; a request it does not steer
(already steered upstream, or no ``din_steer`` match) must be addressed to a
known instance (``instance_addr``) that is allowed. Anything else is dropped
and counted (``policy_drops``, ``drops``, ``din_events``).

Pure: imports the standard library, ``controller.entries.steering`` and
``controller.steering.errors`` only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from controller.entries.steering import Policy
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
        """The instances (of ``locations``: id -> location) allowed for raw inputs or not."""
        chosen = []
        for inst, where in sorted(locations.items()):
            if self.instances is not None and inst not in self.instances:
                continue
            if (raw or not self.activations_anywhere) and where not in self.locations:
                continue
            chosen.append(inst)
        return tuple(chosen)


def compile_policies(
    policies: Sequence[TenantPolicy], locations: Mapping[int, str]
) -> list[Policy]:
    """``tenant_policy`` rows (the same on every switch) over ``locations``: id -> location."""
    seen: set[tuple[int, int]] = set()
    out = []
    for p in policies:
        allowed = p.allowed(locations, raw=False)
        raw = p.allowed(locations, raw=True)
        for level in p.sensitivities:
            key = (p.tenant_id, level)
            if key in seen:
                raise SteeringError(
                    f"policy of tenant {p.tenant_id} sensitivity {level}: given twice: "
                    "expected one policy per (tenant, sensitivity)"
                )
            seen.add(key)
            out.append(Policy(p.tenant_id, level, allowed, raw))
        log.debug(
            "tenant %d levels %s: raw inputs to instances %s, activations to %s",
            p.tenant_id,
            list(p.sensitivities),
            list(raw),
            list(allowed),
        )
    return out
