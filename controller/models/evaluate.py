"""Accuracy and macro-F1 of a model's float reference, its quantized form and its in-switch form.

The test data are rebuilt from what the model file records (data set name,
seed, split; or a flow data file and its SHA-256), so a model can be
evaluated from its file alone. The in-switch form is a predictor the caller
passes (the controller runs the model's table entries through a simulator);
this layer knows no entries. Imports numpy, scikit-learn and the standard
library only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.metrics import f1_score

from controller.models import quant, trees
from controller.models.datasets import DIGITS16, Split, digits16
from controller.models.errors import ModelError
from controller.models.flowdata import file_digest, flow_split
from controller.models.quant import MLPModel
from controller.models.synthetic import SYNTHETIC_FLOWS, flow_dataset
from controller.models.trees import ForestModel

log = logging.getLogger(__name__)

DATASETS = (DIGITS16, SYNTHETIC_FLOWS, "a flow data file (created.data.data_file)")
# Predicts classes of integer feature rows another way (e.g. through a switch's entries).
Predictor = Callable[[np.ndarray], npt.NDArray[np.integer]]


@dataclass(frozen=True, slots=True)
class Scores:
    """Accuracy, macro-F1 and per-class F1 of one set of predictions."""

    accuracy: float
    macro_f1: float
    per_class_f1: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Float and quantized scores of one model on its test data."""

    model: str
    data: str
    samples: int
    classes: tuple[str, ...]
    float_scores: Scores
    quant_scores: Scores
    agreement: float  # fraction of samples where both forms predict the same class
    switch_scores: Scores | None = None  # the in-switch form, when evaluated
    switch_agreement: float | None = None  # fraction where in-switch = quantized


def score(y_true: npt.ArrayLike, y_pred: npt.ArrayLike, n_classes: int) -> Scores:
    """Scores of predictions against labels over classes ``0..n_classes-1``."""
    truth = np.asarray(y_true)
    pred = np.asarray(y_pred)
    if truth.shape != pred.shape or truth.size == 0:
        raise ModelError(
            f"predictions of shape {pred.shape!r}: expected the labels' shape {truth.shape!r}, "
            "non-empty"
        )
    labels = list(range(n_classes))
    per_class = f1_score(truth, pred, labels=labels, average=None, zero_division=0.0)
    return Scores(
        accuracy=float(np.mean(truth == pred)),
        macro_f1=float(np.mean(per_class)),
        per_class_f1=tuple(float(v) for v in per_class),
    )


