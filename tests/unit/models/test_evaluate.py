"""Scores, data-set reconstruction and the package's import boundary."""

from __future__ import annotations

import ast
import dataclasses
import sys
from pathlib import Path

import pytest

import controller.models
from controller.models import ModelError
from controller.models.evaluate import dataset_for, score
from controller.models.features import FEATURE_NAMES
from controller.models.synthetic import flow_dataset
from controller.models.trees import train_flow_classifier


def test_score_hand_computed() -> None:
    # class 0: tp 2, fp 1, fn 0 -> F1 0.8; class 1: tp 1, fp 0, fn 1 -> F1 2/3; class 2 absent -> 0
    result = score([0, 0, 1, 1], [0, 0, 1, 0], 3)
    assert result.accuracy == 0.75
    assert result.per_class_f1 == pytest.approx((0.8, 2 / 3, 0.0))
    assert result.macro_f1 == pytest.approx((0.8 + 2 / 3) / 3)
    with pytest.raises(ModelError, match=r"predictions of shape \(1,\)"):
        score([0, 1], [0], 2)


@pytest.mark.parametrize(("limit", "low"), [(None, None), (3, None), (3, 1)])
def test_dataset_for_rebuilds_the_split(limit: int | None, low: int | None) -> None:
    split = flow_dataset(20, 5, packet_limit=limit, min_packets=low)
    model = train_flow_classifier(
        split, kind="tree", flows_per_class=20, packet_limit=limit, min_packets=low
    )
    assert model.data.get("packet_limit") == limit
    assert model.data.get("min_packets") == low
    again = dataset_for(model)
    assert (again.x_test == split.x_test).all()
    assert (again.y_test == split.y_test).all()
    if limit is not None:
        assert again.x_test[:, FEATURE_NAMES.index("pkts")].max() == limit


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "mnist"}, "created.data.name 'mnist': expected one of digits16, synthetic-flows"),
        ({"name": "digits16", "seed": "1"}, "created.data.seed '1': expected an int"),
        (
            {"name": "digits16", "seed": 1, "test_fraction": None},
            "created.data.test_fraction None: expected a number",
        ),
        (
            {"name": "synthetic-flows", "seed": 1, "test_fraction": 0.2},
            "created.data.flows_per_class None: expected an int",
        ),
    ],
)
def test_dataset_for_names_bad_records(data: dict[str, object], message: str) -> None:
    model = train_flow_classifier(flow_dataset(10, 0), kind="tree", flows_per_class=10)
    with pytest.raises(ModelError, match=message):
        dataset_for(dataclasses.replace(model, data=data))


ALLOWED_ROOTS = {"numpy", "sklearn", "controller"}


def test_models_imports_only_numpy_sklearn_and_stdlib() -> None:
    package = Path(controller.models.__file__).parent
    for source in sorted(package.glob("*.py")):
        tree = ast.parse(source.read_text(), str(source))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                root = name.split(".")[0]
                assert root in ALLOWED_ROOTS or root in sys.stdlib_module_names, (source, name)
                if root == "controller":
                    assert name.startswith("controller.models"), (source, name)
