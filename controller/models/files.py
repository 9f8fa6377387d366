"""Model files: one zip archive (a ``.npz``) holding ``.npy`` arrays and ``model.json``.

The manifest ``model.json`` carries name, kind (``mlp``, ``tree``, ``forest``),
version, classes, what data created the model, and the structure: for an MLP
the input spec and per-layer shapes, activation, shift and scales; for trees
the feature specs and per-tree node counts. Arrays follow fixed names:

- mlp: ``layers.<i>.weight`` int8 (inputs, outputs), ``layers.<i>.bias`` int32
  (outputs,), ``layers.<i>.float_weight``, ``layers.<i>.float_bias`` float64;
- tree/forest: ``features.<i>.thresholds`` int64 (sorted integers),
  ``trees.<t>.<field>`` for feature, threshold, code, left, right, leaf_class
  (int64 or float64, one per node) and value float64 (nodes, classes).

An early-exit head also records ``shared`` (the model and number of leading
layers it shares, bit-identical) and ``exit_thresholds`` (per class: answer
where confidence >= threshold; 256 never answers).

Loading validates everything and raises ``ModelError`` naming the field, e.g.
``m.npz: model.json: layers[1].shift: expected an int in 0..31, got 40``.
Imports numpy and the standard library only.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import tempfile
import zipfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import numpy as np

from controller.models.errors import ModelError
from controller.models.features import FeatureSpec
from controller.models.quant import (
    ACTIVATIONS,
    INT32_MAX,
    MAX_SHIFT,
    NEVER_EXIT,
    OUT_MAX,
    MLPModel,
    QuantLayer,
)
from controller.models.trees import LEAF, TREE_KINDS, FeatureCodes, ForestModel, Tree

log = logging.getLogger(__name__)

FORMAT = "din-model"
FORMAT_VERSION = 1
MANIFEST = "model.json"
KINDS = ("mlp", *TREE_KINDS)
MAX_VERSION = 0xFFFF  # the data plane keys tables by a 16-bit model version
TREE_INT_FIELDS = ("feature", "code", "left", "right", "leaf_class")
QUANTIZATION = {
    "input": "uint8",
    "weight": "int8",
    "bias": "int32",
    "accumulator": "int32",
    "requantize": "negative to 0, right shift, clamp to 255",
}

Model = MLPModel | ForestModel


def _array_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
    return buf.getvalue()


def _mlp_manifest(model: MLPModel) -> tuple[dict[str, object], dict[str, np.ndarray]]:
    arrays: dict[str, np.ndarray] = {}
    layers = []
    for i, layer in enumerate(model.layers):
        layers.append(
            {
                "inputs": layer.inputs,
                "outputs": layer.outputs,
                "activation": layer.activation,
                "shift": layer.shift,
                "weight_scale": layer.weight_scale,
                "out_scale": layer.out_scale,
                "zero_point": layer.zero_point,
            }
        )
        arrays[f"layers.{i}.weight"] = layer.weight.astype(np.int8)
        arrays[f"layers.{i}.bias"] = layer.bias.astype(np.int32)
        arrays[f"layers.{i}.float_weight"] = layer.float_weight.astype(np.float64)
        arrays[f"layers.{i}.float_bias"] = layer.float_bias.astype(np.float64)
    manifest: dict[str, object] = {
        "input": {"size": model.input_size, "dtype": "uint8", "scale": model.input_scale},
        "quantization": dict(QUANTIZATION),
        "layers": layers,
    }
    if model.shared_layers:
        manifest["shared"] = {"model": model.shared_with, "layers": model.shared_layers}
    if model.exit_thresholds:
        manifest["exit_thresholds"] = list(model.exit_thresholds)
    return manifest, arrays


def _forest_manifest(model: ForestModel) -> tuple[dict[str, object], dict[str, np.ndarray]]:
    arrays: dict[str, np.ndarray] = {}
    for i, feat in enumerate(model.features):
        arrays[f"features.{i}.thresholds"] = feat.thresholds.astype(np.int64)
    for t, tree in enumerate(model.trees):
        for field in (*TREE_INT_FIELDS, "threshold", "value"):
            arrays[f"trees.{t}.{field}"] = np.asarray(getattr(tree, field))
    manifest: dict[str, object] = {
        "features": [
            {"name": f.spec.name, "bits": f.spec.bits, "codes": f.codes} for f in model.features
        ],
        "trees": [{"nodes": t.nodes, "depth": t.depth()} for t in model.trees],
    }
    return manifest, arrays


def save_model(model: Model, path: str | os.PathLike[str]) -> None:
    """Write ``model`` to ``path`` atomically (a temp file renamed into place)."""
    if isinstance(model, MLPModel):
        body, arrays = _mlp_manifest(model)
        kind = "mlp"
    else:
        body, arrays = _forest_manifest(model)
        kind = model.kind
    manifest: dict[str, object] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": model.name,
        "kind": kind,
        "version": model.version,
        "classes": list(model.classes),
        "created": {"at": datetime.now(UTC).isoformat(timespec="seconds"), "data": model.data},
        **body,
    }
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(MANIFEST, json.dumps(manifest, indent=2, sort_keys=False) + "\n")
            for key, arr in arrays.items():
                zf.writestr(f"{key}.npy", _array_bytes(arr))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    log.info("wrote %s model %r to %s", kind, model.name, target)


class _Checker:
    """Reads manifest fields and arrays, raising ModelError that names the field."""

    def __init__(self, source: str, arrays: Mapping[str, np.ndarray]) -> None:
        self.source = source
        self.arrays = arrays

    def fail(self, where: str, expected: str, got: object) -> NoReturn:
        raise ModelError(f"{self.source}: {MANIFEST}: {where}: expected {expected}, got {got!r}")

    def obj(self, data: object, where: str) -> dict[str, object]:
        if not isinstance(data, dict):
            self.fail(where, "an object", data)
        return data

    def field(self, data: Mapping[str, object], key: str, where: str) -> object:
        if key not in data:
            at = f"{where}: " if where else ""
            raise ModelError(f"{self.source}: {MANIFEST}: {at}missing field {key!r}")
        return data[key]

    def int_(self, data: Mapping[str, object], key: str, where: str, lo: int, hi: int) -> int:
        value = self.field(data, key, where)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            self.fail(f"{where}.{key}" if where else key, f"an int in {lo}..{hi}", value)
        return value

    def str_(
        self, data: Mapping[str, object], key: str, where: str, choices: tuple[str, ...] = ()
    ) -> str:
        value = self.field(data, key, where)
        path = f"{where}.{key}" if where else key
        if choices and value not in choices:
            self.fail(path, f"one of {', '.join(map(repr, choices))}", value)
        if not isinstance(value, str) or not value:
            self.fail(path, "a non-empty string", value)
        return value

    def positive(self, data: Mapping[str, object], key: str, where: str) -> float:
        value = self.field(data, key, where)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(float(value)) or float(value) <= 0.0:  # type: ignore[arg-type]
            self.fail(f"{where}.{key}" if where else key, "a positive number", value)
        return float(value)  # type: ignore[arg-type]

    def list_(self, data: Mapping[str, object], key: str, where: str) -> list[object]:
        value = self.field(data, key, where)
        if not isinstance(value, list) or not value:
            self.fail(f"{where}.{key}" if where else key, "a non-empty list", value)
        return value

    def array(self, key: str, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
        if key not in self.arrays:
            raise ModelError(f"{self.source}: missing array {key!r}")
        arr = self.arrays[key]
        if arr.dtype != np.dtype(dtype) or arr.shape != shape:
            raise ModelError(
                f"{self.source}: array {key!r}: expected {dtype} of shape {shape}, "
                f"got {arr.dtype} of shape {arr.shape}"
            )
        return arr

    def finite(self, key: str, shape: tuple[int, ...]) -> np.ndarray:
        arr = self.array(key, "float64", shape)
        bad = np.flatnonzero(~np.isfinite(arr.reshape(-1)))
        if bad.size:
            self.array_fail(key, int(bad[0]), "a finite number", float(arr.reshape(-1)[bad[0]]))
        return arr

    def array_fail(self, key: str, index: int, expected: str, got: object) -> NoReturn:
        raise ModelError(f"{self.source}: array {key!r}[{index}]: expected {expected}, got {got!r}")


def _load_mlp(
    c: _Checker, m: dict[str, object], name: str, version: int, classes: tuple[str, ...]
) -> MLPModel:
    spec = c.obj(c.field(m, "input", ""), "input")
    size = c.int_(spec, "size", "input", 1, 1 << 16)
    c.str_(spec, "dtype", "input", ("uint8",))
    input_scale = c.positive(spec, "scale", "input")
    quant = c.obj(c.field(m, "quantization", ""), "quantization")
    for key, expected in QUANTIZATION.items():
        if quant.get(key) != expected:
            c.fail(f"quantization.{key}", repr(expected), quant.get(key))
    raw_layers = c.list_(m, "layers", "")
    layers: list[QuantLayer] = []
    prev_out, prev_where = size, "input.size"
    for i, raw in enumerate(raw_layers):
        where = f"layers[{i}]"
        entry = c.obj(raw, where)
        n_in = c.int_(entry, "inputs", where, 1, 1 << 16)
        n_out = c.int_(entry, "outputs", where, 1, 1 << 16)
        if n_in != prev_out:
            c.fail(f"{where}.inputs", f"{prev_out} ({prev_where})", n_in)
        last = i == len(raw_layers) - 1
        activation = c.str_(entry, "activation", where, ACTIVATIONS)
        wanted = "linear" if last else "relu"
        if activation != wanted:
            kind = "the output layer" if last else "a hidden layer"
            c.fail(f"{where}.activation", f"{wanted!r} for {kind}", activation)
        shift = c.int_(entry, "shift", where, 0, MAX_SHIFT)
        weight_scale = c.positive(entry, "weight_scale", where)
        out_scale = c.positive(entry, "out_scale", where)
        zero_point = c.int_(entry, "zero_point", where, 0, OUT_MAX)
        weight = c.array(f"layers.{i}.weight", "int8", (n_in, n_out))
        bias = c.array(f"layers.{i}.bias", "int32", (n_out,))
        worst = OUT_MAX * np.abs(weight.astype(np.int64)).sum(axis=0)
        worst += np.abs(bias.astype(np.int64))
        if worst.max() > INT32_MAX:
            j = int(np.argmax(worst))
            raise ModelError(
                f"{c.source}: layers[{i}]: output {j} can reach |{int(worst[j])}|: "
                "expected weights and bias that keep the accumulator within int32"
            )
        layers.append(
            QuantLayer(
                weight=weight,
                bias=bias,
                shift=shift,
                activation=activation,
                weight_scale=weight_scale,
                out_scale=out_scale,
                float_weight=c.finite(f"layers.{i}.float_weight", (n_in, n_out)),
                float_bias=c.finite(f"layers.{i}.float_bias", (n_out,)),
                zero_point=zero_point,
            )
        )
        prev_out, prev_where = n_out, f"layers[{i}].outputs"
    if prev_out != len(classes):
        c.fail(f"layers[{len(layers) - 1}].outputs", f"{len(classes)} (one per class)", prev_out)
    shared_layers, shared_with = 0, ""
    if "shared" in m:
        shared = c.obj(m["shared"], "shared")
        shared_with = c.str_(shared, "model", "shared")
        shared_layers = c.int_(shared, "layers", "shared", 1, len(layers) - 1)
    exit_thresholds: tuple[int, ...] = ()
    if "exit_thresholds" in m:
        raw_exits = c.list_(m, "exit_thresholds", "")
        if len(raw_exits) != len(classes):
            c.fail("exit_thresholds", f"{len(classes)} values (one per class)", raw_exits)
        limits = []
        for i, value in enumerate(raw_exits):
            if isinstance(value, bool) or not isinstance(value, int):
                c.fail(f"exit_thresholds[{i}]", f"an int in 0..{NEVER_EXIT}", value)
            if not 0 <= value <= NEVER_EXIT:
                c.fail(f"exit_thresholds[{i}]", f"an int in 0..{NEVER_EXIT}", value)
            limits.append(value)
        exit_thresholds = tuple(limits)
    return MLPModel(
        name=name,
        version=version,
        classes=classes,
        input_scale=input_scale,
        layers=tuple(layers),
        data=_data(c, m),
        shared_layers=shared_layers,
        shared_with=shared_with,
        exit_thresholds=exit_thresholds,
    )


def _load_tree(
    c: _Checker, t: int, nodes: int, features: tuple[FeatureCodes, ...], n_classes: int
) -> Tree:
    prefix = f"trees.{t}"
    cols = {f: c.array(f"{prefix}.{f}", "int64", (nodes,)) for f in TREE_INT_FIELDS}
    threshold = c.finite(f"{prefix}.threshold", (nodes,))
    value = c.finite(f"{prefix}.value", (nodes, n_classes))
    for node in range(nodes):
        feat = int(cols["feature"][node])
        left, right = int(cols["left"][node]), int(cols["right"][node])
        if not 0 <= int(cols["leaf_class"][node]) < n_classes:
            c.array_fail(
                f"{prefix}.leaf_class",
                node,
                f"a class in 0..{n_classes - 1}",
                int(cols["leaf_class"][node]),
            )
        if feat == LEAF:
            if left != LEAF or right != LEAF:
                c.array_fail(f"{prefix}.left", node, "-1 and right -1 at a leaf", (left, right))
            continue
        if not 0 <= feat < len(features):
            c.array_fail(
                f"{prefix}.feature", node, f"-1 or a feature in 0..{len(features) - 1}", feat
            )
        # Children after their parent: the structure is a tree, never a cycle.
        for side, child in (("left", left), ("right", right)):
            if not node < child < nodes:
                c.array_fail(f"{prefix}.{side}", node, f"a node in {node + 1}..{nodes - 1}", child)
        cuts = features[feat].thresholds
        code = int(cols["code"][node])
        floor = math.floor(float(threshold[node]))
        if not 0 <= code < cuts.shape[0] or int(cuts[code]) != floor:
            idx = np.flatnonzero(cuts == floor)
            want = (
                f"{int(idx[0])} (threshold {floor} of feature {feat})"
                if idx.size
                else (f"a threshold in features.{feat}.thresholds (node threshold {floor})")
            )
            c.array_fail(f"{prefix}.code", node, want, code)
    return Tree(
        feature=cols["feature"],
        threshold=threshold,
        code=cols["code"],
        left=cols["left"],
        right=cols["right"],
        value=value,
        leaf_class=cols["leaf_class"],
    )


def _load_forest(
    c: _Checker,
    m: dict[str, object],
    name: str,
    *,
    kind: str,
    version: int,
    classes: tuple[str, ...],
) -> ForestModel:
    features: list[FeatureCodes] = []
    for i, raw in enumerate(c.list_(m, "features", "")):
        where = f"features[{i}]"
        entry = c.obj(raw, where)
        spec = FeatureSpec(c.str_(entry, "name", where), c.int_(entry, "bits", where, 1, 32))
        codes = c.int_(entry, "codes", where, 1, 1 << 16)
        key = f"features.{i}.thresholds"
        cuts = c.array(key, "int64", (codes - 1,))
        if cuts.size and (cuts[0] < 0 or cuts[-1] > spec.max_value):
            raise ModelError(
                f"{c.source}: array {key!r}: expected values in 0..{spec.max_value}, "
                f"got {int(cuts.min())!r}..{int(cuts.max())!r}"
            )
        if np.any(np.diff(cuts) <= 0):
            j = int(np.flatnonzero(np.diff(cuts) <= 0)[0]) + 1
            c.array_fail(
                key, j, f"a value above {int(cuts[j - 1])} (strictly increasing)", int(cuts[j])
            )
        features.append(FeatureCodes(spec, cuts))
    raw_trees = c.list_(m, "trees", "")
    if kind == "tree" and len(raw_trees) != 1:
        c.fail("trees", "exactly one tree for kind 'tree'", f"{len(raw_trees)} trees")
    trees = []
    for t, raw in enumerate(raw_trees):
        entry = c.obj(raw, f"trees[{t}]")
        nodes = c.int_(entry, "nodes", f"trees[{t}]", 1, 1 << 24)
        trees.append(_load_tree(c, t, nodes, tuple(features), len(classes)))
    return ForestModel(
        name=name,
        kind=kind,
        version=version,
        classes=classes,
        features=tuple(features),
        trees=tuple(trees),
        data=_data(c, m),
    )


def _data(c: _Checker, m: dict[str, object]) -> dict[str, object]:
    created = c.obj(c.field(m, "created", ""), "created")
    return c.obj(c.field(created, "data", "created"), "created.data")


def _read_archive(path: Path) -> tuple[dict[str, object], dict[str, np.ndarray]]:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if MANIFEST not in names:
                raise ModelError(f"{path}: missing {MANIFEST} (expected a DIN model file)")
            try:
                manifest = json.loads(zf.read(MANIFEST).decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ModelError(f"{path}: {MANIFEST}: invalid JSON: {exc}") from exc
            arrays = {}
            for member in names:
                if not member.endswith(".npy"):
                    continue
                try:
                    with zf.open(member) as fh:
                        arrays[member[: -len(".npy")]] = np.lib.format.read_array(
                            fh, allow_pickle=False
                        )
                except ValueError as exc:
                    raise ModelError(f"{path}: array {member!r}: unreadable: {exc}") from exc
    except OSError as exc:
        raise ModelError(f"{path}: cannot read model file: {exc.strerror or exc}") from exc
    except zipfile.BadZipFile as exc:
        raise ModelError(f"{path}: not a model file (expected a .npz zip archive): {exc}") from exc
    if not isinstance(manifest, dict):
        raise ModelError(
            f"{path}: {MANIFEST}: expected a JSON object, got {type(manifest).__name__}"
        )
    return manifest, arrays


def load_manifest(path: str | os.PathLike[str]) -> dict[str, object]:
    """The manifest of a model file, after validating the whole file."""
    manifest, _ = _read_archive(Path(path))
    load_model(path)
    return manifest


def load_model(path: str | os.PathLike[str]) -> Model:
    """Read and validate a model file; raises ``ModelError`` naming any bad field."""
    source = Path(path)
    manifest, arrays = _read_archive(source)
    c = _Checker(str(source), arrays)
    fmt = c.str_(manifest, "format", "")
    if fmt != FORMAT:
        c.fail("format", repr(FORMAT), fmt)
    format_version = manifest.get("format_version")
    if isinstance(format_version, bool) or format_version != FORMAT_VERSION:
        c.fail(
            "format_version",
            f"{FORMAT_VERSION} (the version this reader knows)",
            format_version,
        )
    name = c.str_(manifest, "name", "")
    kind = c.str_(manifest, "kind", "", KINDS)
    version = c.int_(manifest, "version", "", 0, MAX_VERSION)
    raw_classes = c.list_(manifest, "classes", "")
    for i, cls in enumerate(raw_classes):
        if not isinstance(cls, str) or not cls or cls in raw_classes[:i]:
            c.fail(f"classes[{i}]", "a unique non-empty string", cls)
    if len(raw_classes) < 2:
        c.fail("classes", "at least 2 classes", raw_classes)
    classes = tuple(str(x) for x in raw_classes)
    if kind == "mlp":
        model: Model = _load_mlp(c, manifest, name, version, classes)
    else:
        model = _load_forest(c, manifest, name, kind=kind, version=version, classes=classes)
    log.debug("loaded %s model %r from %s", kind, name, source)
    return model
