"""The models a node serves, and the integer inference that finishes a DIN request.

A node serves MLP model files (``controller.models.files``) under a DIN
``model_id``; the layers still to compute run through the models layer's
integer reference (``controller.models.quant.forward_int``), the very
arithmetic of a switch's MLP layer (p4src/README.md "Integer arithmetic"), so
a node's answer is what a switch computing those layers would give. The class
scores of the output layer are uint8 values (a zero point of 128 is folded
into the bias), carried as they are in the answer's vector.

Imports numpy, ``controller.models`` and the standard library only.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from controller.models.errors import ModelError
from controller.models.files import load_model
from controller.models.quant import MLPModel, forward_int

log = logging.getLogger(__name__)

VECTOR_LEN = 16  # values in a DIN message's vector
MAX_MODEL_ID = 0xFFFF
MAX_MODEL_VERSION = 0xFF  # the header's model_version is one byte; 0 = "active"
MAX_CONFIDENCE = 0xFF
U8_MAX = 0xFF


class NodeError(Exception):
    """A node's configuration, model or request cannot be served."""


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A model file to serve under a DIN model id (``ID=FILE`` on the command line)."""

    path: Path
    model_id: int | None = None

    @classmethod
    def parse(cls, text: str) -> ModelSpec:
        """Parse ``FILE`` or ``ID=FILE``."""
        head, sep, tail = text.partition("=")
        if sep and head.isdigit():
            model_id = int(head)
            if not 1 <= model_id <= MAX_MODEL_ID:
                raise NodeError(f"model spec {text!r}: model id {model_id!r}: expected 1..65535")
            if not tail:
                raise NodeError(f"model spec {text!r}: expected a file after '='")
            return cls(Path(tail), model_id)
        return cls(Path(text))


@dataclass(frozen=True, slots=True)
class ServedModel:
    """A loaded MLP with the DIN model id and version it answers to."""

    model_id: int
    model: MLPModel
    large: bool = False

    @property
    def version(self) -> int:
        """The model version (1..255) as carried in the DIN header."""
        return self.model.version

    @property
    def layers(self) -> int:
        """Number of layers."""
        return len(self.model.layers)


@dataclass(frozen=True, slots=True)
class Result:
    """The outcome of finishing a request: class, confidence and the score vector."""

    result_class: int
    confidence: int
    vector: tuple[int, ...]
    layers_run: int


def load_served(path: str | os.PathLike[str], model_id: int, *, large: bool = False) -> ServedModel:
    """Load a model file and check that a DIN header can address it."""
    try:
        model = load_model(path)
    except ModelError as exc:
        raise NodeError(str(exc)) from exc
    if not isinstance(model, MLPModel):
        raise NodeError(
            f"model file {str(path)!r}: kind {type(model).__name__!r}: expected an MLP model"
        )
    if not 1 <= model.version <= MAX_MODEL_VERSION:
        raise NodeError(
            f"model file {str(path)!r}: version {model.version!r}: expected 1..255 "
            "(the DIN header's model_version is one byte, 0 meaning the active one)"
        )
    if len(model.classes) > VECTOR_LEN:
        raise NodeError(
            f"model file {str(path)!r}: {len(model.classes)!r} classes: expected at most "
            f"{VECTOR_LEN} (one score per vector value)"
        )
    return ServedModel(model_id, model, large)


class Catalog:
    """Served models by (model id, version), and the escalation (large) models."""

    def __init__(self, models: Iterable[ServedModel], escalation: Iterable[ServedModel]) -> None:
        """Index the models; two models with the same id and version are refused."""
        self._models: dict[tuple[int, int], ServedModel] = {}
        self._large: dict[int, ServedModel] = {}
        for served in models:
            key = (served.model_id, served.version)
            if key in self._models:
                raise NodeError(
                    f"model {served.model.name!r}: id {key[0]!r} version {key[1]!r} "
                    "is served twice: expected one file per id and version"
                )
            self._models[key] = served
        for served in escalation:
            if served.model_id in self._large:
                raise NodeError(
                    f"escalation model {served.model.name!r}: id {served.model_id!r} "
                    "has two escalation models: expected at most one per id"
                )
            self._large[served.model_id] = served

    @property
    def models(self) -> tuple[ServedModel, ...]:
        """Every served model, the escalation models last."""
        return (*self._models.values(), *self._large.values())

    def lookup(self, model_id: int, version: int) -> ServedModel | None:
        """The model for a request; version 0 picks the highest version served."""
        if version:
            return self._models.get((model_id, version))
        versions = [v for (mid, v) in self._models if mid == model_id]
        return self._models[(model_id, max(versions))] if versions else None

    def escalation(self, model_id: int) -> ServedModel | None:
        """The large model serving escalations of ``model_id``, if any."""
        return self._large.get(model_id)


def can_start(served: ServedModel, stage: int) -> bool:
    """Whether ``served`` can take a vector that is the input of layer ``stage``."""
    return 0 <= stage < served.layers and served.model.layers[stage].inputs <= VECTOR_LEN


def finish(served: ServedModel, stage: int, vector: Sequence[int]) -> Result:
    """Run layers ``stage``.. of the model on the vector; class by argmax, margin confidence."""
    if not can_start(served, stage):
        raise NodeError(
            f"model {served.model.name!r}: stage {stage!r}: expected a layer in "
            f"0..{served.layers - 1} whose inputs fit the {VECTOR_LEN}-value vector"
        )
    width = served.model.layers[stage].inputs
    x = np.asarray(vector[:width], dtype=np.int64)
    try:
        scores = forward_int(served.model, x, stage)
    except ModelError as exc:
        raise NodeError(f"model {served.model.name!r} at stage {stage!r}: {exc}") from exc
    # argmax takes the lowest index on ties, as a switch scanning the scores does.
    top = int(np.argmax(scores))
    ordered = np.sort(scores)
    margin = int(ordered[-1] - ordered[-2]) if scores.size > 1 else int(ordered[-1])
    return Result(
        result_class=top,
        confidence=max(0, min(MAX_CONFIDENCE, margin)),
        vector=tuple(max(0, min(U8_MAX, int(v))) for v in scores),
        layers_run=served.layers - stage,
    )
