"""Training of the partitioned MLP, its early-exit head and the large escalation model.

Imports numpy, scikit-learn and the standard library only.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from collections.abc import Sequence

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from controller.models.datasets import Split
from controller.models.errors import ModelError
from controller.models.quant import (
    DEFAULT_EXIT_ACCURACY,
    DEFAULT_PERCENTILE,
    FloatLayer,
    MLPModel,
    calibrate_exit,
    forward_float,
    predict_int,
    quantize_input,
    quantize_mlp,
)

log = logging.getLogger(__name__)

# The in-network layers are 16 wide so that activations fit the DIN header's
# vector of 16 one-byte values.
BASE_HIDDEN = (16, 16)
LARGE_HIDDEN = (64, 64)
INPUT_SCALE = 1.0 / 255.0  # model inputs are in 0..1; codes are 0..255


def _data_record(split: Split, seed: int, percentile: float, **extra: object) -> dict[str, object]:
    return {
        "name": split.name,
        "seed": split.seed,
        "test_fraction": split.test_fraction,
        "train_samples": len(split.y_train),
        "test_samples": len(split.y_test),
        "train_seed": seed,
        "percentile": percentile,
        "sklearn": sklearn.__version__,
        **extra,
    }


def _float_layers(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray]) -> list[FloatLayer]:
    last = len(weights) - 1
    return [
        FloatLayer(
            weight=np.asarray(w, dtype=np.float64),
            bias=np.asarray(b, dtype=np.float64),
            activation="linear" if i == last else "relu",
        )
        for i, (w, b) in enumerate(zip(weights, biases, strict=True))
    ]


def train_mlp(
    split: Split,
    *,
    hidden: Sequence[int] = BASE_HIDDEN,
    seed: int = 0,
    name: str = "digits-mlp",
    version: int = 1,
    max_iter: int = 600,
    percentile: float = DEFAULT_PERCENTILE,
    restarts: int = 1,
) -> MLPModel:
    """Train a ReLU MLP on ``split`` with scikit-learn and quantize it to int8.

    With ``restarts`` > 1 the network is trained from that many initialisations
    (seeds ``seed``, ``seed + 1``, ...) and the one whose quantized integer
    inference is most accurate on the training data is kept (the lowest seed
    on a tie): a network this narrow sometimes settles with dead units, and
    only the training data decides, never the test split.
    """
    if not hidden or any(h <= 0 for h in hidden):
        raise ModelError(f"hidden layer sizes {tuple(hidden)!r}: expected positive ints")
    if restarts < 1:
        raise ModelError(f"restarts {restarts!r}: expected 1 or more")
    best: tuple[float, MLPModel] | None = None
    for attempt in range(seed, seed + restarts):
        model = _train_once(
            split,
            hidden,
            attempt,
            name=name,
            version=version,
            max_iter=max_iter,
            percentile=percentile,
        )
        if restarts == 1:
            return model
        codes = quantize_input(model, split.x_train)
        accuracy = float(np.mean(predict_int(model, codes)[0] == split.y_train))
        log.info("%s: seed %d: quantized training accuracy %.4f", name, attempt, accuracy)
        if best is None or accuracy > best[0]:
            best = (accuracy, model)
    assert best is not None  # restarts >= 1
    accuracy, model = best
    data = {**model.data, "restarts": restarts, "train_accuracy": round(accuracy, 6)}
    return dataclasses.replace(model, data=data)


def _train_once(
    split: Split,
    hidden: Sequence[int],
    seed: int,
    *,
    name: str,
    version: int,
    max_iter: int,
    percentile: float,
) -> MLPModel:
    clf = MLPClassifier(
        hidden_layer_sizes=tuple(hidden),
        activation="relu",
        max_iter=max_iter,
        random_state=seed,
        alpha=1e-4,
        learning_rate_init=0.01,
    )
    with warnings.catch_warnings():
        # A capped iteration count is a deliberate speed choice, not a defect.
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(split.x_train, split.y_train)
    if list(clf.classes_) != list(range(len(split.classes))):
        raise ModelError(f"training data {split.name!r}: not every class occurs in the train set")
    floats = _float_layers(clf.coefs_, clf.intercepts_)
    layers = quantize_mlp(floats, INPUT_SCALE, split.x_train, percentile)
    log.info(
        "trained %s: hidden %s, seed %d, %d iterations", name, tuple(hidden), seed, clf.n_iter_
    )
    return MLPModel(
        name=name,
        version=version,
        classes=split.classes,
        input_scale=INPUT_SCALE,
        layers=layers,
        data=_data_record(split, seed, percentile, hidden=list(hidden)),
    )


def train_head(
    base: MLPModel,
    split: Split,
    *,
    seed: int = 0,
    name: str | None = None,
    version: int | None = None,
    percentile: float = DEFAULT_PERCENTILE,
    target_accuracy: float = DEFAULT_EXIT_ACCURACY,
) -> MLPModel:
    """Train an early-exit head on the base model's first hidden layer.

    The head shares layer 0 with ``base`` (kept bit-identical) and adds one
    linear layer to class scores, so a switch that computed layer 0 can answer
    with class and confidence without the rest of the model. Per-class exit
    thresholds are calibrated on the training data for ``target_accuracy``.
    """
    first = base.layers[0]
    hidden_train = forward_float(base, split.x_train, 0, 1)
    clf = LogisticRegression(max_iter=500, C=10.0, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(hidden_train, split.y_train)
    floats = [
        FloatLayer(first.float_weight, first.float_bias, first.activation),
        FloatLayer(
            weight=np.asarray(clf.coef_.T, dtype=np.float64),
            bias=np.asarray(clf.intercept_, dtype=np.float64),
            activation="linear",
        ),
    ]
    layers = quantize_mlp(floats, base.input_scale, split.x_train, percentile, prefix=(first,))
    head = MLPModel(
        name=name or f"{base.name}-head",
        version=base.version if version is None else version,
        classes=base.classes,
        input_scale=base.input_scale,
        layers=layers,
        data=_data_record(
            split, seed, percentile, head_of=base.name, exit_target_accuracy=target_accuracy
        ),
        shared_layers=1,
        shared_with=base.name,
    )
    codes = quantize_input(head, split.x_train)
    thresholds = calibrate_exit(head, codes, split.y_train, target_accuracy)
    return dataclasses.replace(head, exit_thresholds=thresholds)


def requantize(model: MLPModel, split: Split, percentile: float) -> MLPModel:
    """Quantize a model's float weights again with another calibration percentile.

    An early-exit head's thresholds are calibrated again too, since its integer
    scores change with the quantization.
    """
    floats = [
        FloatLayer(layer.float_weight, layer.float_bias, layer.activation) for layer in model.layers
    ]
    prefix = model.layers[: model.shared_layers]
    layers = quantize_mlp(floats, model.input_scale, split.x_train, percentile, prefix=prefix)
    data = dict(model.data)
    data["percentile"] = percentile
    result = dataclasses.replace(model, layers=layers, data=data)
    if model.exit_thresholds:
        target = data.get("exit_target_accuracy", DEFAULT_EXIT_ACCURACY)
        if isinstance(target, bool) or not isinstance(target, int | float):
            raise ModelError(
                f"model {model.name!r}: created.data.exit_target_accuracy {target!r}: "
                "expected a number"
            )
        codes = quantize_input(result, split.x_train)
        thresholds = calibrate_exit(result, codes, split.y_train, float(target))
        result = dataclasses.replace(result, exit_thresholds=thresholds)
    return result
