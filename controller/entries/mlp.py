"""Quantized MLP layers -> din.p4 entries: mlp_bias, mlp_in_<i>, mlp_role, exit_threshold.

Follows p4src/README.md "Partitioned MLP": W[j][i] is output j, input i; the
mlp_in_<i> entry for value v carries p_j = (v * W[j][i]) & 0xffffffff, the bias
entry b_j & 0xffffffff and the shift. Pure: imports the standard library, numpy
and controller.models only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from controller.entries.errors import EntriesError
from controller.entries.schema import MLP, MLP_WIDTH
from controller.entries.types import Exact, TableEntry, twos
from controller.models.quant import MLPModel, QuantLayer

log = logging.getLogger(__name__)

MODE_FORWARD = 0
MODE_NEXT_HERE = 1
MODE_EXIT_HEAD = 2
MODE_FINAL = 3
MODES = (MODE_FORWARD, MODE_NEXT_HERE, MODE_EXIT_HEAD, MODE_FINAL)
MAX_SHIFT = 31
U8_MAX = 255
BIAS_TABLE = MLP + "mlp_bias"


@dataclass(frozen=True, slots=True, eq=False)
class IntLayer:
    """A layer as the data plane sees it: W[j][i] (outputs x inputs), int32 bias, shift."""

    weight: npt.NDArray[np.int64]  # (outputs, inputs), int8 values
    bias: npt.NDArray[np.int64]  # (outputs,), int32 values
    shift: int


@dataclass(frozen=True, slots=True)
class Role:
    """An ``mlp_role`` entry: at ``stage`` compute that layer, then act by ``mode``."""

    stage: int
    mode: int
    head_layer: int = 0
    num_classes: int = 0


def int_layer(layer: QuantLayer, where: str = "layer") -> IntLayer:
    """Adapt a models-layer QuantLayer (weight inputs x outputs) to an IntLayer."""
    if layer.activation != "relu":
        # din.p4 always applies ReLU and clamps to 0..255; a linear layer's
        # negative or >127 scores come out differently from forward_int.
        log.info("%s: activation %r computed as ReLU by din.p4", where, layer.activation)
    weight = np.asarray(layer.weight, dtype=np.int64).T
    bias = np.asarray(layer.bias, dtype=np.int64)
    return check_layer(IntLayer(weight, bias, int(layer.shift)), where)


def check_layer(layer: IntLayer, where: str = "layer") -> IntLayer:
    """Check shapes and ranges against din.p4 and pad to 16 x 16."""
    w, b = np.asarray(layer.weight), np.asarray(layer.bias)
    if w.ndim != 2 or w.shape[0] > MLP_WIDTH or w.shape[1] > MLP_WIDTH:
        raise EntriesError(
            f"{where}: weight shape {w.shape!r}: expected (outputs, inputs), both <= {MLP_WIDTH}"
        )
    if b.shape != (w.shape[0],):
        raise EntriesError(f"{where}: bias shape {b.shape!r}: expected ({w.shape[0]},)")
    if w.size and (int(w.min()) < -128 or int(w.max()) > 127):
        raise EntriesError(
            f"{where}: weights {int(w.min())!r}..{int(w.max())!r}: expected int8 -128..127"
        )
    if b.size and (int(b.min()) < -(2**31) or int(b.max()) >= 2**31):
        raise EntriesError(f"{where}: bias {int(b.min())!r}..{int(b.max())!r}: expected int32")
    if not 0 <= layer.shift <= MAX_SHIFT:
        raise EntriesError(f"{where}: shift {layer.shift!r}: expected 0..{MAX_SHIFT}")
    weight = np.zeros((MLP_WIDTH, MLP_WIDTH), dtype=np.int64)
    weight[: w.shape[0], : w.shape[1]] = w
    bias = np.zeros(MLP_WIDTH, dtype=np.int64)
    bias[: b.shape[0]] = b
    return IntLayer(weight, bias, int(layer.shift))


def _key(model_id: int, version: int, layer: int) -> tuple[tuple[str, Exact], ...]:
    _check_ids(model_id, version)
    if not 0 <= layer <= U8_MAX:
        raise EntriesError(f"layer index {layer!r}: expected 0..255")
    return (
        ("hdr.din.model_id", Exact(model_id)),
        ("hdr.din.model_version", Exact(version)),
        ("meta.mlp.layer", Exact(layer)),
    )


def _check_ids(model_id: int, version: int) -> None:
    if not 0 <= model_id <= 0xFFFF:
        raise EntriesError(f"model id {model_id!r}: expected 0..65535 (bit<16>)")
    if not 1 <= version <= U8_MAX:
        raise EntriesError(
            f"model version {version!r}: expected 1..255 (bit<8>; 0 means the active one)"
        )


def layer_entries(model_id: int, version: int, index: int, layer: IntLayer) -> list[TableEntry]:
    """The mlp_bias entry and the mlp_in_<i> entries of one layer.

    Values v with an all-zero product row get no entry (a miss adds nothing),
    so a full 16 x 16 layer gives 1 + 16 * 255 entries and padding gives none.
    """
    where = f"model {model_id} version {version} layer {index}"
    layer = check_layer(layer, where)
    key = _key(model_id, version, index)
    bias = tuple((f"b{j}", twos(int(b), 32, f"{where} b{j}")) for j, b in enumerate(layer.bias))
    out = [TableEntry(BIAS_TABLE, key, MLP + "set_bias", (("shift", layer.shift), *bias))]
    for i in range(MLP_WIDTH):
        column = layer.weight[:, i]
        if not column.any():
            continue
        for v in range(1, U8_MAX + 1):
            params = tuple((f"p{j}", int(w) * v & 0xFFFFFFFF) for j, w in enumerate(column))
            out.append(
                TableEntry(
                    f"{MLP}mlp_in_{i}",
                    (*key, (f"hdr.din_vec.v{i}", Exact(v))),
                    MLP + "accumulate",
                    params,
                )
            )
    return out


def model_entries(
    model: MLPModel,
    model_id: int,
    version: int | None = None,
    layers: Iterable[int] | None = None,
    layer_offset: int = 0,
) -> list[TableEntry]:
    """Entries of ``model``'s layers (all by default) as layer indices offset + k."""
    ver = model.version if version is None else version
    chosen = range(len(model.layers)) if layers is None else layers
    out: list[TableEntry] = []
    for k in chosen:
        if not 0 <= k < len(model.layers):
            raise EntriesError(
                f"model {model.name!r}: layer {k!r}: expected 0..{len(model.layers) - 1}"
            )
        where = f"model {model.name!r} layer {k}"
        int_l = int_layer(model.layers[k], where)
        out.extend(layer_entries(model_id, ver, layer_offset + k, int_l))
    log.info("model %r as id %d version %d: %d entries", model.name, model_id, ver, len(out))
    return out


