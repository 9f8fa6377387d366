"""Training the partitioned MLP, its early-exit head and the large model on digits."""

from __future__ import annotations

import numpy as np
import pytest

from controller.models import ModelError
from controller.models.datasets import Split, digits16, pool_digits
from controller.models.evaluate import early_exit, evaluate
from controller.models.mlp import LARGE_HIDDEN, requantize, train_head, train_mlp
from controller.models.quant import (
    NEVER_EXIT,
    MLPModel,
    calibrate_exit,
    forward_float,
    forward_int,
    predict_int,
    quantize_input,
)


@pytest.fixture(scope="module")
def split() -> Split:
    return digits16(0)


@pytest.fixture(scope="module")
def base(split: Split) -> MLPModel:
    return train_mlp(split, seed=0)


def test_pooling_averages_2x2_blocks() -> None:
    image = np.zeros((8, 8))
    image[0:2, 0:2] = [[16, 0], [8, 8]]  # block (0, 0): mean 8 -> 0.5
    image[6:8, 6:8] = 16  # block (3, 3): mean 16 -> 1.0
    pooled = pool_digits(image.reshape(1, 64))
    assert pooled.shape == (1, 16)
    assert pooled[0, 0] == 0.5
    assert pooled[0, 15] == 1.0
    assert pooled[0, 1:15].tolist() == [0.0] * 14
    with pytest.raises(ModelError, match=r"expected shape \(n, 64\), got \(2, 8\)"):
        pool_digits(np.zeros((2, 8)))


def test_digits16_split(split: Split) -> None:
    assert split.x_train.shape[1] == 16
    assert len(split.y_train) + len(split.y_test) == 1797
    assert split.x_train.min() >= 0.0
    assert split.x_train.max() <= 1.0
    assert split.classes == tuple("0123456789")


def test_base_architecture_fits_the_header(base: MLPModel) -> None:
    shapes = [layer.weight.shape for layer in base.layers]
    assert shapes == [(16, 16), (16, 16), (16, 10)]
    assert [layer.activation for layer in base.layers] == ["relu", "relu", "linear"]
    assert all(layer.weight.dtype == np.int8 for layer in base.layers)
    assert all(layer.bias.dtype == np.int32 for layer in base.layers)
    assert [layer.zero_point for layer in base.layers] == [0, 0, 128]
    assert base.layers[2].shift <= 22


def test_scores_track_the_float_logits(base: MLPModel, split: Split) -> None:
    scores = forward_int(base, quantize_input(base, split.x_test))
    last = base.layers[-1]
    logits = forward_float(base, split.x_test)
    decoded = (scores - last.zero_point) * last.out_scale
    inside = (scores > 0) & (scores < 255)  # clamped scores carry no magnitude
    assert inside.mean() > 0.95
    # Within a few output steps: rounding of inputs, weights and hidden layers adds up.
    assert np.median(np.abs(decoded - logits)[inside]) < 2 * last.out_scale


def test_base_accuracy_float_and_quantized(base: MLPModel) -> None:
    result = evaluate(base)
    # Measured on seeds 0..2: float 0.90-0.92, quantized 0.90-0.92, gap <= 0.01.
    assert result.float_scores.accuracy >= 0.87
    assert result.quant_scores.accuracy >= 0.87
    assert result.quant_scores.macro_f1 >= 0.86
    assert abs(result.float_scores.accuracy - result.quant_scores.accuracy) <= 0.02


def test_partitioned_inference_equals_whole(base: MLPModel, split: Split) -> None:
    codes = quantize_input(base, split.x_test)
    hidden = forward_int(base, codes, 0, 2)  # e.g. computed by switches
    assert hidden.min() >= 0 and hidden.max() <= 255
    assert np.array_equal(forward_int(base, hidden, 2, 3), forward_int(base, codes))


