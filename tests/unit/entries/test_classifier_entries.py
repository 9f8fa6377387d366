"""Classifier entries of din.p4: a hand-made tree by hand, a trained forest against
the models layer's quantized prediction, phase and QoS entries, bad models."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.entries.classifier import (
    box_ternary,
    forest_entries,
    phase_entries,
    qos_entries,
    tree_code,
)
from controller.entries.errors import EntriesError
from controller.entries.schema import check_entries
from controller.entries.simulator import TableSim, classify
from controller.entries.types import Exact, Range, Ternary, count_by_table
from controller.models.features import FLOW_FEATURES
from controller.models.synthetic import flow_dataset
from controller.models.trees import (
    LEAF,
    FeatureCodes,
    ForestModel,
    Tree,
    predict_int,
    train_flow_classifier,
)

CLS = "MyIngress.classifier."


def hand_tree() -> Tree:
    # 0: pkt_len bin <= 0 ? 1 : 2;  2: tcp_flags bin <= 0 ? 3 : 4;  4: pkt_len bin <= 1 ? 5 : 6
    leaf_class = np.array([0, 0, 1, 1, 1, 2, 1])
    value = np.eye(3)[leaf_class]
    return Tree(
        feature=np.array([0, LEAF, 11, LEAF, 0, LEAF, LEAF]),
        threshold=np.array([100.0, 0, 2.0, 0, 500.0, 0, 0]),
        code=np.array([0, 0, 0, 0, 1, 0, 0]),
        left=np.array([1, LEAF, 3, LEAF, 5, LEAF, LEAF]),
        right=np.array([2, LEAF, 4, LEAF, 6, LEAF, LEAF]),
        value=value,
        leaf_class=leaf_class,
    )


def hand_model(trees: int = 1, classes: int = 3) -> ForestModel:
    cuts = {0: [100, 500], 11: [2]}
    features = tuple(
        FeatureCodes(spec, np.array(cuts.get(i, []), dtype=np.int64))
        for i, spec in enumerate(FLOW_FEATURES)
    )
    names = tuple(f"c{k}" for k in range(classes))
    return ForestModel("hand", "tree", 1, names, features, (hand_tree(),) * trees, {})


def test_hand_tree_golden_entries() -> None:
    entries = forest_entries(hand_model(), 5)
    check_entries(entries)
    assert count_by_table(entries) == {
        CLS + "quant_pkt_len": 2,
        CLS + "quant_tcp_flags": 1,
        CLS + "code_pkt_len": 2,
        CLS + "code_tcp_flags": 1,
        CLS + "tree_0": 4,
    }
    slot = ("meta.cls.cls_model", Exact(5))
    quant = [(e.match_dict(), e.param_dict()) for e in entries if e.table == CLS + "quant_pkt_len"]
    assert quant == [
        (dict((slot, ("meta.feat.pkt_len", Range(101, 500)))), {"bin": 1}),
        (dict((slot, ("meta.feat.pkt_len", Range(501, 65535)))), {"bin": 2}),
    ]
    codes = [(e.match_dict(), e.param_dict()) for e in entries if e.table == CLS + "code_pkt_len"]
    assert codes == [
        (dict((slot, ("meta.bin.pkt_len", Exact(1)))), {"t0": 1, "t1": 0, "t2": 0, "t3": 0}),
        (dict((slot, ("meta.bin.pkt_len", Exact(2)))), {"t0": 3, "t1": 0, "t2": 0, "t3": 0}),
    ]
    leaves = [
        (e.match_dict(), e.param_dict(), e.priority) for e in entries if e.table == CLS + "tree_0"
    ]
    pl, tf = "meta.c0.pkt_len", "meta.c0.tcp_flags"
    votes = [{f"s{c}": 255 if c == k else 0 for c in range(8)} for k in range(3)]
    assert leaves == [
        (dict((slot, (pl, Ternary(0, 3)))), votes[0], 1),
        (dict((slot, (pl, Ternary(1, 1)), (tf, Ternary(0, 1)))), votes[1], 1),
        (dict((slot, (pl, Ternary(1, 3)), (tf, Ternary(1, 1)))), votes[2], 1),
        (dict((slot, (pl, Ternary(3, 3)), (tf, Ternary(1, 1)))), votes[1], 1),
    ]


@pytest.mark.parametrize(
    ("pkt_len", "tcp_flags", "cls"),
    [(60, 0, 0), (100, 255, 0), (101, 2, 1), (300, 16, 2), (500, 3, 2), (501, 3, 1)],
)
def test_hand_tree_simulated(pkt_len: int, tcp_flags: int, cls: int) -> None:
    sim = TableSim([*forest_entries(hand_model(), 5), *phase_entries(5, 1, None)])
    feats = [pkt_len, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, tcp_flags]
    res = classify(sim, feats)
    assert res.enabled and res.valid
    assert res.cls_model == 5
    assert res.flow_class == cls
    assert res.votes[cls] == 255
    assert res.confidence == 255 >> 2


def test_vote_scores_are_one_hot() -> None:
    model = hand_model(trees=2)
    soft = dataclasses.replace(model.trees[0], value=np.full((7, 3), 1 / 3))
    model = dataclasses.replace(model, trees=(model.trees[0], soft))
    sim = TableSim([*forest_entries(model, 1, scores="vote"), *phase_entries(1, 1, None)])
    res = classify(sim, [300, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 16])
    # leaf_class of the soft leaf is still 2 (its stored argmax).
    assert res.votes == (0, 0, 510, 0, 0, 0, 0, 0)


def test_proba_scores_and_four_trees() -> None:
    model = hand_model(trees=4)
    tree = model.trees[0]
    soft = dataclasses.replace(tree, value=np.full((7, 3), 1 / 3))
    model = dataclasses.replace(model, trees=(tree, tree, tree, soft))
    sim = TableSim([*forest_entries(model, 1, scores="proba"), *phase_entries(1, 1, None)])
    res = classify(sim, [300, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 16])
    # Three one-hot leaves for class 2 plus one leaf of 85 (1/3 * 255) per class.
    assert res.votes == (85, 85, 3 * 255 + 85, 0, 0, 0, 0, 0)
    assert (res.flow_class, res.confidence) == (2, (3 * 255 + 85) >> 2)


def test_tree_code_and_ternary_helpers() -> None:
    assert [tree_code([1, 4], b) for b in range(6)] == [0, 0, 1, 1, 1, 3]
    assert box_ternary([1, 4], 0, 9) is None
    assert box_ternary([1, 4], 2, 4) == Ternary(0b01, 0b11)
    assert box_ternary([1, 4], 2, 9) == Ternary(0b01, 0b01)


def test_phase_entries() -> None:
    entries = phase_entries(2, 4, 1)
    check_entries(entries)
    assert [(e.match, e.param_dict()) for e in entries] == [
        ((("meta.feat.pkts", Range(1, 3)),), {"cls_model": 1}),
        ((("meta.feat.pkts", Range(4, 0xFFFFFFFF)),), {"cls_model": 2}),
    ]
    sim = TableSim(entries)
    feats = [0] * 12
    assert not classify(sim, feats).enabled  # pkts 0: no phase entry
    assert [classify(sim, [*feats[:3], n, *feats[4:]]).cls_model for n in (1, 3, 4, 10**9)] == [
        1,
        1,
        2,
        2,
    ]
    assert len(phase_entries(2, 1, 1)) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((2, 0, 1), "switch-over at 0"),
        ((256, 3, 1), "flow model slot 256"),
        ((1, 3, -1), "packet model slot -1"),
    ],
)
def test_bad_phase(args: tuple[int, int, int], message: str) -> None:
    with pytest.raises(EntriesError, match=message):
        phase_entries(*args)


def test_qos_entries_and_errors() -> None:
    entries = qos_entries({3: 46, 0: 0})
    check_entries(entries)
    assert [(e.match, e.param_dict()) for e in entries] == [
        ((("meta.cls.flow_class", Exact(0)),), {"dscp": 0}),
        ((("meta.cls.flow_class", Exact(3)),), {"dscp": 46}),
    ]
    with pytest.raises(EntriesError, match="class 8"):
        qos_entries({8: 1})
    with pytest.raises(EntriesError, match="64"):
        qos_entries({1: 64})


def too_many_thresholds() -> ForestModel:
    # A chain of 17 splits on pkt_len: 17 thresholds in one tree.
    n = 17
    feature = np.array([0] * n + [LEAF] * (n + 1))
    left = np.array([n + k for k in range(n)] + [LEAF] * (n + 1))
    right = np.array([k + 1 for k in range(n - 1)] + [2 * n] + [LEAF] * (n + 1))
    code = np.array(list(range(n)) + [0] * (n + 1))
    tree = Tree(
        feature,
        code.astype(float),
        code,
        left,
        right,
        np.ones((2 * n + 1, 1)),
        np.zeros(2 * n + 1, dtype=np.int64),
    )
    feats = tuple(
        FeatureCodes(spec, np.arange(n if i == 0 else 0, dtype=np.int64))
        for i, spec in enumerate(FLOW_FEATURES)
    )
    return ForestModel("chain", "tree", 1, ("a",), feats, (tree,), {})


@pytest.mark.parametrize(
    ("model", "slot", "message"),
    [
        (hand_model(trees=5), 0, "5 trees"),
        (hand_model(classes=9), 0, "9 classes"),
        (hand_model(), 256, "cls_model 256"),
        (dataclasses.replace(hand_model(), features=hand_model().features[:11]), 0, "features"),
        (
            dataclasses.replace(
                hand_model(),
                features=(
                    FeatureCodes(FLOW_FEATURES[0], np.arange(256, dtype=np.int64)),
                    *hand_model().features[1:],
                ),
            ),
            0,
            "257 bins",
        ),
        (too_many_thresholds(), 0, "17 thresholds"),
    ],
)
def test_bad_models_are_rejected(model: ForestModel, slot: int, message: str) -> None:
    with pytest.raises(EntriesError, match=message):
        forest_entries(model, slot)


def test_bad_scores_mode() -> None:
    with pytest.raises(EntriesError, match="'softmax'"):
        forest_entries(hand_model(), 0, scores="softmax")


@pytest.fixture(scope="module")
def forest() -> tuple[ForestModel, np.ndarray, TableSim]:
    split = flow_dataset(40, seed=0)
    model = train_flow_classifier(split, trees=4, max_depth=5)
    entries = [*forest_entries(model, 2), *phase_entries(2, 1, None)]
    check_entries(entries)
    x = np.concatenate([split.x_train, split.x_test]).astype(np.int64)
    return model, x, TableSim(entries)


def check_same(model: ForestModel, sim: TableSim, x: np.ndarray) -> None:
    winner, confidence = predict_int(model, x)
    for row, feats in enumerate(x):
        vals = [int(v) for v in feats]
        vals[3] = max(vals[3], 1)  # the phase table needs pkts >= 1
        res = classify(sim, vals)
        assert res.valid
        assert res.flow_class == int(winner[row])
        assert res.confidence == int(confidence[row])


def test_trained_forest_every_sample(forest: tuple[ForestModel, np.ndarray, TableSim]) -> None:
    model, x, sim = forest
    assert np.all(x[:, 3] >= 1)
    check_same(model, sim, x)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_trained_forest_random_features(
    forest: tuple[ForestModel, np.ndarray, TableSim], data: st.DataObject
) -> None:
    model, _, sim = forest
    feats = [data.draw(st.integers(0, spec.max_value)) for spec in FLOW_FEATURES]
    feats[3] = max(feats[3], 1)
    check_same(model, sim, np.array([feats], dtype=np.int64))
