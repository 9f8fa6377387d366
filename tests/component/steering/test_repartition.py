"""Re-partitioning against p4lite in-process: a model's first layers move from the switch
to the nodes and back (new roles before old ones go), the sensitive tenant's raw inputs
stay on premises wherever the layers run, and an overloaded switch gives its layers away
by itself."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from controller.models.files import save_model
from controller.models.quant import FloatLayer, MLPModel, forward_int, quantize_mlp
from controller.p4rt import entities as pe
from controller.p4rt.multi import Fabric
from controller.steering.config import (
    InstanceSpec,
    PartitionSpec,
    Placement,
    ServiceSpec,
    SteeringConfig,
    parse_role,
)
from controller.steering.policy import TenantPolicy
from controller.steering.service import SteeringService
from controller.steering.weights import WeightConfig

SENSITIVE = {"tenant": 7, "sensitivity": 1}
ON_SWITCH = Placement("s1", (parse_role("0:next"), parse_role("1:forward")))
ON_NODES = Placement(None)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, MLPModel]:
    rng = np.random.default_rng(5)
    floats = [
        FloatLayer(rng.normal(size=(4, 6)), rng.normal(size=6), "relu"),
        FloatLayer(rng.normal(size=(6, 5)), rng.normal(size=5), "relu"),
        FloatLayer(rng.normal(size=(5, 3)), rng.normal(size=3), "linear"),
    ]
    model = MLPModel(
        name="moving",
        version=1,
        classes=("a", "b", "c"),
        input_scale=1 / 255,
        layers=quantize_mlp(floats, 1 / 255, rng.uniform(size=(200, 4))),
        data={"name": "random", "seed": 5},
    )
    path = tmp_path_factory.mktemp("model") / "moving.npz"
    save_model(model, path)
    return path, model


def _config(path: Path, **kw: Any) -> SteeringConfig:
    base: dict[str, Any] = {
        "services": (ServiceSpec(1, match=((1, 0), (1, 2))),),
        "instances": (InstanceSpec(2), InstanceSpec(4, "cloud")),
        "policies": (TenantPolicy(7),),
        "premises": ("s1",),
        "partitions": (PartitionSpec(1, str(path), (ON_SWITCH, ON_NODES), hold_s=0.3),),
        "interval_s": 0.02,
        "stale_after_s": 0.5,
        "counters_interval_s": 0.1,
        "weights": WeightConfig(hold_s=0.0, slots=15),  # the weights below sum to 15
    }
    base.update(kw)
    return SteeringConfig(**base)


class Ads:
    def __init__(self, kit: Any, switch: Any) -> None:
        self.stop = threading.Event()

        def run() -> None:
            while not self.stop.is_set():
                for port in (2, 4):
                    switch.inject(port, kit.advert_frame(port, port))
                self.stop.wait(0.03)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)


def _vector(x: np.ndarray) -> tuple[int, ...]:
    return tuple(int(v) for v in x) + (0,) * (16 - len(x))


def _one(switch: Any, kit: Any, x: np.ndarray, rid: int, *, sport: int = 41000, **kw: Any) -> Any:
    switch.inject(1, kit.request_frame(1, sport=sport, request_id=rid, vector=_vector(x), **kw))
    got = switch.take_any((2, 4), timeout=2.0)
    assert got is not None, f"request {rid} never came out"
    return got[1]


def test_layers_move_to_the_nodes_and_back(make_switch: Any, kit: Any, model_file: Any) -> None:
    path, model = model_file
    s1 = make_switch("s1")
    ads = Ads(kit, s1)
    service = SteeringService(Fabric([s1.conn]), _config(path))
    service.start()
    x = np.random.default_rng(1).integers(0, 256, size=4)
    hidden = forward_int(model, x, 0, 2)  # the activations after layers 0 and 1
    try:
        kit.wait_for(lambda: service.weights("s1") == {1: {2: 8, 4: 7}}, what="weights")
        s1.drain()
        msg = _one(s1, kit, x, 1)
        assert msg.header.stage == 2 and msg.vector == _vector(hidden)
        # The policy is the same wherever the layers run: raw inputs to 2, activations to
        # 2 or 4; the data plane tells them apart by the stage.
        policies = [{"tenant": 7, "sensitivity": 1, "allowed": [2, 4], "allowed_raw": [2]}]
        assert service.status()["switches"]["s1"]["policies"] == policies
        # Only activations leave s1: the sensitive tenant may use the cloud instance too.
        sensitive = [_one(s1, kit, x, 10 + k, sport=41100 + k, **SENSITIVE) for k in range(24)]
        assert {m.header.stage for m in sensitive} == {2}
        assert {m.header.instance_id for m in sensitive} == {2, 4}

        service.move(1, 1, "test")
        msg = _one(s1, kit, x, 2)
        assert msg.header.stage == 0 and msg.vector == _vector(x)
        assert service.status()["switches"]["s1"]["policies"] == policies
        # Now its raw inputs leave s1: on premises only (4's share re-steered to 2).
        sensitive = [_one(s1, kit, x, 40 + k, sport=41100 + k, **SENSITIVE) for k in range(24)]
        assert {m.header.stage for m in sensitive} == {0}
        assert {m.header.instance_id for m in sensitive} == {2}
        assert any(m.header.flags & 0x04 for m in sensitive)
        roles = list(s1.conn.read_entities([pe.TableEntry("MyIngress.mlp_role")]))
        assert roles == []

        service.move(1, 0, "test")
        msg = _one(s1, kit, x, 3)
        assert msg.header.stage == 2
        assert service.status()["partitions"] == [
            {"model_id": 1, "placement": "s1", "placements": ["s1", "nodes"], "moves": 2}
        ]
        assert [d.kind for d in service.decisions].count("move") == 2
    finally:
        service.stop()
        ads.close()


def test_no_request_is_lost_while_layers_move(make_switch: Any, kit: Any, model_file: Any) -> None:
    path, model = model_file
    s1 = make_switch("s1")
    ads = Ads(kit, s1)
    service = SteeringService(Fabric([s1.conn]), _config(path))
    service.start()
    got: dict[int, Any] = {}
    stop = threading.Event()

    def collect() -> None:
        while not stop.is_set() or len(got) < sent:
            out = s1.take_any((2, 4), timeout=0.5)
            if out is not None:
                got[out[1].header.request_id] = out[1]
            elif stop.is_set():
                break

    sent = 0
    try:
        kit.wait_for(lambda: service.weights("s1") == {1: {2: 8, 4: 7}}, what="weights")
        s1.drain()
        reader = threading.Thread(target=collect, daemon=True)
        reader.start()
        xs = np.random.default_rng(2).integers(0, 256, size=(400, 4))
        for k, x in enumerate(xs):
            frame = kit.request_frame(1, sport=42000 + k % 50, request_id=k + 1, vector=_vector(x))
            s1.inject(1, frame)
            sent += 1
            if k in (100, 200, 300):
                service.move(1, (k // 100) % 2, "during traffic")
            time.sleep(0.001)
        stop.set()
        reader.join(10)
        assert len(got) == sent
        for rid, msg in got.items():
            x = xs[rid - 1]
            want = x if msg.header.stage == 0 else forward_int(model, x, 0, 2)
            assert msg.header.stage in (0, 2) and msg.vector == _vector(want)
        stages = {msg.header.stage for msg in got.values()}
        assert stages == {0, 2}
    finally:
        stop.set()
        service.stop()
        ads.close()


def test_an_overloaded_switch_gives_its_layers_away_and_takes_them_back(
    make_switch: Any, kit: Any, model_file: Any
) -> None:
    path, _ = model_file
    s1 = make_switch("s1")
    ads = Ads(kit, s1)
    cfg = _config(
        path,
        partitions=(
            PartitionSpec(
                1,
                str(path),
                (ON_SWITCH, ON_NODES),
                overload_recirc_per_s=50,
                recover_fraction=0.5,
                hold_s=0.3,
            ),
        ),
    )
    service = SteeringService(Fabric([s1.conn]), cfg)
    service.start()
    try:
        kit.wait_for(lambda: service.weights("s1") == {1: {2: 8, 4: 7}}, what="weights")
        deadline = time.monotonic() + 5
        k = 0
        while service.repartitioner.placement(1).switch is not None:  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the layers never moved"
            s1.inject(1, kit.request_frame(1, sport=43000 + k % 50, request_id=k + 1))
            k += 1
            time.sleep(0.005)  # ~200 requests/s: 200 recirculations/s on s1
        moved = [d.detail for d in service.decisions if d.kind == "move"]
        assert "s1 -> nodes" in moved[0] and "recirculates" in moved[0]
        # Traffic stops: s1's request rate falls below half of what made it move.
        kit.wait_for(
            lambda: [d.kind for d in service.decisions].count("move") == 2,
            timeout=5,
            what="the layers to come back",
        )
        moved = [d.detail for d in service.decisions if d.kind == "move"]
        assert "nodes -> s1" in moved[-1]
        assert service.repartitioner.placement(1).switch == "s1"  # type: ignore[union-attr]
        assert service.status()["switches"]["s1"]["load"]["requests_per_s"] < 50
    finally:
        service.stop()
        ads.close()
