"""Partitioned MLPs and their int8 quantization; the integer reference lives here.

``forward_int`` is the single source of truth for what a switch or an inference
node computes for a layer (p4src/README.md, "Integer arithmetic"): uint8 inputs,
int8 weights, int32 accumulation, int32 bias, then ``y = 0`` for a negative
accumulator, else ``min(255, acc >> shift)``. Every layer uses this arithmetic.
A layer of class scores (float activation "linear") has a zero point of 128
folded into its bias, so negative scores stay apart: score = (y - 128) * scale.
Everything is integer, so the result is exact and reproducible on any target.

Imports numpy and the standard library only.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from controller.models.errors import ModelError

log = logging.getLogger(__name__)

IntArray = npt.NDArray[np.integer]
FloatArray = npt.NDArray[np.floating]

ACTIVATIONS = ("relu", "linear")  # float semantics; the integer arithmetic is one
MAX_SHIFT = 31
INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
OUT_MAX = 255  # outputs are uint8: they fit one byte of the DIN header vector
SCORE_ZERO_POINT = 128
# (128 << 22) = 2^29 keeps the bias offset and 16 products of 255 x 127 within int32.
MAX_SCORE_SHIFT = 22
WEIGHT_MAX = 127
NEVER_EXIT = 256  # confidence is at most 255: no exit_threshold entry for the class
DEFAULT_EXIT_ACCURACY = 0.97
DEFAULT_PERCENTILE = 100.0  # calibrate on the largest activation: no clipping


# eq=False: fields hold numpy arrays, whose == is elementwise, not a bool.
@dataclass(frozen=True, slots=True, eq=False)
class FloatLayer:
    """A float layer: ``y = act(x @ weight + bias)``, weight shaped (inputs, outputs)."""

    weight: FloatArray
    bias: FloatArray
    activation: str


@dataclass(frozen=True, slots=True, eq=False)
class QuantLayer:
    """One int8 layer with its float original; weights shaped (inputs, outputs)."""

    weight: IntArray
    bias: IntArray
    shift: int
    activation: str
    weight_scale: float
    out_scale: float
    float_weight: FloatArray
    float_bias: FloatArray
    zero_point: int = 0  # float output = (y - zero_point) * out_scale

    @property
    def inputs(self) -> int:
        """Number of inputs."""
        return int(self.weight.shape[0])

    @property
    def outputs(self) -> int:
        """Number of outputs."""
        return int(self.weight.shape[1])


@dataclass(frozen=True, slots=True, eq=False)
class MLPModel:
    """A quantized MLP with metadata; ``input_scale`` maps uint8 input codes to floats."""

    name: str
    version: int
    classes: tuple[str, ...]
    input_scale: float
    layers: tuple[QuantLayer, ...]
    data: dict[str, object]
    shared_layers: int = 0  # leading layers copied from another model (early-exit heads)
    shared_with: str = ""
    # Early-exit heads: answer class c where confidence >= exit_thresholds[c]
    # (the data plane's min_confidence); NEVER_EXIT means no entry for c.
    exit_thresholds: tuple[int, ...] = ()

    @property
    def input_size(self) -> int:
        """Width of the model's input vector."""
        return self.layers[0].inputs


def _layer_slice(model: MLPModel, start_layer: int, end_layer: int | None) -> range:
    count = len(model.layers)
    end = count if end_layer is None else end_layer
    if not 0 <= start_layer < end <= count:
        raise ModelError(
            f"model {model.name!r}: layer range {start_layer!r}..{end_layer!r}: "
            f"expected 0 <= start < end <= {count}"
        )
    return range(start_layer, end)


def _as_int_input(layer: QuantLayer, x: npt.ArrayLike, index: int) -> IntArray:
    arr = np.asarray(x)
    if not np.issubdtype(arr.dtype, np.integer):
        raise ModelError(f"layer {index} input: expected an integer array, got dtype {arr.dtype}")
    if arr.shape[-1:] != (layer.inputs,):
        raise ModelError(
            f"layer {index} input: expected last dimension {layer.inputs}, got shape {arr.shape}"
        )
    lo, hi = 0, OUT_MAX
    if arr.size and (int(arr.min()) < lo or int(arr.max()) > hi):
        raise ModelError(
            f"layer {index} input: expected values in {lo}..{hi}, "
            f"got {int(arr.min())!r}..{int(arr.max())!r}"
        )
    return arr.astype(np.int64)


