"""MLP entries of din.p4: golden values for a hand-made layer, and the simulator
against the models layer's integer reference (random layers, a trained model)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.entries.errors import EntriesError
from controller.entries.mlp import (
    MODE_EXIT_HEAD,
    MODE_FINAL,
    MODE_FORWARD,
    MODE_NEXT_HERE,
    IntLayer,
    Role,
    active_version_entry,
    exit_entries,
    head_entries,
    int_layer,
    layer_entries,
    model_entries,
    role_entries,
)
from controller.entries.schema import check_entries
from controller.entries.simulator import TableSim, argmax_margin, mlp_layer, run_request
from controller.entries.types import Exact, TableEntry, count_by_table, twos
from controller.models.datasets import digits16
from controller.models.mlp import train_head, train_mlp
from controller.models.quant import (
    NEVER_EXIT,
    MLPModel,
    QuantLayer,
    forward_int,
    predict_int,
    quantize_input,
)

MLP = "MyIngress.mlp."


def tiny() -> IntLayer:
    # W[j][i]: output j, input i.
    return IntLayer(np.array([[1, -2], [3, 0]]), np.array([5, -7]), 1)


def by_key(entries: list[TableEntry]) -> dict[tuple[str, tuple[object, ...]], TableEntry]:
    return {(e.table, e.match): e for e in entries}


def key(layer: int, extra: tuple[tuple[str, Exact], ...] = ()) -> tuple[object, ...]:
    # Entries keep their match sorted by field name.
    return tuple(
        sorted(
            (
                ("hdr.din.model_id", Exact(7)),
                ("hdr.din.model_version", Exact(2)),
                ("meta.mlp.layer", Exact(layer)),
                *extra,
            ),
            key=lambda kv: kv[0],
        )
    )


def test_tiny_layer_golden_entries() -> None:
    entries = layer_entries(7, 2, 3, tiny())
    check_entries(entries)
    # Bias entry, input 0 (column [1, 3]) for v = 1..255, input 1 (column [-2, 0]) too.
    assert count_by_table(entries) == {
        MLP + "mlp_bias": 1,
        MLP + "mlp_in_0": 255,
        MLP + "mlp_in_1": 255,
    }
    idx = by_key(entries)
    bias = idx[(MLP + "mlp_bias", key(3))]
    assert bias.action == MLP + "set_bias"
    params = bias.param_dict()
    assert params["shift"] == 1
    assert params["b0"] == 5
    assert params["b1"] == 0xFFFFFFF9  # -7 as bit<32>
    assert all(params[f"b{j}"] == 0 for j in range(2, 16))
    e = idx[(MLP + "mlp_in_0", key(3, (("hdr.din_vec.v0", Exact(2)),)))]
    assert e.action == MLP + "accumulate"
    assert e.param_dict() == {f"p{j}": {0: 2, 1: 6}.get(j, 0) for j in range(16)}
    e = idx[(MLP + "mlp_in_1", key(3, (("hdr.din_vec.v1", Exact(255)),)))]
    assert e.param_dict()["p0"] == (-510) & 0xFFFFFFFF == 0xFFFFFE02
    assert e.param_dict()["p1"] == 0


@pytest.mark.parametrize(
    ("x", "y"),
    [
        ((2, 3), (0, 0)),  # acc = (5 + 2 - 6, -7 + 6) = (1, -1) -> (1 >> 1, ReLU 0)
        ((10, 1), (6, 11)),  # acc = (13, 23)
        ((255, 0), (130, 255)),  # acc = (260, 758): 758 >> 1 = 379 clamps to 255
    ],
)
def test_tiny_layer_simulated_by_hand(x: tuple[int, int], y: tuple[int, int]) -> None:
    sim = TableSim(layer_entries(7, 2, 3, tiny()))
    out = mlp_layer(sim, 7, 2, 3, [*x, *([0] * 14)])
    assert out == [*y, *([0] * 14)]


def test_missing_layer_is_a_miss() -> None:
    sim = TableSim(layer_entries(7, 2, 3, tiny()))
    assert mlp_layer(sim, 7, 2, 4, [0] * 16) is None
    assert mlp_layer(sim, 7, 1, 3, [0] * 16) is None


def test_accumulator_wraps_at_32_bits() -> None:
    # Bias within 2^19 of INT32_MAX: 255 * 127 more wraps to a negative int32 -> 0.
    layer = IntLayer(np.array([[127]]), np.array([2**31 - 100]), 0)
    sim = TableSim(layer_entries(1, 1, 0, layer))
    assert mlp_layer(sim, 1, 1, 0, [0] * 16)[0] == 255  # type: ignore[index]
    assert mlp_layer(sim, 1, 1, 0, [255] + [0] * 15)[0] == 0  # type: ignore[index]


def test_zero_column_gets_no_entries() -> None:
    layer = IntLayer(np.array([[0, 4]]), np.array([0]), 0)
    counts = count_by_table(layer_entries(1, 1, 0, layer))
    assert MLP + "mlp_in_0" not in counts
    assert counts[MLP + "mlp_in_1"] == 255


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        (IntLayer(np.zeros((17, 2), dtype=np.int64), np.zeros(17, dtype=np.int64), 0), "shape"),
        (IntLayer(np.zeros((2, 2), dtype=np.int64), np.zeros(3, dtype=np.int64), 0), "bias shape"),
        (IntLayer(np.array([[128]]), np.array([0]), 0), "int8"),
        (IntLayer(np.array([[1]]), np.array([2**31]), 0), "int32"),
        (IntLayer(np.array([[1]]), np.array([0]), 32), "shift 32"),
    ],
)
def test_bad_layers_are_rejected(layer: IntLayer, message: str) -> None:
    with pytest.raises(EntriesError, match=message):
        layer_entries(1, 1, 0, layer)


@pytest.mark.parametrize(
    ("model_id", "version", "layer", "message"),
    [
        (70000, 1, 0, "model id"),
        (1, 0, 0, "version 0"),
        (1, 256, 0, "version 256"),
        (1, 1, 256, "layer index"),
    ],
)
def test_bad_ids_are_rejected(model_id: int, version: int, layer: int, message: str) -> None:
    with pytest.raises(EntriesError, match=message):
        layer_entries(model_id, version, layer, tiny())


def quant_layer(weight: np.ndarray, bias: np.ndarray, shift: int) -> QuantLayer:
    """A models-layer QuantLayer; weight given as (inputs, outputs)."""
    f = np.zeros(weight.shape)
    return QuantLayer(weight, bias, shift, "relu", 1.0, 1.0, f, np.zeros(bias.shape))


@settings(max_examples=25, deadline=None)
@given(
    data=st.data(),
    inputs=st.integers(1, 16),
    outputs=st.integers(1, 16),
    shift=st.integers(0, 14),
    seed=st.integers(0, 2**32 - 1),
)
def test_simulator_equals_forward_int_on_random_layers(
    data: st.DataObject, inputs: int, outputs: int, shift: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    weight = rng.integers(-128, 128, size=(inputs, outputs))
    bias = rng.integers(-(2**20), 2**20, size=outputs)
    layer = quant_layer(weight, bias, shift)
    model = MLPModel("rand", 1, (), 1.0, (layer,), {})
    sim = TableSim(model_entries(model, 9))
    x = data.draw(st.lists(st.integers(0, 255), min_size=inputs, max_size=inputs))
    want = forward_int(model, np.array(x)).tolist()
    got = mlp_layer(sim, 9, 1, 0, [*x, *([0] * (16 - inputs))])
    assert got == [*want, *([0] * (16 - outputs))]


@pytest.fixture(scope="module")
def trained() -> tuple[MLPModel, np.ndarray]:
    split = digits16(0)
    model = train_mlp(split, seed=0)
    return model, quantize_input(model, split.x_test)


def relu_everywhere(model: MLPModel) -> MLPModel:
    """din.p4 computes every layer as ReLU + clamp 0..255 (see int_layer)."""
    layers = tuple(dataclasses.replace(q, activation="relu") for q in model.layers)
    return dataclasses.replace(model, layers=layers)


def test_trained_model_every_sample(trained: tuple[MLPModel, np.ndarray]) -> None:
    model, codes = trained
    entries = model_entries(model, 3)
    check_entries(entries)
    counts = count_by_table(entries)
    assert counts[MLP + "mlp_bias"] == len(model.layers)
    assert sum(counts.values()) <= len(model.layers) * (1 + 16 * 255)
    sim = TableSim(entries)
    p4_model = relu_everywhere(model)
    hidden = forward_int(model, codes, 0, 2)
    scores = forward_int(p4_model, codes)
    for row, x in enumerate(codes):
        vec = [int(v) for v in x]
        for k in range(len(model.layers)):
            out = mlp_layer(sim, 3, model.version, k, vec)
            assert out is not None
            vec = out
            if k == 1:
                assert vec == hidden[row].tolist()
        assert vec[: len(model.classes)] == scores[row].tolist()
        assert vec[len(model.classes) :] == [0] * (16 - len(model.classes))


def test_trained_model_through_roles_and_exit(trained: tuple[MLPModel, np.ndarray]) -> None:
    model, codes = trained
    p4_model = relu_everywhere(model)
    classes = len(model.classes)
    thresholds = [10] * classes
    entries = [
        *model_entries(model, 3),
        *role_entries(
            3,
            1,
            [
                Role(0, MODE_NEXT_HERE),
                Role(1, MODE_NEXT_HERE),
                Role(2, MODE_FINAL, num_classes=classes),
            ],
        ),
        *exit_entries(3, 1, thresholds),
        active_version_entry(3, 1),
    ]
    check_entries(entries)
    sim = TableSim(entries)
    top, margin = predict_int(p4_model, codes)
    for row, x in enumerate(codes[:100]):
        res = run_request(sim, 3, 0, 0, [int(v) for v in x])
        assert res.layers == (0, 1, 2)
        assert res.model_version == 1
        assert res.result_class == int(top[row])
        assert res.confidence == int(margin[row])
        if margin[row] >= 10:
            assert (res.msg_type, res.stage) == (2, 255)
        else:
            assert (res.msg_type, res.stage) == (3, 2)


def test_forward_role_stops_after_one_layer() -> None:
    entries = [
        *layer_entries(1, 1, 0, tiny()),
        *layer_entries(1, 1, 1, tiny()),
        *role_entries(1, 1, [Role(0, MODE_FORWARD)]),
    ]
    res = run_request(TableSim(entries), 1, 1, 0, [10, 1] + [0] * 14)
    assert res.layers == (0,)
    assert res.stage == 1
    assert res.vector[:2] == (6, 11)
    assert res.msg_type == 1


def test_exit_head_answers_when_confident() -> None:
    head = IntLayer(np.array([[0, 1], [1, 0]]), np.array([0, 0]), 0)
    entries = [
        *layer_entries(1, 1, 0, tiny()),
        *layer_entries(1, 1, 130, head),
        *role_entries(1, 1, [Role(0, MODE_EXIT_HEAD, head_layer=130, num_classes=2)]),
        *exit_entries(1, 1, [NEVER_EXIT, 3]),
    ]
    sim = TableSim(entries)
    # Layer 0 gives (6, 11); the head swaps them: scores (11, 6), class 0, margin 5;
    # class 0 never exits, so the request goes on with the hidden values.
    res = run_request(sim, 1, 1, 0, [10, 1] + [0] * 14)
    assert res.layers == (0, 130)
    assert (res.msg_type, res.stage, res.vector[:2]) == (1, 1, (6, 11))
    # Zero inputs: layer 0 gives (2, 0), the head (0, 2): class 1, margin 2 < 3.
    res = run_request(sim, 1, 1, 0, [0] * 16)
    assert (res.msg_type, res.stage, res.vector[:2]) == (1, 1, (2, 0))
    entries[-1:] = exit_entries(1, 1, [NEVER_EXIT, 2])
    res = run_request(TableSim(entries), 1, 1, 0, [0] * 16)
    assert (res.msg_type, res.stage, res.result_class, res.confidence) == (2, 255, 1, 2)
    assert res.vector[:2] == (0, 2)
    entries[-1:] = exit_entries(1, 1, [5, NEVER_EXIT])
    res = run_request(TableSim(entries), 1, 1, 0, [10, 1] + [0] * 14)
    assert (res.msg_type, res.stage, res.result_class, res.confidence) == (2, 255, 0, 5)
    assert res.vector[:2] == (11, 6)


def test_argmax_margin_ties_and_single_class() -> None:
    assert argmax_margin([5, 5, 1] + [0] * 13, 3) == (0, 0)
    assert argmax_margin([1, 9, 4] + [0] * 13, 3) == (1, 5)
    assert argmax_margin([7, 200] + [0] * 14, 1) == (0, 7)


def test_exit_thresholds_become_min_confidence() -> None:
    entries = exit_entries(1, 2, [0, 254, 255, NEVER_EXIT])
    assert [e.param_dict()["min_confidence"] for e in entries] == [0, 254, 255]
    assert [e.match_dict()["meta.exit_class"] for e in entries] == [Exact(0), Exact(1), Exact(2)]
    with pytest.raises(EntriesError, match="at most 16"):
        exit_entries(1, 2, [1] * 17)
    with pytest.raises(EntriesError, match="-1"):
        exit_entries(1, 2, [-1])


@pytest.mark.parametrize(
    ("role", "message"),
    [
        (Role(0, 4), "mode 4"),
        (Role(255, MODE_FORWARD), "stage 255"),
        (Role(0, MODE_FINAL, num_classes=0), "num_classes 0"),
        (Role(0, MODE_FORWARD, num_classes=17), "num_classes 17"),
        (Role(0, MODE_FORWARD, head_layer=300), "head_layer 300"),
    ],
)
def test_bad_roles_are_rejected(role: Role, message: str) -> None:
    with pytest.raises(EntriesError, match=message):
        role_entries(1, 1, [role])


def test_duplicate_role_stage_is_rejected() -> None:
    with pytest.raises(EntriesError, match="given twice"):
        role_entries(1, 1, [Role(0, MODE_FORWARD), Role(0, MODE_FINAL, num_classes=2)])


def test_models_layer_adapter_transposes(trained: tuple[MLPModel, np.ndarray]) -> None:
    model, _ = trained
    layer = int_layer(model.layers[2])
    assert layer.weight.shape == (16, 16)
    assert layer.weight[3, 5] == model.layers[2].weight[5, 3]
    assert layer.weight[12].tolist() == [0] * 16  # 10 classes: rows 10..15 padded
    with pytest.raises(EntriesError, match="layer 5"):
        model_entries(model, 1, layers=[5])


def test_trained_exit_head_every_sample() -> None:
    split = digits16(0)
    base = train_mlp(split, seed=0)
    head = train_head(base, split)
    codes = quantize_input(base, split.x_test)
    classes = len(base.classes)
    entries = [
        *model_entries(base, 4, layers=[0]),
        *head_entries(head, 4, 1, 130),
        *role_entries(4, 1, [Role(0, MODE_EXIT_HEAD, head_layer=130, num_classes=classes)]),
    ]
    check_entries(entries)
    sim = TableSim(entries)
    top, margin = predict_int(relu_everywhere(head), codes)
    hidden = forward_int(base, codes, 0, 1)
    answered = 0
    for row, x in enumerate(codes):
        res = run_request(sim, 4, 1, 0, [int(v) for v in x])
        assert res.layers == (0, 130)
        limit = head.exit_thresholds[int(top[row])]
        if margin[row] >= limit:
            answered += 1
            assert (res.msg_type, res.result_class, res.confidence) == (
                2,
                int(top[row]),
                int(margin[row]),
            )
        else:
            assert (res.msg_type, res.stage) == (1, 1)
            assert list(res.vector) == hidden[row].tolist()
    assert 0 < answered < len(codes)


def test_head_needs_one_own_layer(trained: tuple[MLPModel, np.ndarray]) -> None:
    model, _ = trained
    with pytest.raises(EntriesError, match="0 shared and 3 own layers"):
        head_entries(model, 1, 1, 130)


def test_twos_complement_helper() -> None:
    assert twos(-1, 32, "b") == 0xFFFFFFFF
    assert twos(-(2**31), 32, "b") == 0x80000000
    assert twos(2**32 - 1, 32, "b") == 0xFFFFFFFF
    with pytest.raises(EntriesError, match="b0: value -129 does not fit 8 bits"):
        twos(-129, 8, "b0")
    with pytest.raises(EntriesError, match="does not fit 8 bits"):
        twos(256, 8, "b0")
