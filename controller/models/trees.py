"""Decision-tree and random-forest flow classifiers over quantized feature codes.

A switch maps each feature value to a small code (the data plane's "bin") with
range tables, then matches the trees on codes. The thresholds of those range
tables are the trees' own split points (rounded down to integers, since
features are integers), so ``x <= t`` holds exactly when ``code(x) <= index(t)``:
quantization loses nothing the trees use. The leaves vote with 0..255 class
scores as in p4src/README.md ("Classification: encoded forest").
Imports numpy and the standard library; scikit-learn only when training.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from controller.models.datasets import Split
from controller.models.errors import ModelError
from controller.models.features import FLOW_FEATURES, FeatureSpec

log = logging.getLogger(__name__)

TREE_KINDS = ("tree", "forest")
LEAF = -1
LEAF_SCORE_MAX = 255
# p4src: confidence = winning sum >> 2, the mean leaf score over its 4 tree tables.
CONFIDENCE_SHIFT = 2
DEFAULT_TREES = 4  # the data plane has 4 tree tables


@dataclass(frozen=True, slots=True, eq=False)
class Tree:
    """One tree as node arrays; leaves have ``feature == -1`` and no children."""

    feature: npt.NDArray[np.int64]
    threshold: npt.NDArray[np.float64]  # go left iff value <= threshold
    code: npt.NDArray[np.int64]  # go left iff code(value) <= code
    left: npt.NDArray[np.int64]
    right: npt.NDArray[np.int64]
    value: npt.NDArray[np.float64]  # class fractions per node (nodes x classes)
    leaf_class: npt.NDArray[np.int64]

    @property
    def nodes(self) -> int:
        """Number of nodes."""
        return int(self.feature.shape[0])

    def depth(self) -> int:
        """Longest root-to-leaf path in edges."""
        depths = np.zeros(self.nodes, dtype=np.int64)
        for node in range(self.nodes):  # sklearn numbers parents before children
            if self.feature[node] != LEAF:
                depths[self.left[node]] = depths[self.right[node]] = depths[node] + 1
        return int(depths.max())


@dataclass(frozen=True, slots=True, eq=False)
class FeatureCodes:
    """A feature's integer thresholds: code(x) = number of thresholds below x."""

    spec: FeatureSpec
    thresholds: npt.NDArray[np.int64]  # sorted, unique

    @property
    def codes(self) -> int:
        """Number of distinct codes (thresholds + 1)."""
        return int(self.thresholds.shape[0]) + 1

    def encode(self, values: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Codes of integer feature values."""
        return np.searchsorted(self.thresholds, np.asarray(values), side="left").astype(np.int64)

    def ranges(self) -> list[tuple[int, int]]:
        """Inclusive value range ``(lo, hi)`` of each code, in code order (the range table)."""
        bounds = [int(t) for t in self.thresholds]
        lows = [0, *(t + 1 for t in bounds)]
        highs = [*bounds, self.spec.max_value]
        return list(zip(lows, highs, strict=True))


@dataclass(frozen=True, slots=True, eq=False)
class ForestModel:
    """A tree or forest flow classifier with its feature quantization."""

    name: str
    kind: str
    version: int
    classes: tuple[str, ...]
    features: tuple[FeatureCodes, ...]
    trees: tuple[Tree, ...]
    data: dict[str, object]


@dataclass(frozen=True, slots=True)
class LeafBox:
    """A leaf as a box of code ranges: codes within every ``(lo, hi)`` reach this leaf."""

    node: int
    leaf_class: int
    ranges: tuple[tuple[int, int], ...]  # inclusive code range per feature

    def contains(self, codes: Sequence[int]) -> bool:
        """Whether a code vector lies in the box."""
        return all(lo <= c <= hi for c, (lo, hi) in zip(codes, self.ranges, strict=True))


def leaf_boxes(tree: Tree, features: Sequence[FeatureCodes]) -> list[LeafBox]:
    """Every leaf of ``tree`` with the code ranges that lead to it (disjoint, covering).

    A switch can match a tree in one table: one range entry per leaf over the
    feature codes, instead of walking the nodes.
    """
    boxes: list[LeafBox] = []
    start = tuple((0, f.codes - 1) for f in features)
    stack: list[tuple[int, tuple[tuple[int, int], ...]]] = [(0, start)]
    while stack:
        node, ranges = stack.pop()
        feat = int(tree.feature[node])
        if feat == LEAF:
            boxes.append(LeafBox(node, int(tree.leaf_class[node]), ranges))
            continue
        code = int(tree.code[node])
        lo, hi = ranges[feat]
        left = (*ranges[:feat], (lo, min(hi, code)), *ranges[feat + 1 :])
        right = (*ranges[:feat], (max(lo, code + 1), hi), *ranges[feat + 1 :])
        # An empty range means the path is contradictory: no code vector gets there.
        if left[feat][0] <= left[feat][1]:
            stack.append((int(tree.left[node]), left))
        if right[feat][0] <= right[feat][1]:
            stack.append((int(tree.right[node]), right))
    return sorted(boxes, key=lambda box: box.node)


def encode(model: ForestModel, x: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Feature matrix (samples x features) of integers to codes."""
    arr = np.atleast_2d(np.asarray(x))
    if arr.shape[1] != len(model.features):
        raise ModelError(
            f"model {model.name!r}: expected {len(model.features)} features, got shape {arr.shape}"
        )
    return np.stack([f.encode(arr[:, i]) for i, f in enumerate(model.features)], axis=1)


def _walk(tree: Tree, values: np.ndarray, use_codes: bool) -> npt.NDArray[np.int64]:
    node = np.zeros(values.shape[0], dtype=np.int64)
    rows = np.arange(values.shape[0])
    limits = tree.code if use_codes else tree.threshold
    while True:
        feat = tree.feature[node]
        inner = feat != LEAF
        if not inner.any():
            return node
        left = values[rows, np.where(inner, feat, 0)] <= limits[node]
        node = np.where(inner, np.where(left, tree.left[node], tree.right[node]), node)


def apply_values(tree: Tree, x: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Leaf reached by each sample of raw feature values, by the float thresholds."""
    return _walk(tree, np.atleast_2d(np.asarray(x, dtype=np.float64)), use_codes=False)


def apply_codes(tree: Tree, codes: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Leaf reached by each sample of feature codes, by the node codes."""
    return _walk(tree, np.atleast_2d(np.asarray(codes, dtype=np.int64)), use_codes=True)


def leaf_scores(tree: Tree) -> npt.NDArray[np.int64]:
    """Per node and class, the 0..255 score a leaf adds to the vote: class fraction x 255."""
    scores: npt.NDArray[np.int64] = np.rint(tree.value * LEAF_SCORE_MAX).astype(np.int64)
    return scores


def predict_float(model: ForestModel, x: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Float reference: raw features, float thresholds, averaged class fractions."""
    values = np.atleast_2d(np.asarray(x, dtype=np.float64))
    proba = np.zeros((values.shape[0], len(model.classes)))
    for tree in model.trees:
        proba += tree.value[apply_values(tree, values)]
    winner: npt.NDArray[np.int64] = np.argmax(proba, axis=1).astype(np.int64)
    return winner


def predict_codes(
    model: ForestModel, codes: npt.ArrayLike
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Data-plane semantics: class and confidence (0..255) from feature codes.

    Each tree's leaf adds its ``leaf_scores`` into per-class sums; the class is
    the argmax (ties: the lowest index) and the confidence the winning sum
    shifted right by ``CONFIDENCE_SHIFT``, at most 255.
    """
    arr = np.atleast_2d(np.asarray(codes, dtype=np.int64))
    sums = np.zeros((arr.shape[0], len(model.classes)), dtype=np.int64)
    for tree in model.trees:
        sums += leaf_scores(tree)[apply_codes(tree, arr)]
    winner = np.argmax(sums, axis=1).astype(np.int64)
    best = sums[np.arange(arr.shape[0]), winner]
    return winner, np.minimum(best >> CONFIDENCE_SHIFT, LEAF_SCORE_MAX)


def predict_int(
    model: ForestModel, x: npt.ArrayLike
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Quantized prediction from integer features: encode, then ``predict_codes``."""
    return predict_codes(model, encode(model, x))


def _feature_codes(
    trees: Sequence[tuple[np.ndarray, np.ndarray]], specs: Sequence[FeatureSpec]
) -> tuple[FeatureCodes, ...]:
    out = []
    for index, spec in enumerate(specs):
        cuts = [np.floor(thr[feat == index]) for feat, thr in trees]
        merged = np.unique(np.concatenate(cuts)) if cuts else np.zeros(0)
        thresholds = np.clip(merged, 0, spec.max_value).astype(np.int64)
        out.append(FeatureCodes(spec, np.unique(thresholds)))
    return tuple(out)


def _node_codes(
    feature: np.ndarray, threshold: np.ndarray, features: Sequence[FeatureCodes]
) -> npt.NDArray[np.int64]:
    # The node's integer threshold is one of its feature's thresholds; its index is the code.
    code = np.zeros(feature.shape[0], dtype=np.int64)
    for node in np.flatnonzero(feature != LEAF):
        cuts = features[int(feature[node])].thresholds
        code[node] = int(np.searchsorted(cuts, np.floor(threshold[node])))
    return code


def _from_sklearn(estimator: Any, features: Sequence[FeatureCodes], n_classes: int) -> Tree:
    raw = estimator.tree_
    feature = np.where(raw.children_left == LEAF, LEAF, raw.feature).astype(np.int64)
    threshold = np.where(feature == LEAF, 0.0, raw.threshold).astype(np.float64)
    code = _node_codes(feature, threshold, features)
    value = np.zeros((feature.shape[0], n_classes))
    # A forest's trees see bootstrap samples and may lack classes: map their columns.
    value[:, estimator.classes_.astype(np.int64)] = raw.value[:, 0, :]
    value /= np.maximum(value.sum(axis=1, keepdims=True), 1e-12)
    return Tree(
        feature=feature,
        threshold=threshold,
        code=code,
        left=raw.children_left.astype(np.int64),
        right=raw.children_right.astype(np.int64),
        value=value,
        leaf_class=np.argmax(value, axis=1).astype(np.int64),
    )


def train_trees(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    classes: Sequence[str],
    *,
    kind: str = "forest",
    seed: int = 0,
    trees: int = DEFAULT_TREES,
    max_depth: int = 6,
    name: str | None = None,
    version: int = 1,
    specs: Sequence[FeatureSpec] = FLOW_FEATURES,
    data: dict[str, object] | None = None,
) -> ForestModel:
    """Train a decision tree or random forest on integer features and derive its codes."""
    # Imported here: loading and running models needs numpy alone, which keeps
    # `dinctl info` and the model-file readers quick to start.
    import sklearn  # noqa: PLC0415
    from sklearn.ensemble import RandomForestClassifier  # noqa: PLC0415
    from sklearn.tree import DecisionTreeClassifier  # noqa: PLC0415

    if kind not in TREE_KINDS:
        raise ModelError(f"model kind {kind!r}: expected one of {', '.join(TREE_KINDS)}")
    xa = np.asarray(x, dtype=np.int64)
    ya = np.asarray(y, dtype=np.int64)
    if xa.ndim != 2 or xa.shape[1] != len(specs):
        raise ModelError(f"features: expected shape (n, {len(specs)}), got {xa.shape!r}")
    for i, spec in enumerate(specs):
        column = xa[:, i]
        if column.size and (column.min() < 0 or column.max() > spec.max_value):
            raise ModelError(
                f"feature {spec.name!r}: values {int(column.min())!r}..{int(column.max())!r}: "
                f"expected 0..{spec.max_value} ({spec.bits}-bit register)"
            )
    estimator: DecisionTreeClassifier | RandomForestClassifier
    if kind == "tree":
        estimator = DecisionTreeClassifier(max_depth=max_depth, random_state=seed)
    else:
        estimator = RandomForestClassifier(
            n_estimators=trees, max_depth=max_depth, random_state=seed, n_jobs=1
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        estimator.fit(xa.astype(np.float64), ya)
    members = [estimator] if kind == "tree" else list(estimator.estimators_)
    if kind == "forest":
        # Members are fitted on class indices 0..k-1 of the forest's own encoding.
        for member in members:
            member.classes_ = estimator.classes_[member.classes_.astype(np.int64)]
    # sklearn marks leaves with feature -2, which matches no feature index.
    raw = [(m.tree_.feature, m.tree_.threshold) for m in members]
    features = _feature_codes(raw, specs)
    n_classes = len(classes)
    model = ForestModel(
        name=name or f"flows-{kind}",
        kind=kind,
        version=version,
        classes=tuple(classes),
        features=features,
        trees=tuple(_from_sklearn(m, features, n_classes) for m in members),
        data={
            **(data or {}),
            "train_seed": seed,
            "train_samples": int(xa.shape[0]),
            "max_depth": max_depth,
            "sklearn": sklearn.__version__,
        },
    )
    log.info(
        "trained %s: %d trees, codes per feature %s",
        model.name,
        len(model.trees),
        [f.codes for f in features],
    )
    return model


def train_flow_classifier(
    split: Split,
    *,
    kind: str = "forest",
    seed: int = 0,
    trees: int = DEFAULT_TREES,
    max_depth: int = 6,
    name: str | None = None,
    version: int = 1,
    flows_per_class: int | None = None,
    packet_limit: int | None = None,
    min_packets: int | None = None,
    source: Mapping[str, object] | None = None,
) -> ForestModel:
    """Train on a split's train part and record the split in the model's data.

    ``source`` adds what rebuilds the split besides it (e.g. a flow data file
    and its digest).
    """
    data: dict[str, object] = {
        **(source or {}),
        "name": split.name,
        "seed": split.seed,
        "test_fraction": split.test_fraction,
        "test_samples": len(split.y_test),
    }
    if flows_per_class is not None:
        data["flows_per_class"] = flows_per_class
    if packet_limit is not None:
        data["packet_limit"] = packet_limit
    if min_packets is not None:
        data["min_packets"] = min_packets
    return train_trees(
        split.x_train,
        split.y_train,
        split.classes,
        kind=kind,
        seed=seed,
        trees=trees,
        max_depth=max_depth,
        name=name,
        version=version,
        data=data,
    )


def requantize(model: ForestModel) -> ForestModel:
    """Derive feature thresholds and node codes again from the trees' float split points."""
    raw = [(tree.feature, tree.threshold) for tree in model.trees]
    features = _feature_codes(raw, [f.spec for f in model.features])
    rebuilt = []
    for tree in model.trees:
        code = _node_codes(tree.feature, tree.threshold, features)
        rebuilt.append(dataclasses.replace(tree, code=code))
    return dataclasses.replace(model, features=features, trees=tuple(rebuilt))