def partial_sums(layer: QuantLayer, index: int, value: int) -> IntArray:
    """What input ``index`` holding ``value`` adds to each output's accumulator.

    A switch stores these as the action data of a table keyed by (input index,
    value); the accumulator is the bias plus one partial sum per input.
    """
    if not 0 <= index < layer.inputs or not 0 <= value <= OUT_MAX:
        raise ModelError(
            f"partial sums of input {index!r} = {value!r}: expected an input in "
            f"0..{layer.inputs - 1} and a value in 0..255"
        )
    sums: IntArray = layer.weight[index].astype(np.int64) * value
    return sums


def requantize_acc(layer: QuantLayer, acc: npt.ArrayLike) -> IntArray:
    """Accumulator (bias included) to the layer's outputs: 0 if negative, else shift, clamp."""
    values = np.asarray(acc, dtype=np.int64)
    if values.size and (int(values.min()) < INT32_MIN or int(values.max()) > INT32_MAX):
        # Cannot happen for a validated model; a data plane would wrap silently.
        raise ModelError(
            f"accumulator {int(values.min())}..{int(values.max())}: expected int32 values"
        )
    # After the ReLU the value is non-negative: arithmetic and logical shifts agree.
    return np.minimum(np.right_shift(np.maximum(values, 0), layer.shift), OUT_MAX)


def layer_int(layer: QuantLayer, x: IntArray) -> IntArray:
    """One layer of integer inference on int64 values (no input checks)."""
    return requantize_acc(layer, x @ layer.weight.astype(np.int64) + layer.bias.astype(np.int64))


def forward_int(
    model: MLPModel,
    x: npt.ArrayLike,
    start_layer: int = 0,
    end_layer: int | None = None,
) -> IntArray:
    """Integer inference through layers ``start_layer..end_layer-1``; returns int64 values.

    ``x`` holds uint8 codes (0..255) shaped (inputs,) or (samples, inputs).
    """
    layers = _layer_slice(model, start_layer, end_layer)
    values = _as_int_input(model.layers[start_layer], x, start_layer)
    for index in layers:
        values = layer_int(model.layers[index], values)
    return values


def forward_float(
    model: MLPModel,
    x: npt.ArrayLike,
    start_layer: int = 0,
    end_layer: int | None = None,
) -> FloatArray:
    """Float reference of the same layers, on float inputs (not codes)."""
    values = np.asarray(x, dtype=np.float64)
    for index in _layer_slice(model, start_layer, end_layer):
        layer = model.layers[index]
        values = values @ layer.float_weight + layer.float_bias
        if layer.activation == "relu":
            values = np.maximum(values, 0.0)
    return values


def quantize_input(model: MLPModel, x: npt.ArrayLike) -> IntArray:
    """Float model inputs to uint8 codes by the model's input scale (round, clamp)."""
    codes = np.rint(np.asarray(x, dtype=np.float64) / model.input_scale)
    return np.clip(codes, 0, OUT_MAX).astype(np.int64)


def predict_int(model: MLPModel, codes: npt.ArrayLike) -> tuple[IntArray, IntArray]:
    """Class index and integer confidence (top score minus runner-up) per sample."""
    scores = forward_int(model, codes)
    scores2d = np.atleast_2d(scores)
    # argmax picks the lowest index on ties, as a switch scanning scores in order would.
    top = np.argmax(scores2d, axis=1)
    ordered = np.sort(scores2d, axis=1)
    margin = ordered[:, -1] - ordered[:, -2]
    if scores.ndim == 1:
        return top[:1].reshape(()), margin[:1].reshape(())
    return top, margin


def exits(
    thresholds: Sequence[int], top: npt.ArrayLike, confidence: npt.ArrayLike
) -> npt.NDArray[np.bool_]:
    """Where an early exit answers: confidence at least the predicted class's threshold."""
    limits = np.asarray(thresholds, dtype=np.int64)
    taken: npt.NDArray[np.bool_] = np.asarray(confidence) >= limits[np.asarray(top)]
    return taken


def calibrate_exit(
    model: MLPModel, codes: npt.ArrayLike, labels: npt.ArrayLike, target: float
) -> tuple[int, ...]:
    """Per-class thresholds: the lowest whose exits reach ``target`` accuracy on the data.

    Classes that never reach it get ``NEVER_EXIT``.
    """
    if not 0.0 < target <= 1.0:
        raise ModelError(f"target accuracy {target!r}: expected a number in (0, 1]")
    top, margin = predict_int(model, codes)
    truth = np.asarray(labels)
    out = []
    for cls in range(len(model.classes)):
        chosen = NEVER_EXIT
        for limit in range(NEVER_EXIT):
            taken = (top == cls) & (margin >= limit)
            if taken.any() and np.mean(truth[taken] == cls) >= target:
                chosen = limit
                break
        out.append(chosen)
    return tuple(out)


