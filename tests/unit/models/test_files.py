"""Model files: round trips and every validation error."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from controller.models import ModelError
from controller.models.files import load_manifest, load_model, save_model
from controller.models.quant import FloatLayer, MLPModel, forward_int, quantize_mlp
from controller.models.synthetic import synthetic_flows
from controller.models.trees import ForestModel, predict_float, predict_int, train_trees

Manifest = dict[str, Any]
Arrays = dict[str, np.ndarray]


def small_mlp(shared: bool = False) -> MLPModel:
    rng = np.random.default_rng(0)
    floats = [
        FloatLayer(rng.normal(size=(4, 3)), rng.normal(size=3), "relu"),
        FloatLayer(rng.normal(size=(3, 3)), rng.normal(size=3), "relu"),
        FloatLayer(rng.normal(size=(3, 2)), rng.normal(size=2), "linear"),
    ]
    layers = quantize_mlp(floats, 1 / 255, rng.uniform(size=(50, 4)))
    return MLPModel(
        name="tiny",
        version=3,
        classes=("no", "yes"),
        input_scale=1 / 255,
        layers=layers,
        data={"name": "random", "seed": 0},
        shared_layers=1 if shared else 0,
        shared_with="other" if shared else "",
        exit_thresholds=(3, 256) if shared else (),
    )


def small_trees(kind: str) -> ForestModel:
    flows = synthetic_flows(10, 0)
    return train_trees(
        flows.features(), flows.labels, flows.classes, kind=kind, trees=3, max_depth=3
    )


@pytest.fixture(scope="module")
def mlp_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("files") / "mlp.npz"
    save_model(small_mlp(), path)
    return path


@pytest.fixture(scope="module")
def forest_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("files") / "forest.npz"
    save_model(small_trees("forest"), path)
    return path


def test_mlp_round_trip(tmp_path: Path) -> None:
    for shared in (False, True):
        model = small_mlp(shared)
        path = tmp_path / f"m{shared}.npz"
        save_model(model, path)
        loaded = load_model(path)
        assert isinstance(loaded, MLPModel)
        assert (loaded.name, loaded.version, loaded.classes) == ("tiny", 3, ("no", "yes"))
        assert (loaded.shared_layers, loaded.shared_with) == (
            model.shared_layers,
            model.shared_with,
        )
        assert loaded.exit_thresholds == model.exit_thresholds
        assert loaded.input_scale == model.input_scale
        assert loaded.data == model.data
        for a, b in zip(model.layers, loaded.layers, strict=True):
            assert np.array_equal(a.weight, b.weight) and a.weight.dtype == b.weight.dtype
            assert np.array_equal(a.bias, b.bias) and b.bias.dtype == np.int32
            assert np.array_equal(a.float_weight, b.float_weight)
            assert (a.shift, a.activation, a.weight_scale, a.out_scale) == (
                b.shift,
                b.activation,
                b.weight_scale,
                b.out_scale,
            )
        x = np.arange(40).reshape(10, 4) * 6
        assert np.array_equal(forward_int(model, x), forward_int(loaded, x))


@pytest.mark.parametrize("kind", ["tree", "forest"])
def test_tree_round_trip(tmp_path: Path, kind: str) -> None:
    model = small_trees(kind)
    save_model(model, tmp_path / "t.npz")
    loaded = load_model(tmp_path / "t.npz")
    assert isinstance(loaded, ForestModel)
    assert (loaded.kind, loaded.classes, len(loaded.trees)) == (
        kind,
        model.classes,
        len(model.trees),
    )
    for a, b in zip(model.features, loaded.features, strict=True):
        assert a.spec == b.spec and np.array_equal(a.thresholds, b.thresholds)
    x = synthetic_flows(5, 9).features()
    assert np.array_equal(predict_int(model, x)[0], predict_int(loaded, x)[0])
    assert np.array_equal(predict_float(model, x), predict_float(loaded, x))


def test_manifest_records_creation(mlp_file: Path) -> None:
    manifest = load_manifest(mlp_file)
    assert manifest["kind"] == "mlp"
    assert manifest["created"]["data"] == {"name": "random", "seed": 0}
    assert manifest["created"]["at"].endswith("+00:00")
    assert [layer["inputs"] for layer in manifest["layers"]] == [4, 3, 3]
    # The file is an ordinary .npz as far as numpy is concerned.
    with np.load(mlp_file) as npz:
        assert npz["layers.0.weight"].dtype == np.int8


def read(path: Path) -> tuple[Manifest, Arrays]:
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("model.json"))
        arrays = {
            name[:-4]: np.lib.format.read_array(io.BytesIO(zf.read(name)))
            for name in zf.namelist()
            if name.endswith(".npy")
        }
    return manifest, arrays


def write(path: Path, manifest: Any, arrays: Arrays) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("model.json", json.dumps(manifest))
        for key, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, arr, allow_pickle=True)
            zf.writestr(f"{key}.npy", buf.getvalue())


Mutation = Callable[[Manifest, Arrays], None]


def setter(path: str, value: Any) -> Mutation:
    """A mutation that sets (or, for value ``...``, deletes) one manifest field."""

    def mutate(manifest: Manifest, _arrays: Arrays) -> None:
        keys: list[Any] = [int(k) if k.isdigit() else k for k in path.split(".")]
        node: Any = manifest
        for key in keys[:-1]:
            node = node[key]
        if value is ...:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value

    return mutate


def array(name: str, value: np.ndarray | None) -> Mutation:
    def mutate(_manifest: Manifest, arrays: Arrays) -> None:
        if value is None:
            del arrays[name]
        else:
            arrays[name] = value

    return mutate


def poke(name: str, index: tuple[int, ...], value: float) -> Mutation:
    def mutate(_manifest: Manifest, arrays: Arrays) -> None:
        arrays[name] = arrays[name].copy()
        arrays[name][index] = value

    return mutate


MLP_CASES: list[tuple[str, Mutation, str]] = [
    ("format", setter("format", "onnx"), "model.json: format: expected 'din-model', got 'onnx'"),
    (
        "format_version",
        setter("format_version", 2),
        "format_version: expected 1 (the version this reader knows), got 2",
    ),
    ("name missing", setter("name", ...), "model.json: missing field 'name'"),
    ("name empty", setter("name", ""), "name: expected a non-empty string, got ''"),
    ("kind", setter("kind", "cnn"), "kind: expected one of 'mlp', 'tree', 'forest', got 'cnn'"),
    ("version bool", setter("version", True), "version: expected an int in 0..65535, got True"),
    ("version range", setter("version", 70000), "version: expected an int in 0..65535, got 70000"),
    ("classes empty", setter("classes", []), "classes: expected a non-empty list, got []"),
    ("classes one", setter("classes", ["a"]), "classes: expected at least 2 classes, got ['a']"),
    (
        "classes dup",
        setter("classes", ["a", "a"]),
        "classes[1]: expected a unique non-empty string",
    ),
    (
        "classes type",
        setter("classes", ["a", 3]),
        "classes[1]: expected a unique non-empty string, got 3",
    ),
    ("created", setter("created", ...), "missing field 'created'"),
    ("created.data", setter("created.data", [1]), "created.data: expected an object, got [1]"),
    ("input", setter("input", 16), "input: expected an object, got 16"),
    ("input.size", setter("input.size", 0), "input.size: expected an int in 1..65536, got 0"),
    (
        "input.dtype",
        setter("input.dtype", "int8"),
        "input.dtype: expected one of 'uint8', got 'int8'",
    ),
    ("input.scale", setter("input.scale", -1), "input.scale: expected a positive number, got -1"),
    (
        "input.scale nan",
        setter("input.scale", "x"),
        "input.scale: expected a positive number, got 'x'",
    ),
    (
        "quantization",
        setter("quantization.weight", "int4"),
        "quantization.weight: expected 'int8', got 'int4'",
    ),
    ("layers empty", setter("layers", []), "layers: expected a non-empty list, got []"),
    ("layer type", setter("layers.1", "dense"), "layers[1]: expected an object, got 'dense'"),
    (
        "shift",
        setter("layers.1.shift", 40),
        "model.json: layers[1].shift: expected an int in 0..31, got 40",
    ),
    ("shift missing", setter("layers.1.shift", ...), "layers[1]: missing field 'shift'"),
    (
        "inputs",
        setter("layers.1.inputs", 8),
        "layers[1].inputs: expected 3 (layers[0].outputs), got 8",
    ),
    ("first inputs", setter("input.size", 5), "layers[0].inputs: expected 5 (input.size), got 4"),
    (
        "activation",
        setter("layers.0.activation", "tanh"),
        "layers[0].activation: expected one of 'relu', 'linear', got 'tanh'",
    ),
    (
        "hidden linear",
        setter("layers.0.activation", "linear"),
        "layers[0].activation: expected 'relu' for a hidden layer, got 'linear'",
    ),
    (
        "output relu",
        setter("layers.2.activation", "relu"),
        "layers[2].activation: expected 'linear' for the output layer, got 'relu'",
    ),
    (
        "weight_scale",
        setter("layers.1.weight_scale", 0),
        "layers[1].weight_scale: expected a positive number, got 0",
    ),
    (
        "out_scale",
        setter("layers.2.out_scale", None),
        "layers[2].out_scale: expected a positive number, got None",
    ),
    (
        "classes vs outputs",
        setter("classes", ["a", "b", "c"]),
        "layers[2].outputs: expected 3 (one per class), got 2",
    ),
    (
        "shared",
        setter("shared", {"model": "x", "layers": 3}),
        "shared.layers: expected an int in 1..2, got 3",
    ),
    (
        "shared model",
        setter("shared", {"model": "", "layers": 1}),
        "shared.model: expected a non-empty string",
    ),
    (
        "exit count",
        setter("exit_thresholds", [1]),
        "exit_thresholds: expected 2 values (one per class), got [1]",
    ),
    (
        "exit range",
        setter("exit_thresholds", [1, 257]),
        "exit_thresholds[1]: expected an int in 0..256, got 257",
    ),
    (
        "exit type",
        setter("exit_thresholds", [True, 0]),
        "exit_thresholds[0]: expected an int in 0..256, got True",
    ),
    (
        "zero point",
        setter("layers.2.zero_point", 300),
        "layers[2].zero_point: expected an int in 0..255, got 300",
    ),
    ("missing array", array("layers.1.bias", None), "missing array 'layers.1.bias'"),
    (
        "float nan",
        poke("layers.1.float_weight", (2, 1), float("nan")),
        "array 'layers.1.float_weight'[7]: expected a finite number, got nan",
    ),
    (
        "weight dtype",
        array("layers.0.weight", np.zeros((4, 3), dtype=np.int16)),
        "array 'layers.0.weight': expected int8 of shape (4, 3), got int16 of shape (4, 3)",
    ),
    (
        "bias shape",
        array("layers.2.bias", np.zeros(5, dtype=np.int32)),
        "array 'layers.2.bias': expected int32 of shape (2,), got int32 of shape (5,)",
    ),
    (
        "float weight",
        array("layers.0.float_weight", np.zeros((4, 3), dtype=np.float32)),
        "array 'layers.0.float_weight': expected float64 of shape (4, 3)",
    ),
    (
        "overflow",
        poke("layers.1.bias", (0,), 2**31 - 1),
        "layers[1]: output 0 can reach |",
    ),
    (
        "pickled array",
        array("layers.0.weight", np.array([object()])),
        "array 'layers.0.weight.npy': unreadable",
    ),
]


def check(src: Path, tmp_path: Path, mutate: Mutation, message: str) -> None:
    manifest, arrays = read(src)
    mutate(manifest, arrays)
    bad = tmp_path / "bad.npz"
    write(bad, manifest, arrays)
    with pytest.raises(ModelError) as info:
        load_model(bad)
    text = str(info.value)
    assert text.startswith(str(bad) + ": ")
    assert message in text


@pytest.mark.parametrize(("case", "mutate", "message"), MLP_CASES, ids=[c[0] for c in MLP_CASES])
def test_mlp_validation(
    mlp_file: Path, tmp_path: Path, case: str, mutate: Mutation, message: str
) -> None:
    check(mlp_file, tmp_path, mutate, message)


TREE_CASES: list[tuple[str, Mutation, str]] = [
    ("features empty", setter("features", []), "features: expected a non-empty list"),
    (
        "feature name",
        setter("features.0.name", 7),
        "features[0].name: expected a non-empty string, got 7",
    ),
    ("bits", setter("features.0.bits", 40), "features[0].bits: expected an int in 1..32, got 40"),
    (
        "codes",
        setter("features.1.codes", 1000),
        "array 'features.1.thresholds': expected int64 of shape (999,)",
    ),
    ("trees empty", setter("trees", []), "trees: expected a non-empty list"),
    (
        "kind tree",
        setter("kind", "tree"),
        "trees: expected exactly one tree for kind 'tree', got '3 trees'",
    ),
    ("nodes", setter("trees.0.nodes", 0), "trees[0].nodes: expected an int in 1..16777216, got 0"),
    (
        "threshold range",
        lambda m, a: poke(f"features.{first_cut(a)}.thresholds", (0,), -1)(m, a),
        "thresholds': expected values in 0..",
    ),
    (
        "leaf children",
        lambda m, a: poke("trees.0.left", (leaf_of(a, 0),), 1)(m, a),
        "expected -1 and right -1 at a leaf",
    ),
    (
        "child order",
        poke("trees.0.left", (0,), 0),
        "array 'trees.0.left'[0]: expected a node in 1..",
    ),
    (
        "feature index",
        poke("trees.0.feature", (0,), 12),
        "array 'trees.0.feature'[0]: expected -1 or a feature in 0..11, got 12",
    ),
    (
        "code",
        lambda m, a: poke("trees.0.code", (0,), int(a["trees.0.code"][0]) + 1)(m, a),
        "array 'trees.0.code'[0]: expected",
    ),
    (
        "threshold inf",
        poke("trees.0.threshold", (0,), float("inf")),
        "array 'trees.0.threshold'[0]: expected a finite number, got inf",
    ),
    (
        "leaf class",
        poke("trees.1.leaf_class", (0,), 5),
        "array 'trees.1.leaf_class'[0]: expected a class in 0..4, got 5",
    ),
    (
        "value shape",
        lambda m, a: array("trees.2.value", a["trees.2.value"][:, :3].copy())(m, a),
        "array 'trees.2.value': expected float64 of shape",
    ),
]


def first_cut(arrays: Arrays) -> int:
    """Index of the first feature with thresholds."""
    return next(i for i in range(12) if arrays[f"features.{i}.thresholds"].size)


def leaf_of(arrays: Arrays, tree: int) -> int:
    return int(np.flatnonzero(arrays[f"trees.{tree}.feature"] == -1)[0])


def test_threshold_order(forest_file: Path, tmp_path: Path) -> None:
    manifest, arrays = read(forest_file)
    index = next(i for i, f in enumerate(manifest["features"]) if f["codes"] >= 3)
    key = f"features.{index}.thresholds"
    cuts = arrays[key].copy()
    cuts[1] = cuts[0]
    arrays[key] = cuts
    write(tmp_path / "bad.npz", manifest, arrays)
    with pytest.raises(ModelError, match=rf"array '{key}'\[1\]: expected a value above .*strictly"):
        load_model(tmp_path / "bad.npz")


@pytest.mark.parametrize(("case", "mutate", "message"), TREE_CASES, ids=[c[0] for c in TREE_CASES])
def test_tree_validation(
    forest_file: Path, tmp_path: Path, case: str, mutate: Mutation, message: str
) -> None:
    check(forest_file, tmp_path, mutate, message)


def test_not_a_model_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"missing\.npz: cannot read model file: No such file"):
        load_model(tmp_path / "missing.npz")
    (tmp_path / "text.npz").write_bytes(b"hello")
    with pytest.raises(ModelError, match=r"not a model file \(expected a \.npz zip archive\)"):
        load_model(tmp_path / "text.npz")
    with zipfile.ZipFile(tmp_path / "empty.npz", "w") as zf:
        zf.writestr("a.npy", b"")
    with pytest.raises(ModelError, match=r"missing model\.json"):
        load_model(tmp_path / "empty.npz")
    with zipfile.ZipFile(tmp_path / "json.npz", "w") as zf:
        zf.writestr("model.json", "{nope")
    with pytest.raises(ModelError, match=r"model\.json: invalid JSON"):
        load_model(tmp_path / "json.npz")
    write(tmp_path / "list.npz", [1, 2], {})
    with pytest.raises(ModelError, match=r"model\.json: expected a JSON object, got list"):
        load_model(tmp_path / "list.npz")


def test_save_is_atomic_on_failure(tmp_path: Path) -> None:
    model = small_mlp()
    target = tmp_path / "m.npz"
    save_model(model, target)
    before = target.read_bytes()
    broken = MLPModel("tiny", 1, ("a", "b"), 1.0, model.layers, {"bad": object()})
    with pytest.raises(TypeError):
        save_model(broken, target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]
