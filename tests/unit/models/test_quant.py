"""Integer reference arithmetic: hand-computed cases and a loop implementation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from controller.models import ModelError
from controller.models.quant import (
    FloatLayer,
    MLPModel,
    QuantLayer,
    calibrate_exit,
    choose_shift,
    exits,
    forward_float,
    forward_int,
    partial_sums,
    predict_int,
    quantize_input,
    quantize_mlp,
    requantize_acc,
)


def int_layer(
    weight: list[list[int]], bias: list[int], shift: int, activation: str, zero_point: int = 0
) -> QuantLayer:
    w = np.array(weight, dtype=np.int8)
    b = np.array(bias, dtype=np.int32)
    return QuantLayer(
        weight=w,
        bias=b,
        shift=shift,
        activation=activation,
        weight_scale=1.0,
        out_scale=1.0,
        float_weight=w.astype(np.float64),
        float_bias=b.astype(np.float64),
        zero_point=zero_point,
    )


def model_of(*layers: QuantLayer) -> MLPModel:
    classes = tuple(str(i) for i in range(layers[-1].outputs))
    return MLPModel("m", 1, classes, 1.0, tuple(layers), {})


def test_relu_layer_hand_computed() -> None:
    # acc0 = 5*1 + 7*3 + 10 = 36 -> 36 >> 1 = 18; acc1 = 5*-2 + 7*4 - 5 = 13 -> 6
    layer = int_layer([[1, -2], [3, 4]], [10, -5], 1, "relu")
    assert forward_int(model_of(layer), [5, 7]).tolist() == [18, 6]


def test_relu_zeroes_negatives_and_clamps_at_255() -> None:
    layer = int_layer([[127, -127], [127, -127]], [0, 0], 0, "relu")
    # 255*127*2 = 64770 saturates to 255; the negative sum is cut to 0 by ReLU.
    assert forward_int(model_of(layer), [255, 255]).tolist() == [255, 0]


def test_score_layer_carries_its_zero_point_in_the_bias() -> None:
    # Scores x0 - x1 with a zero point of 128 folded in as 128 << 1 = 256:
    # acc = 3 - 10 + 256 = 249 -> 249 >> 1 = 124 = 128 + (-7 >> 1), i.e. -4 below zero.
    layer = int_layer([[1], [-1]], [256], 1, "linear", zero_point=128)
    model = model_of(layer)
    assert forward_int(model, [3, 10]).tolist() == [124]
    assert forward_int(model, [255, 0]).tolist() == [255]  # (255 + 256) >> 1 = 255
    low = model_of(int_layer([[-100], [-100]], [0], 0, "linear", zero_point=128))
    assert forward_int(low, [255, 255]).tolist() == [0]  # negative accumulators become 0


def test_two_layers_and_layer_ranges_compose() -> None:
    first = int_layer([[2, 1], [1, 2]], [0, 4], 1, "relu")
    second = int_layer([[1, -1], [1, 1]], [-3, 0], 0, "linear")
    model = model_of(first, second)
    x = np.array([[10, 20], [0, 0]])
    # row 0: layer 0 -> [(20+20)>>1, (10+40+4)>>1] = [20, 27]; layer 1 -> [44, 7]
    # row 1: layer 0 -> [0, 4>>1] = [0, 2]; layer 1 -> [max(-1, 0), 2] = [0, 2]
    assert forward_int(model, x, 0, 1).tolist() == [[20, 27], [0, 2]]
    assert forward_int(model, x).tolist() == [[44, 7], [0, 2]]
    assert forward_int(model, [[20, 27], [0, 2]], 1, 2).tolist() == [[44, 7], [0, 2]]


def reference_loop(model: MLPModel, x: list[int]) -> list[int]:
    """A plain-Python version of the integer semantics, written independently."""
    values = list(x)
    for layer in model.layers:
        out = []
        for j in range(layer.outputs):
            acc = int(layer.bias[j])
            for i in range(layer.inputs):
                acc += values[i] * int(layer.weight[i, j])
            # p4src: y = 0 if acc < 0 else min(255, acc >> s), for every layer
            out.append(0 if acc < 0 else min(255, acc // 2**layer.shift))
        values = out
    return values


@st.composite
def random_models(draw: st.DrawFn) -> tuple[MLPModel, np.ndarray]:
    widths = draw(st.lists(st.integers(1, 6), min_size=2, max_size=4))
    layers = []
    for index, (n_in, n_out) in enumerate(itertools.pairwise(widths)):
        weight = draw(hnp.arrays(np.int8, (n_in, n_out)))
        bias = draw(hnp.arrays(np.int32, (n_out,), elements=st.integers(-(2**20), 2**20)))
        shift = draw(st.integers(0, 31))
        activation = "linear" if index == len(widths) - 2 else "relu"
        layers.append(int_layer(weight.tolist(), bias.tolist(), shift, activation))
    x = draw(hnp.arrays(np.uint8, (3, widths[0])))
    return model_of(*layers), x


@settings(max_examples=200, deadline=None)
@given(random_models())
def test_forward_int_matches_loop(case: tuple[MLPModel, np.ndarray]) -> None:
    model, x = case
    got = forward_int(model, x)
    for row, out in zip(x, got, strict=True):
        assert out.tolist() == reference_loop(model, row.tolist())


def test_input_checks_name_the_problem() -> None:
    model = model_of(int_layer([[1], [1]], [0], 0, "linear"))
    with pytest.raises(ModelError, match=r"expected values in 0\.\.255, got 0\.\.256"):
        forward_int(model, [0, 256])
    with pytest.raises(ModelError, match="expected last dimension 2"):
        forward_int(model, [1, 2, 3])
    with pytest.raises(ModelError, match="expected an integer array"):
        forward_int(model, [0.5, 1.0])
    with pytest.raises(ModelError, match=r"layer range 1\.\.None"):
        forward_int(model, [1, 2], start_layer=1)


def test_predict_int_class_and_margin_with_ties_to_lowest() -> None:
    layer = int_layer([[1, 1, 0], [0, 0, 1]], [0, 0, 0], 0, "linear")
    top, margin = predict_int(model_of(layer), [[9, 4], [3, 8]])
    assert top.tolist() == [0, 2]
    assert margin.tolist() == [0, 5]
    one_top, one_margin = predict_int(model_of(layer), [9, 4])
    assert (int(one_top), int(one_margin)) == (0, 0)


def test_quantize_input_rounds_and_clamps() -> None:
    model = MLPModel(
        "m", 1, ("a", "b"), 1.0 / 255.0, (int_layer([[1, 1]], [0, 0], 0, "linear"),), {}
    )
    assert quantize_input(model, [0.0, 0.5, 1.0, 1.5, -0.2]).tolist() == [0, 128, 255, 255, 0]


def test_choose_shift_keeps_weights_in_int8() -> None:
    # Desired output scale 8/255 from inputs of scale 1/255 with weights up to 1:
    # ratio = (8/255) * 127 / ((1/255) * 1) = 1016 -> floor(log2(1016)) = 9.
    assert choose_shift(1 / 255, 1.0, 8.0, 255) == 9
    assert choose_shift(1.0, 100.0, 1.0, 255) == 0  # would need a negative shift
    assert choose_shift(1e-12, 1e-6, 1e6, 255) == 31
    assert choose_shift(1.0, 0.0, 1.0, 255) == 0
    assert choose_shift(1e-12, 1e-6, 1e6, 127, max_shift=22) == 22


def test_quantize_mlp_tracks_float_reference() -> None:
    rng = np.random.default_rng(3)
    floats = [
        FloatLayer(rng.normal(size=(16, 16)), rng.normal(size=16) * 0.1, "relu"),
        FloatLayer(rng.normal(size=(16, 10)), rng.normal(size=10) * 0.1, "linear"),
    ]
    x = rng.uniform(0, 1, size=(500, 16))
    layers = quantize_mlp(floats, 1 / 255, x)
    model = MLPModel("m", 1, tuple("abcdefghij"), 1 / 255, layers, {})
    for layer in layers:
        assert layer.weight.dtype == np.int8
        assert int(np.abs(layer.weight).max()) >= 64  # at least half the int8 range used
        assert 0 <= layer.shift <= 31
    first = layers[0]
    hidden_int = forward_int(model, quantize_input(model, x), 0, 1) * first.out_scale
    hidden_float = forward_float(model, x, 0, 1)
    # Error budget per output: input rounding (half an input step times |w|), weight
    # rounding (half a weight step times |x|), bias rounding, and the shift's floor.
    s_in, s_w = 1 / 255, first.weight_scale
    bound = (
        0.5 * s_in * np.abs(first.float_weight).sum(axis=0)
        + 0.5 * s_w * np.abs(x).sum(axis=1, keepdims=True)
        + 0.5 * s_in * s_w
        + first.out_scale
    )
    assert np.all(np.abs(hidden_int - hidden_float) <= bound + 1e-9)
    agree = np.mean(
        np.argmax(forward_int(model, quantize_input(model, x)), axis=1)
        == np.argmax(forward_float(model, x), axis=1)
    )
    assert agree > 0.9


def test_quantize_mlp_rejects_bad_parameters() -> None:
    layer = FloatLayer(np.ones((2, 2)), np.zeros(2), "linear")
    with pytest.raises(ModelError, match=r"percentile 0\.0: expected a number in \(0, 100\]"):
        quantize_mlp([layer], 1.0, np.ones((3, 2)), percentile=0.0)
    with pytest.raises(ModelError, match=r"input scale -1\.0"):
        quantize_mlp([layer], -1.0, np.ones((3, 2)))
    with pytest.raises(ModelError, match="activation 'tanh'"):
        quantize_mlp([FloatLayer(np.ones((2, 2)), np.zeros(2), "tanh")], 1.0, np.ones((3, 2)))


def test_exits_and_calibration_hand_computed() -> None:
    # Scores are the inputs themselves: class 0 wins on row [s, 0] with margin s.
    model = model_of(int_layer([[1, 0], [0, 1]], [0, 0], 0, "linear"))
    codes = [[5, 0], [9, 0], [20, 0], [0, 30]]
    labels = [1, 0, 0, 1]
    top, margin = predict_int(model, codes)
    assert exits([5, 0], top, margin).tolist() == [True, True, True, True]
    assert exits([6, 31], top, margin).tolist() == [False, True, True, False]
    assert exits([256, 256], top, margin).tolist() == [False] * 4
    # class 0: margins 5 (wrong), 9, 20 -> lowest threshold with all exits right is 6;
    # class 1: one sample, right, margin 30 -> 0.
    assert calibrate_exit(model, codes, labels, 1.0) == (6, 0)
    assert calibrate_exit(model, codes, labels, 0.6) == (0, 0)
    assert calibrate_exit(model, [[9, 0]], [1], 0.5) == (256, 256)
    with pytest.raises(ModelError, match=r"target accuracy 1\.5"):
        calibrate_exit(model, codes, labels, 1.5)


@settings(max_examples=50, deadline=None)
@given(random_models())
def test_table_formulation_equals_layer(case: tuple[MLPModel, np.ndarray]) -> None:
    model, x = case
    layer = model.layers[0]
    for row in x.tolist():
        acc = layer.bias.astype(np.int64).copy()
        for index, value in enumerate(row):
            acc += partial_sums(layer, index, value)
        assert requantize_acc(layer, acc).tolist() == forward_int(model, row, 0, 1).tolist()


def test_partial_sums_and_requantize_checks() -> None:
    layer = int_layer([[3, -4]], [0, 0], 2, "relu")
    assert partial_sums(layer, 0, 10).tolist() == [30, -40]
    with pytest.raises(ModelError, match="partial sums of input 1 = 0"):
        partial_sums(layer, 1, 0)
    with pytest.raises(ModelError, match="partial sums of input 0 = 256"):
        partial_sums(layer, 0, 256)
    with pytest.raises(ModelError, match=r"accumulator 0\.\.2147483648: expected int32"):
        requantize_acc(layer, [0, 2**31])
    assert requantize_acc(layer, [-9, 9, 2**31 - 1]).tolist() == [0, 2, 255]