def predict_float(model: MLPModel, x: npt.ArrayLike) -> IntArray:
    """Class index per sample from the float reference."""
    top: IntArray = np.argmax(np.atleast_2d(forward_float(model, x)), axis=1)
    return top


def choose_shift(
    in_scale: float, max_weight: float, out_range: float, qmax: int, max_shift: int = MAX_SHIFT
) -> int:
    """Largest shift 0..max_shift whose output scale still keeps weights within int8.

    The output scale is ``in_scale * weight_scale * 2**shift``; we want it near
    ``out_range / qmax`` while ``weight_scale >= max_weight / 127``.
    """
    if max_weight <= 0.0 or out_range <= 0.0:
        return 0
    ratio = (out_range / qmax) * WEIGHT_MAX / (in_scale * max_weight)
    if ratio < 1.0:
        return 0
    return min(max_shift, math.floor(math.log2(ratio)))


def quantize_layer(layer: FloatLayer, in_scale: float, calib_out: FloatArray) -> QuantLayer:
    """Quantize one float layer given its input scale and calibration outputs."""
    if layer.activation not in ACTIVATIONS:
        raise ModelError(
            f"activation {layer.activation!r}: expected one of {', '.join(ACTIVATIONS)}"
        )
    scores = layer.activation == "linear"
    # Scores use half the byte on each side of the zero point.
    qmax = OUT_MAX - SCORE_ZERO_POINT if scores else OUT_MAX
    out_range = float(np.max(np.abs(calib_out))) if calib_out.size else 0.0
    max_weight = float(np.max(np.abs(layer.weight))) if layer.weight.size else 0.0
    limit = MAX_SCORE_SHIFT if scores else MAX_SHIFT
    shift = choose_shift(in_scale, max_weight, out_range, qmax, limit)
    weight_scale = max(
        max_weight / WEIGHT_MAX if max_weight > 0 else 1.0 / WEIGHT_MAX,
        (out_range / qmax) / (in_scale * 2**shift) if out_range > 0 else 0.0,
    )
    acc_scale = in_scale * weight_scale
    weight = np.clip(np.rint(layer.weight / weight_scale), -WEIGHT_MAX, WEIGHT_MAX).astype(np.int8)
    zero_point = SCORE_ZERO_POINT if scores else 0
    # (b + zp << s) >> s == (b >> s) + zp exactly: the offset moves scores, not margins.
    bias_int = np.rint(layer.bias / acc_scale) + (zero_point << shift)
    bias = np.clip(bias_int, INT32_MIN, INT32_MAX).astype(np.int32)
    return QuantLayer(
        weight=weight,
        bias=bias,
        shift=shift,
        activation=layer.activation,
        weight_scale=weight_scale,
        out_scale=acc_scale * 2**shift,
        float_weight=np.asarray(layer.weight, dtype=np.float64),
        float_bias=np.asarray(layer.bias, dtype=np.float64),
        zero_point=zero_point,
    )


def quantize_mlp(
    layers: Sequence[FloatLayer],
    input_scale: float,
    calib_x: FloatArray,
    percentile: float = DEFAULT_PERCENTILE,
    prefix: Sequence[QuantLayer] = (),
) -> tuple[QuantLayer, ...]:
    """Quantize float layers; calibrate each layer's range on ``calib_x``.

    ``percentile`` (of absolute outputs) below 100 clips rare outliers for
    resolution. ``prefix`` layers are kept as they are (shared with another model)
    and must be the leading ones of ``layers``.
    """
    if not 0.0 < percentile <= 100.0:
        raise ModelError(f"percentile {percentile!r}: expected a number in (0, 100]")
    if input_scale <= 0.0:
        raise ModelError(f"input scale {input_scale!r}: expected a positive number")
    out: list[QuantLayer] = list(prefix)
    values = np.asarray(calib_x, dtype=np.float64)
    in_scale = input_scale
    for index, layer in enumerate(layers):
        values = values @ layer.weight + layer.bias
        if layer.activation == "relu":
            values = np.maximum(values, 0.0)
        if index < len(prefix):
            in_scale = prefix[index].out_scale
            continue
        calib = np.percentile(np.abs(values), percentile, axis=0) if values.size else values
        quant = quantize_layer(layer, in_scale, np.asarray(calib))
        log.debug(
            "layer %d: shift %d, weight scale %.6g, out scale %.6g",
            index,
            quant.shift,
            quant.weight_scale,
            quant.out_scale,
        )
        out.append(quant)
        in_scale = quant.out_scale
    return tuple(out)
