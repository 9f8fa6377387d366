"""controller.steering.policy: tenant rules compiled to tenant_policy rows with two bitmaps."""

from __future__ import annotations

import pytest

from controller.entries.steering import Policy, policy_entries
from controller.steering.errors import SteeringError
from controller.steering.policy import TenantPolicy, compile_policies

LOCATIONS = {1: "premises", 2: "premises", 3: "cloud", 4: "edge"}


def test_raw_inputs_stay_on_premises_and_activations_may_go_anywhere() -> None:
    p = TenantPolicy(7, sensitivities=(1, 2))
    assert compile_policies([p], LOCATIONS) == [
        Policy(7, 1, (1, 2, 3, 4), (1, 2)),
        Policy(7, 2, (1, 2, 3, 4), (1, 2)),
    ]


def test_activations_can_be_kept_on_premises_too() -> None:
    strict = TenantPolicy(7, activations_anywhere=False)
    assert compile_policies([strict], LOCATIONS) == [Policy(7, 1, (1, 2), (1, 2))]


def test_instance_lists_and_several_locations() -> None:
    p = TenantPolicy(9, sensitivities=(0,), locations=("premises", "edge"), instances=(2, 3, 4))
    assert compile_policies([p], LOCATIONS) == [Policy(9, 0, (2, 3, 4), (2, 4))]


def test_rows_become_two_bitmaps() -> None:
    (entry,) = policy_entries(compile_policies([TenantPolicy(7)], LOCATIONS))
    assert entry.action == "MyIngress.set_allowed"
    assert entry.param_dict() == {
        "allowed": (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4),
        "allowed_raw": (1 << 1) | (1 << 2),
    }


def test_bad_policies_are_refused() -> None:
    with pytest.raises(SteeringError, match="tenant id"):
        TenantPolicy(70000)
    with pytest.raises(SteeringError, match="sensitivity 300"):
        TenantPolicy(1, sensitivities=(300,))
    with pytest.raises(SteeringError, match="no sensitivity"):
        TenantPolicy(1, sensitivities=())
    with pytest.raises(SteeringError, match="sensitivity 1: given twice"):
        compile_policies([TenantPolicy(1), TenantPolicy(1)], LOCATIONS)
