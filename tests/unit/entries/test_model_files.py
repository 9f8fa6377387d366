"""Models saved to and loaded from model files give the same entries, and a whole
switch's entries survive an sN-runtime.json round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from controller.entries import classifier, mlp, runtime_json, steering
from controller.entries.schema import check_capacity, check_entries
from controller.entries.simulator import TableSim, classify, mlp_layer
from controller.entries.types import TableEntry
from controller.models.datasets import digits16
from controller.models.files import load_model, save_model
from controller.models.mlp import train_mlp
from controller.models.quant import MLPModel
from controller.models.synthetic import flow_dataset
from controller.models.trees import ForestModel, train_flow_classifier


def test_forest_file_round_trip_keeps_entries(tmp_path: Path) -> None:
    split = flow_dataset(30, seed=1)
    model = train_flow_classifier(split, trees=4, max_depth=4)
    path = tmp_path / "flows.dinm"
    save_model(model, path)
    loaded = load_model(path)
    assert isinstance(loaded, ForestModel)
    assert classifier.forest_entries(loaded, 3) == classifier.forest_entries(model, 3)


def test_mlp_file_round_trip_keeps_entries(tmp_path: Path) -> None:
    model = train_mlp(digits16(0, limit=300), seed=0, max_iter=50)
    path = tmp_path / "digits.dinm"
    save_model(model, path)
    loaded = load_model(path)
    assert isinstance(loaded, MLPModel)
    assert mlp.model_entries(loaded, 2) == mlp.model_entries(model, 2)


def test_whole_switch_through_runtime_json(tmp_path: Path) -> None:
    split = flow_dataset(30, seed=2)
    forest = train_flow_classifier(split, trees=4, max_depth=4)
    weights = np.arange(-8, 8).reshape(4, 4)
    layer = mlp.IntLayer(weights, np.array([3, -3, 100, -100]), 2)
    plan = steering.Plan(
        instances=(steering.Instance(1, "10.0.2.2"),),
        routes=(steering.Route("10.0.0.0/8", "08:00:00:00:02:22", "08:00:00:00:01:00", 1),),
        policies=(steering.Policy(1, 1, (1,)),),
        qos={2: 46},
    )
    entries: list[TableEntry] = [
        *classifier.forest_entries(forest, 0),
        *classifier.phase_entries(0, 1, None),
        *mlp.layer_entries(9, 1, 0, layer),
        *[e for e in steering.plan_entries(plan) if isinstance(e, TableEntry)],
    ]
    check_entries(entries)
    check_capacity(entries)
    path = tmp_path / "s1-runtime.json"
    runtime_json.write(path, entries)
    back = runtime_json.read(path).entries
    assert back == tuple(entries)
    before, after = TableSim(entries), TableSim(back)
    x = np.asarray(split.x_test, dtype=np.int64)
    for feats in x:
        vals = [int(v) for v in feats]
        vals[3] = max(vals[3], 1)
        assert classify(before, vals) == classify(after, vals)
    vec = [7, 200, 0, 31] + [0] * 12
    assert mlp_layer(before, 9, 1, 0, vec) == mlp_layer(after, 9, 1, 0, vec)
