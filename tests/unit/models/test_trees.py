"""Tree and forest flow classifiers: codes lose nothing the trees use."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.ensemble import RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier

from controller.models import ModelError
from controller.models.datasets import Split
from controller.models.evaluate import evaluate
from controller.models.features import FeatureSpec
from controller.models.synthetic import flow_dataset
from controller.models.trees import (
    FeatureCodes,
    ForestModel,
    Tree,
    apply_codes,
    apply_values,
    encode,
    leaf_boxes,
    leaf_scores,
    predict_codes,
    predict_float,
    predict_int,
    requantize,
    train_flow_classifier,
    train_trees,
)


@pytest.fixture(scope="module")
def split() -> Split:
    return flow_dataset(100, 0)


@pytest.fixture(scope="module")
def forest(split: Split) -> ForestModel:
    return train_flow_classifier(split, kind="forest", seed=0, flows_per_class=100)


@given(
    st.lists(st.integers(0, 1000), min_size=1, max_size=20, unique=True),
    st.integers(0, 1023),
)
def test_code_order_matches_threshold_order(cuts: list[int], x: int) -> None:
    feature = FeatureCodes(FeatureSpec("f", 10), np.array(sorted(cuts), dtype=np.int64))
    code = int(feature.encode([x])[0])
    for k, t in enumerate(sorted(cuts)):
        assert (x <= t) == (code <= k)


def test_ranges_tile_the_register() -> None:
    feature = FeatureCodes(FeatureSpec("f", 8), np.array([0, 9, 100], dtype=np.int64))
    ranges = feature.ranges()
    assert ranges == [(0, 0), (1, 9), (10, 100), (101, 255)]
    for code, (lo, hi) in enumerate(ranges):
        assert feature.encode([lo, hi]).tolist() == [code, code]
    assert FeatureCodes(FeatureSpec("g", 4), np.zeros(0, dtype=np.int64)).ranges() == [(0, 15)]


def boundary_inputs(model: ForestModel, n: int, seed: int) -> np.ndarray:
    """Random feature vectors whose values sit on and next to every threshold."""
    rng = np.random.default_rng(seed)
    columns = []
    for feature in model.features:
        cuts = feature.thresholds
        near = np.concatenate([cuts, cuts + 1, [0, feature.spec.max_value]])
        near = near[(near >= 0) & (near <= feature.spec.max_value)]
        columns.append(rng.choice(near, size=n))
    return np.stack(columns, axis=1)


def test_each_tree_on_codes_reaches_the_same_leaf(forest: ForestModel) -> None:
    x = boundary_inputs(forest, 3000, 1)
    codes = encode(forest, x)
    for tree in forest.trees:
        assert np.array_equal(apply_values(tree, x), apply_codes(tree, codes))


def test_tree_matches_sklearn_and_its_codes(split: Split) -> None:
    model = train_flow_classifier(split, kind="tree", seed=4, max_depth=5)
    reference = DecisionTreeClassifier(max_depth=5, random_state=4)
    reference.fit(split.x_train.astype(np.float64), split.y_train)
    assert np.array_equal(predict_float(model, split.x_test), reference.predict(split.x_test))
    assert np.array_equal(apply_values(model.trees[0], split.x_test), reference.apply(split.x_test))
    top, confidence = predict_int(model, split.x_test)
    leaves = reference.apply(split.x_test)
    scores = leaf_scores(model.trees[0])[leaves]
    assert np.array_equal(top, np.argmax(scores, axis=1))
    assert np.array_equal(confidence, scores.max(axis=1) >> 2)
    assert len(model.trees) == 1
    assert model.trees[0].depth() <= 5


def test_forest_float_reference_matches_sklearn(forest: ForestModel, split: Split) -> None:
    reference = RandomForestClassifier(n_estimators=4, max_depth=6, random_state=0, n_jobs=1)
    reference.fit(split.x_train.astype(np.float64), split.y_train)
    assert np.array_equal(predict_float(forest, split.x_test), reference.predict(split.x_test))


def test_leaf_scores_and_soft_vote_hand_computed() -> None:
    # One split on feature 0 at code 0: left leaf 70/30 over classes a/b, right 20/80.
    tree = Tree(
        feature=np.array([0, -1, -1]),
        threshold=np.array([4.5, 0.0, 0.0]),
        code=np.array([0, 0, 0]),
        left=np.array([1, -1, -1]),
        right=np.array([2, -1, -1]),
        value=np.array([[0.45, 0.55], [0.7, 0.3], [0.2, 0.8]]),
        leaf_class=np.array([1, 0, 1]),
    )
    assert leaf_scores(tree).tolist() == [[115, 140], [178, 76], [51, 204]]
    features = (FeatureCodes(FeatureSpec("f", 8), np.array([4])),)
    model = ForestModel("m", "forest", 1, ("a", "b"), features, (tree, tree, tree), {})
    # codes 0 (x <= 4): sums [534, 228] -> a, 534 >> 2 = 133; codes 1: [153, 612] -> b, 153
    top, confidence = predict_int(model, [[4], [5]])
    assert top.tolist() == [0, 1]
    assert confidence.tolist() == [133, 153]
    five = dataclasses.replace(model, trees=(tree,) * 6)
    assert predict_int(five, [[5]])[1].tolist() == [255]  # 1224 >> 2 = 306, capped


def test_forest_accuracy(forest: ForestModel) -> None:
    result = evaluate(forest)
    assert result.samples == 125
    # Measured with 4 trees of depth 6, 100 flows per class: 0.91-0.96 (seeds 0, 1),
    # float and quantized agreeing on every flow; 0.98 with 200 flows per class.
    assert result.float_scores.accuracy >= 0.88
    assert result.quant_scores.accuracy >= 0.88
    assert result.quant_scores.macro_f1 >= 0.88
    assert result.agreement >= 0.97


def test_requantize_is_idempotent(forest: ForestModel) -> None:
    again = requantize(forest)
    for a, b in zip(forest.features, again.features, strict=True):
        assert np.array_equal(a.thresholds, b.thresholds)
    for a_tree, b_tree in zip(forest.trees, again.trees, strict=True):
        assert np.array_equal(a_tree.code, b_tree.code)


def test_thresholds_are_the_split_points(forest: ForestModel) -> None:
    for index, feature in enumerate(forest.features):
        used = {
            int(np.floor(t.threshold[n]))
            for t in forest.trees
            for n in np.flatnonzero(t.feature == index)
        }
        assert set(feature.thresholds.tolist()) == used


def test_training_rejects_bad_input() -> None:
    x = np.zeros((4, 12), dtype=np.int64)
    y = np.array([0, 1, 0, 1])
    with pytest.raises(ModelError, match="model kind 'svm'"):
        train_trees(x, y, ("a", "b"), kind="svm")
    with pytest.raises(ModelError, match=r"expected shape \(n, 12\), got \(4, 3\)"):
        train_trees(x[:, :3], y, ("a", "b"))
    with pytest.raises(
        ModelError, match=r"feature 'pkt_len': values -1\.\.-1: expected 0\.\.65535"
    ):
        train_trees(x - 1, y, ("a", "b"))


def test_leaf_boxes_partition_the_code_space(forest: ForestModel) -> None:
    rng = np.random.default_rng(5)
    upper = np.array([f.codes for f in forest.features])
    codes = rng.integers(0, upper, size=(400, len(upper)))
    for tree in forest.trees:
        boxes = leaf_boxes(tree, forest.features)
        assert len(boxes) == int(np.sum(tree.feature == -1))
        single = dataclasses.replace(forest, kind="tree", trees=(tree,))
        expected, _ = predict_codes(single, codes)
        for row, cls in zip(codes.tolist(), expected.tolist(), strict=True):
            inside = [box for box in boxes if box.contains(row)]
            assert len(inside) == 1
            assert inside[0].leaf_class == cls


def test_leaf_boxes_hand_built_tree() -> None:
    # root: feature 0 code <= 0 ? leaf A : (feature 0 code <= 1 ? leaf B : leaf C)
    tree = Tree(
        feature=np.array([0, -1, 0, -1, -1]),
        threshold=np.array([5.5, 0, 9.5, 0, 0]),
        code=np.array([0, 0, 1, 0, 0]),
        left=np.array([1, -1, 3, -1, -1]),
        right=np.array([2, -1, 4, -1, -1]),
        value=np.eye(3)[[0, 0, 0, 1, 2]],
        leaf_class=np.array([0, 0, 0, 1, 2]),
    )
    features = [FeatureCodes(FeatureSpec("f", 8), np.array([5, 9]))]
    boxes = leaf_boxes(tree, features)
    assert [(b.node, b.leaf_class, b.ranges) for b in boxes] == [
        (1, 0, ((0, 0),)),
        (3, 1, ((1, 1),)),
        (4, 2, ((2, 2),)),
    ]
