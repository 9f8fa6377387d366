"""controller.steering.config: the steering plan JSON, with errors naming the bad value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controller.entries.mlp import Role
from controller.steering.config import (
    InstanceSpec,
    ServiceSpec,
    SteeringConfig,
    config_from_dict,
    load_config,
    parse_role,
)
from controller.steering.errors import SteeringError
from controller.steering.policy import TenantPolicy

PLAN = {
    "interval_ms": 50,
    "stale_after_ms": 300,
    "dataplane_stale_ms": 80,
    "digest_batch_ms": 40,
    "premises": ["s1"],
    "instances": [{"id": 1}, {"id": 3, "location": "cloud", "addr": "10.0.3.1"}],
    "services": [{"model_id": 1, "match": [[1, 0], [3, 1]], "instances": [1, 3]}],
    "policies": [{"tenant": 7, "sensitivities": [1, 2]}],
    "partitions": [
        {
            "model_id": 1,
            "model": "m.npz",
            "placements": [{"switch": "s1", "roles": ["0:next", "1:final:0:10"]}, {"switch": None}],
            "hold_ms": 500,
        }
    ],
    "weights": {"slots": 8, "hold_ms": 200, "latency_floor_ms": 2},
}


def test_a_full_plan_parses(tmp_path: Path) -> None:
    (tmp_path / "m.npz").write_bytes(b"")
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(PLAN))
    cfg = load_config(path)
    assert cfg.interval_s == pytest.approx(0.05)
    assert cfg.stale_after_s == pytest.approx(0.3)
    assert cfg.dataplane_stale_us == 80_000
    assert cfg.digest_batch_s == pytest.approx(0.04)
    assert cfg.premises == ("s1",)
    assert cfg.instances == (InstanceSpec(1), InstanceSpec(3, "cloud", "10.0.3.1"))
    assert cfg.services == (ServiceSpec(1, ((1, 0), (3, 1)), (1, 3)),)
    assert cfg.policies == (TenantPolicy(7, (1, 2)),)
    (part,) = cfg.partitions
    assert part.model == str(tmp_path / "m.npz")
    assert part.placements[0].roles == (Role(0, 1), Role(1, 3, 0, 10))
    assert part.placements[1].switch is None and part.hold_s == pytest.approx(0.5)
    assert (cfg.weights.slots, cfg.weights.hold_s) == (8, pytest.approx(0.2))
    assert cfg.weights.latency_floor_s == pytest.approx(0.002)
    assert cfg.location(3) == "cloud" and cfg.location(9) == "unknown"
    assert cfg.pinned_addr(3) == "10.0.3.1" and cfg.pinned_addr(1) is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"service": 1}, r"plan: unknown key\(s\) \['service'\]"),
        (
            {"services": [{"model_id": "x"}]},
            r"plan.services\[0\].model_id: 'x': expected an integer",
        ),
        ({"services": [{"model_id": 1, "match": [[2, 0]]}]}, r"match \(2, 0\): expected msg_type"),
        ({"services": [{}]}, r"plan.services\[0\]: missing 'model_id'"),
        ({"instances": [{"id": 99}]}, "instance 99: expected an id in 1..63"),
        ({"instances": [{"id": 1}, {"id": 1}]}, r"instances \[1, 1\]: expected each id once"),
        (
            {"policies": [{"tenant": 1, "sensitivities": "1"}]},
            "sensitivities: '1': expected a list",
        ),
        ({"relay": "yes"}, "plan.relay: 'yes': expected true or false"),
        ({"digest_batch_ms": 600}, r"digest batch 0\.6 s: expected 0 <= batch < the stale time"),
        ({"weights": {"slots": 0}}, "weight slots 0"),
        ({"interval_ms": 0}, "expected > 0"),
        (
            {"services": [{"model_id": 1}, {"model_id": 1, "switches": ["s1"]}]},
            "steered by two services on one switch",
        ),
    ],
)
def test_bad_plans_name_the_value(change: dict[str, object], message: str) -> None:
    data = {"services": [{"model_id": 1}], **change}
    with pytest.raises(SteeringError, match=message):
        config_from_dict(data)


def test_roles_and_files_errors(tmp_path: Path) -> None:
    assert parse_role("2:exit-head:130:10") == Role(2, 2, 130, 10)
    with pytest.raises(SteeringError, match="'0:fly': expected STAGE:MODE"):
        parse_role("0:fly")
    with pytest.raises(SteeringError, match=r"nope\.json': No such file"):
        load_config(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(SteeringError, match="line 1 column 2"):
        load_config(bad)
    with pytest.raises(SteeringError, match="placement"):
        config_from_dict(
            {
                "services": [{"model_id": 1}],
                "partitions": [{"model_id": 1, "model": "m", "placements": [{"switch": None}]}],
            }
        )


def test_defaults() -> None:
    cfg = SteeringConfig(services=(ServiceSpec(1),))
    assert cfg.relay and cfg.dataplane_stale_us == 150_000 and cfg.premises == ()
    assert ServiceSpec(1).on("any") and not ServiceSpec(1, switches=("s1",)).on("s2")