def test_head_shares_layer_zero_and_exits_confidently(base: MLPModel, split: Split) -> None:
    head = train_head(base, split, seed=0)
    assert head.shared_layers == 1 and head.shared_with == base.name
    assert np.array_equal(head.layers[0].weight, base.layers[0].weight)
    assert np.array_equal(head.layers[0].bias, base.layers[0].bias)
    assert head.layers[0].shift == base.layers[0].shift
    assert head.layers[1].weight.shape == (16, 10)
    assert evaluate(head).quant_scores.accuracy >= 0.85  # measured 0.89-0.90
    confident = early_exit(head, split, 10)
    # Measured: 67-72% of requests exit at confidence >= 10 with 97-98% accuracy.
    assert confident.coverage >= 0.6
    assert confident.accuracy >= 0.95
    assert early_exit(head, split, NEVER_EXIT).coverage == 0.0


def test_head_exit_thresholds_meet_their_target(base: MLPModel, split: Split) -> None:
    head = train_head(base, split, seed=0, target_accuracy=0.97)
    assert len(head.exit_thresholds) == 10
    top, margin = predict_int(head, quantize_input(head, split.x_train))
    for cls, limit in enumerate(head.exit_thresholds):
        taken = (top == cls) & (margin >= limit)
        if limit == NEVER_EXIT:
            continue
        assert np.mean(split.y_train[taken] == cls) >= 0.97
        # The threshold is the lowest that works: one less misses the target.
        if limit > 0:
            looser = (top == cls) & (margin >= limit - 1)
            assert np.mean(split.y_train[looser] == cls) < 0.97
    on_test = early_exit(head, split, head.exit_thresholds)
    # Measured on test data: 86% coverage at 94% accuracy (calibrated on train data).
    assert on_test.coverage >= 0.7
    assert on_test.accuracy >= 0.9


def test_large_model_for_escalations(split: Split) -> None:
    large = train_mlp(split, seed=0, hidden=LARGE_HIDDEN, name="large")
    assert [layer.outputs for layer in large.layers] == [64, 64, 10]
    assert evaluate(large).quant_scores.accuracy >= 0.9  # measured 0.92-0.93


def test_requantize_with_percentile(base: MLPModel, split: Split) -> None:
    clipped = requantize(base, split, 99.0)
    assert clipped.data["percentile"] == 99.0
    assert all(
        np.array_equal(a.float_weight, b.float_weight)
        for a, b in zip(base.layers, clipped.layers, strict=True)
    )
    # Clipping outliers can only make the output step finer.
    assert clipped.layers[0].out_scale <= base.layers[0].out_scale
    assert evaluate(clipped).quant_scores.accuracy >= 0.87


def test_requantize_recalibrates_a_heads_exits(base: MLPModel, split: Split) -> None:
    head = train_head(base, split, seed=0, target_accuracy=0.95)
    again = requantize(head, split, 99.0)
    assert np.array_equal(again.layers[0].weight, head.layers[0].weight)  # shared layer kept
    expected = calibrate_exit(again, quantize_input(again, split.x_train), split.y_train, 0.95)
    assert again.exit_thresholds == expected
    assert again.layers[1].out_scale <= head.layers[1].out_scale


def test_restarts_keep_the_most_accurate_on_the_training_data() -> None:
    small = digits16(0, limit=400)
    singles = [train_mlp(small, seed=s, max_iter=60) for s in (3, 4, 5)]
    train_acc = [
        float(np.mean(predict_int(m, quantize_input(m, small.x_train))[0] == small.y_train))
        for m in singles
    ]
    kept = train_mlp(small, seed=3, max_iter=60, restarts=3)
    first_best = int(np.argmax(train_acc))  # the lowest seed on a tie
    assert kept.data["train_seed"] == 3 + first_best
    assert kept.data["restarts"] == 3
    assert kept.data["train_accuracy"] == round(train_acc[first_best], 6)
    for got, want in zip(kept.layers, singles[first_best].layers, strict=True):
        assert np.array_equal(got.weight, want.weight) and np.array_equal(got.bias, want.bias)
    # One initialisation records nothing about restarts.
    assert "restarts" not in singles[0].data
    with pytest.raises(ModelError, match=r"restarts 0: expected 1 or more"):
        train_mlp(small, restarts=0)


def test_training_rejects_bad_sizes(split: Split) -> None:
    with pytest.raises(ModelError, match=r"hidden layer sizes \(16, 0\)"):
        train_mlp(split, hidden=(16, 0))
    with pytest.raises(ModelError, match=r"test fraction 0\.0"):
        digits16(0, test_fraction=0.0)
