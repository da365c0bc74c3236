"""Predictions as the engine carries them: one number per event (a probability, a value, a
score), or for a multiclass learner one row of class probabilities per event.

Classes appear as a stream goes on, so rows made at different times have different widths:
a class the model did not know yet had probability 0, and rows are padded with zeros.

>>> import numpy as np
>>> stack_predictions([np.array([[0.4, 0.6]]), np.array([[0.2, 0.3, 0.5]])]).tolist()
[[0.4, 0.6, 0.0], [0.2, 0.3, 0.5]]
>>> predictions_from_values([0.5, 0.25]).tolist(), predictions_from_values([[1.0], [0.5, 0.5]])
([0.5, 0.25], array([[1. , 0. ],
       [0.5, 0.5]]))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def best_classes(proba: np.ndarray) -> np.ndarray:
    """The most probable class of each row of probabilities; -1 where no class was learned
    yet (a row of zeros)."""
    proba = np.atleast_2d(proba)
    if proba.shape[1] == 0:
        return np.full(len(proba), -1)
    return np.where(proba.max(axis=1) > 0, proba.argmax(axis=1), -1)


def widened(predictions: np.ndarray, width: int) -> np.ndarray:
    """Rows of class probabilities padded with zeros to ``width`` columns; numbers (such as
    NaN placeholders) become rows that repeat them."""
    predictions = np.asarray(predictions, np.float64)
    if predictions.ndim == 1:
        return np.repeat(predictions[:, None], width, axis=1)
    if predictions.shape[1] >= width:
        return predictions
    out = np.zeros((len(predictions), width))
    out[:, : predictions.shape[1]] = predictions
    return out


def width_of(*predictions: np.ndarray) -> int | None:
    """The widest of some rows of class probabilities (None: all are numbers)."""
    widths = [p.shape[1] for p in predictions if np.ndim(p) == 2]
    return max(widths) if widths else None


def fitted(predictions: np.ndarray, width: int | None) -> np.ndarray:
    """``predictions`` as rows ``width`` wide (unchanged when ``width`` is None)."""
    return predictions if width is None else widened(predictions, width)


def stack_predictions(parts: Sequence[np.ndarray]) -> np.ndarray:
    """Predictions of consecutive groups as one array (rows padded to the widest)."""
    if not parts:
        return np.zeros(0)
    width = width_of(*parts)
    return np.concatenate([fitted(np.asarray(p, np.float64), width) for p in parts])


def predictions_from_values(values: Sequence[Any]) -> np.ndarray:
    """Predictions from stored values: numbers, or lists of class probabilities."""
    rows = [v for v in values if isinstance(v, list | tuple | np.ndarray)]
    if not rows:
        return np.asarray(values, np.float64).reshape(len(values))
    width = max(len(r) for r in rows)
    out = np.zeros((len(values), width))
    for i, value in enumerate(values):
        out[i, : len(value)] = value
    return out


def class_predictions(classes: Sequence[Any], scores: np.ndarray) -> list[Any]:
    """The most probable of ``classes`` for each row of probabilities (None where no class
    was learned yet)."""
    labels = [*classes, None]
    return [labels[k] for k in best_classes(scores).tolist()]


def class_probabilities(classes: Sequence[Any], row: np.ndarray) -> list[dict[str, Any]]:
    """The probability of each class learned when the row was made, in the model's order
    of classes (a list: ``1`` and ``"1"`` may be two classes, which JSON's keys cannot
    tell apart)."""
    pairs = zip(classes, np.asarray(row).tolist(), strict=False)
    return [{"class": label, "probability": float(p)} for label, p in pairs if p > 0]


def logged_predictions(classes: Sequence[Any], scores: np.ndarray) -> np.ndarray:
    """What a prediction log records of rows of class probabilities: per event, the class
    answered and the probabilities (as the service answers them)."""
    labels = class_predictions(classes, scores)
    out = np.empty(len(labels), dtype=object)
    for i, (label, row) in enumerate(zip(labels, scores, strict=True)):
        out[i] = {"class": label, "probabilities": class_probabilities(classes, row)}
    return out