def _int_field(model_name: str, data: dict[str, object], key: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ModelError(f"model {model_name!r}: created.data.{key} {value!r}: expected an int")
    return value


def _fraction(model_name: str, data: dict[str, object]) -> float:
    value = data.get("test_fraction")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ModelError(
            f"model {model_name!r}: created.data.test_fraction {value!r}: expected a number"
        )
    return float(value)


def _flow_file(model: MLPModel | ForestModel, data: dict[str, object]) -> Split:
    path, digest = data.get("data_file"), data.get("data_sha256")
    if not isinstance(path, str) or not isinstance(digest, str):
        raise ModelError(
            f"model {model.name!r}: created.data.data_file {path!r} and data_sha256 "
            f"{digest!r}: expected strings"
        )
    if file_digest(path) != digest:
        raise ModelError(
            f"model {model.name!r}: flow data {path!r} changed since training "
            f"(sha256 {digest!r} recorded): derive it again or train again"
        )
    optional = {
        key: None if data.get(key) is None else _int_field(model.name, data, key)
        for key in ("packet_limit", "min_packets")
    }
    return flow_split(
        path,
        _int_field(model.name, data, "seed"),
        _fraction(model.name, data),
        packet_limit=optional["packet_limit"],
        min_packets=optional["min_packets"],
    )


def dataset_for(model: MLPModel | ForestModel) -> Split:
    """Rebuild the data set a model was trained on from its recorded data."""
    data = model.data
    name = data.get("name")
    if "data_file" in data:
        return _flow_file(model, data)
    if name == DIGITS16:
        return digits16(_int_field(model.name, data, "seed"), _fraction(model.name, data))
    if name == SYNTHETIC_FLOWS:
        optional = {
            key: None if data.get(key) is None else _int_field(model.name, data, key)
            for key in ("packet_limit", "min_packets")
        }
        return flow_dataset(
            _int_field(model.name, data, "flows_per_class"),
            _int_field(model.name, data, "seed"),
            _fraction(model.name, data),
            packet_limit=optional["packet_limit"],
            min_packets=optional["min_packets"],
        )
    raise ModelError(
        f"model {model.name!r}: created.data.name {name!r}: expected one of {', '.join(DATASETS)}"
    )


def predictions(
    model: MLPModel | ForestModel, x: npt.ArrayLike
) -> tuple[npt.NDArray[np.integer], npt.NDArray[np.integer]]:
    """Float-reference and quantized class predictions for samples ``x``."""
    if isinstance(model, MLPModel):
        codes = quant.quantize_input(model, x)
        return quant.predict_float(model, x), quant.predict_int(model, codes)[0]
    return trees.predict_float(model, x), trees.predict_int(model, x)[0]


def evaluate(
    model: MLPModel | ForestModel, split: Split | None = None, switch: Predictor | None = None
) -> Evaluation:
    """Evaluate both forms of ``model`` on ``split``'s test part (default: its own data).

    With ``switch``, a third form: its predictions of the test samples are
    scored too and compared with the quantized ones (they must agree where the
    switch's arithmetic is the quantized model's).
    """
    data = dataset_for(model) if split is None else split
    if data.classes != model.classes:
        raise ModelError(
            f"model {model.name!r}: classes {model.classes!r}: expected the data set's "
            f"{data.classes!r}"
        )
    float_pred, quant_pred = predictions(model, data.x_test)
    n = len(model.classes)
    switch_scores = switch_agreement = None
    if switch is not None:
        switch_pred = np.asarray(switch(data.x_test))
        switch_scores = score(data.y_test, switch_pred, n)
        switch_agreement = float(np.mean(switch_pred == quant_pred))
    result = Evaluation(
        model=model.name,
        data=data.name,
        samples=len(data.y_test),
        classes=model.classes,
        float_scores=score(data.y_test, float_pred, n),
        quant_scores=score(data.y_test, quant_pred, n),
        agreement=float(np.mean(float_pred == quant_pred)),
        switch_scores=switch_scores,
        switch_agreement=switch_agreement,
    )
    log.info(
        "%s on %s: float accuracy %.4f, quantized %.4f",
        model.name,
        data.name,
        result.float_scores.accuracy,
        result.quant_scores.accuracy,
    )
    return result


@dataclass(frozen=True, slots=True)
class ExitStats:
    """How an early exit with per-class thresholds behaves on test data."""

    thresholds: tuple[int, ...]
    coverage: float  # fraction of samples answered at the exit
    accuracy: float  # accuracy among those samples (0 when none)


def early_exit(model: MLPModel, split: Split, thresholds: int | Sequence[int]) -> ExitStats:
    """Coverage and accuracy of answering where confidence >= the predicted class's threshold.

    One int applies to every class.
    """
    n = len(model.classes)
    limits = tuple([thresholds] * n if isinstance(thresholds, int) else thresholds)
    if len(limits) != n or any(not 0 <= t <= quant.NEVER_EXIT for t in limits):
        raise ModelError(f"exit thresholds {limits!r}: expected {n} ints in 0..{quant.NEVER_EXIT}")
    top, margin = quant.predict_int(model, quant.quantize_input(model, split.x_test))
    taken = quant.exits(limits, top, margin)
    hits = top[taken] == split.y_test[taken]
    return ExitStats(
        thresholds=limits,
        coverage=float(np.mean(taken)),
        accuracy=float(np.mean(hits)) if hits.size else 0.0,
    )
