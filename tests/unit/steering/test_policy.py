"""controller.steering.policy: tenant rules compiled per switch to tenant_policy rows."""

from __future__ import annotations

import pytest

from controller.entries.steering import Policy, policy_entries
from controller.steering.errors import SteeringError
from controller.steering.policy import TenantPolicy, compile_policies, raw_inputs_steered

LOCATIONS = {1: "premises", 2: "premises", 3: "cloud", 4: "edge"}


def test_raw_inputs_stay_on_premises() -> None:
    p = TenantPolicy(7, sensitivities=(1, 2))
    assert compile_policies([p], LOCATIONS, raw=True) == [
        Policy(7, 1, (1, 2)),
        Policy(7, 2, (1, 2)),
    ]


def test_activations_computed_on_premises_may_go_anywhere() -> None:
    p = TenantPolicy(7)
    assert compile_policies([p], LOCATIONS, raw=False) == [Policy(7, 1, (1, 2, 3, 4))]
    strict = TenantPolicy(7, activations_anywhere=False)
    assert compile_policies([strict], LOCATIONS, raw=False) == [Policy(7, 1, (1, 2))]


def test_instance_lists_and_several_locations() -> None:
    p = TenantPolicy(9, sensitivities=(0,), locations=("premises", "edge"), instances=(2, 3, 4))
    assert compile_policies([p], LOCATIONS, raw=True) == [Policy(9, 0, (2, 4))]
    assert compile_policies([p], LOCATIONS, raw=False) == [Policy(9, 0, (2, 3, 4))]


def test_rows_become_bitmaps() -> None:
    (entry,) = policy_entries(compile_policies([TenantPolicy(7)], LOCATIONS, raw=True))
    assert entry.param_dict() == {"allowed": (1 << 1) | (1 << 2)}


def test_where_raw_inputs_can_be_steered() -> None:
    steer_raw = [(1, 1, 0)]
    assert raw_inputs_steered(steer_raw, set(), on_premises=True)
    # The switch computes model 1's first layer: what it steers are activations.
    assert not raw_inputs_steered(steer_raw, {1}, on_premises=True)
    assert not raw_inputs_steered([(1, 1, 1)], set(), on_premises=True)
    # An escalation at stage 0 carries its final layer's input: the raw input.
    assert raw_inputs_steered([(1, 3, 0)], {1}, on_premises=True)
    # Off the premises everything counts as raw.
    assert raw_inputs_steered([(1, 1, 1)], {1}, on_premises=False)


def test_bad_policies_are_refused() -> None:
    with pytest.raises(SteeringError, match="tenant id"):
        TenantPolicy(70000)
    with pytest.raises(SteeringError, match="sensitivity 300"):
        TenantPolicy(1, sensitivities=(300,))
    with pytest.raises(SteeringError, match="no sensitivity"):
        TenantPolicy(1, sensitivities=())
    with pytest.raises(SteeringError, match="sensitivity 1: given twice"):
        compile_policies([TenantPolicy(1), TenantPolicy(1)], LOCATIONS, raw=True)
