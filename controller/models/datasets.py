"""Data sets that ship offline: scikit-learn's digits pooled to 16 inputs.

Imports numpy, scikit-learn and the standard library only. Nothing here
downloads: ``load_digits`` is bundled with scikit-learn.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from controller.models.errors import ModelError

log = logging.getLogger(__name__)

DIGITS16 = "digits16"
DIGITS_MAX = 16.0  # load_digits pixels are counts 0..16


@dataclass(frozen=True, slots=True)
class Split:
    """A labelled train/test split: ``x`` features (floats or ints), ``y`` class indices."""

    name: str
    classes: tuple[str, ...]
    x_train: np.ndarray
    y_train: npt.NDArray[np.int64]
    x_test: np.ndarray
    y_test: npt.NDArray[np.int64]
    seed: int
    test_fraction: float


def pool_digits(images: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """8x8 digit images (n, 64) to 4x4 by 2x2 average pooling, scaled to 0..1: (n, 16)."""
    arr = np.asarray(images, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 64:
        raise ModelError(f"digit images: expected shape (n, 64), got {arr.shape!r}")
    blocks = arr.reshape(-1, 4, 2, 4, 2)
    pooled: npt.NDArray[np.float64] = blocks.mean(axis=(2, 4)).reshape(-1, 16) / DIGITS_MAX
    return pooled


def digits16(seed: int = 0, test_fraction: float = 0.25, limit: int | None = None) -> Split:
    """The digits set pooled to 16 inputs in 0..1, split stratified by ``seed``."""
    # Imported here so that modules needing only ``Split`` stay numpy-only.
    from sklearn.datasets import load_digits  # noqa: PLC0415
    from sklearn.model_selection import train_test_split  # noqa: PLC0415

    if not 0.0 < test_fraction < 1.0:
        raise ModelError(f"test fraction {test_fraction!r}: expected a number in (0, 1)")
    bunch = load_digits()
    x = pool_digits(bunch.data)
    y = np.asarray(bunch.target, dtype=np.int64)
    if limit is not None:
        x, y = x[:limit], y[:limit]
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y
    )
    log.debug("digits16: %d train, %d test samples", len(y_train), len(y_test))
    return Split(
        name=DIGITS16,
        classes=tuple(str(d) for d in range(10)),
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        seed=seed,
        test_fraction=test_fraction,
    )