def head_entries(head: MLPModel, model_id: int, version: int, head_layer: int) -> list[TableEntry]:
    """An early-exit head (models layer: ``shared_layers`` copied + one layer) at ``head_layer``.

    Gives the head layer's entries and its exit_threshold entries. din.p4 keys
    exit_threshold by (model, version, class) only, so these thresholds also
    govern a FINAL layer of the same model version.
    """
    extra = len(head.layers) - head.shared_layers
    if head.shared_layers < 1 or extra != 1:
        raise EntriesError(
            f"exit head {head.name!r}: {head.shared_layers} shared and {extra} own layers: "
            "expected at least 1 shared layer and exactly 1 own layer (one pass in din.p4)"
        )
    where = f"exit head {head.name!r}"
    layer = int_layer(head.layers[head.shared_layers], where)
    out = layer_entries(model_id, version, head_layer, layer)
    out.extend(exit_entries(model_id, version, head.exit_thresholds))
    return out


def role_entries(model_id: int, version: int, roles: Sequence[Role]) -> list[TableEntry]:
    """``mlp_role`` entries: which stages this switch computes and what follows."""
    _check_ids(model_id, version)
    out = []
    seen: set[int] = set()
    for role in roles:
        where = f"role of model {model_id} version {version} stage {role.stage}"
        if role.mode not in MODES:
            raise EntriesError(f"{where}: mode {role.mode!r}: expected one of {MODES!r}")
        if not 0 <= role.stage < U8_MAX:
            raise EntriesError(f"{where}: stage {role.stage!r}: expected 0..254")
        if role.stage in seen:
            raise EntriesError(f"{where}: stage {role.stage!r} given twice")
        seen.add(role.stage)
        needs_classes = role.mode in (MODE_FINAL, MODE_EXIT_HEAD)
        lo = 1 if needs_classes else 0
        if not lo <= role.num_classes <= MLP_WIDTH:
            raise EntriesError(
                f"{where}: num_classes {role.num_classes!r}: expected {lo}..{MLP_WIDTH}"
            )
        if not 0 <= role.head_layer <= U8_MAX:
            raise EntriesError(f"{where}: head_layer {role.head_layer!r}: expected 0..255")
        out.append(
            TableEntry(
                "MyIngress.mlp_role",
                (
                    ("hdr.din.model_id", Exact(model_id)),
                    ("hdr.din.model_version", Exact(version)),
                    ("hdr.din.stage", Exact(role.stage)),
                ),
                "MyIngress.set_mlp_role",
                (
                    ("mode", role.mode),
                    ("head_layer", role.head_layer),
                    ("num_classes", role.num_classes),
                ),
            )
        )
    return out


def exit_entries(model_id: int, version: int, thresholds: Sequence[int]) -> list[TableEntry]:
    """``exit_threshold`` entries from the models layer's per-class thresholds.

    Both the models layer (``quant.exits``) and din.p4 answer when confidence >=
    the threshold, so min_confidence = t; t > 255 (``NEVER_EXIT``) gets no entry,
    since a confidence never exceeds 255.
    """
    _check_ids(model_id, version)
    if len(thresholds) > MLP_WIDTH:
        raise EntriesError(
            f"exit thresholds of model {model_id}: {len(thresholds)} classes, "
            f"expected at most {MLP_WIDTH}"
        )
    out = []
    for cls, t in enumerate(thresholds):
        if t < 0:
            raise EntriesError(f"exit threshold of class {cls}: {t!r}: expected 0..255")
        if t > U8_MAX:
            continue
        out.append(
            TableEntry(
                "MyIngress.exit_threshold",
                (
                    ("hdr.din.model_id", Exact(model_id)),
                    ("hdr.din.model_version", Exact(version)),
                    ("meta.exit_class", Exact(cls)),
                ),
                "MyIngress.set_exit_threshold",
                (("min_confidence", t),),
            )
        )
    return out


def active_version_entry(model_id: int, version: int) -> TableEntry:
    """``active_model_version``: requests with version 0 use ``version``."""
    _check_ids(model_id, version)
    return TableEntry(
        "MyIngress.active_model_version",
        (("hdr.din.model_id", Exact(model_id)),),
        "MyIngress.set_model_version",
        (("version", version),),
    )
