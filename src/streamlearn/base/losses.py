"""Per-event losses, defined once for everything that scores, watches or compares learners
(metrics, drift signals, rollback and promotion tests, learning-rate search).

>>> import numpy as np
>>> log_losses(np.array([1.0, 0.0]), np.array([0.9, 0.9])).round(4).tolist()
[0.1054, 2.3026]
>>> float(log_losses(np.array([1.0]), np.array([0.0]))[0])  # clipped: never infinite
34.538776394910684
>>> per_event_losses("regression", np.array([1.0]), np.array([3.0])).tolist()
[4.0]
"""

from __future__ import annotations

import numpy as np

PROBABILITY_CLIP = 1e-15  # probabilities are clipped to [clip, 1 - clip]: a log loss ≤ ~34.5


def log_losses(targets: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Binary log loss of each event (a target ≥ 0.5 is a positive)."""
    p = np.clip(probabilities, PROBABILITY_CLIP, 1.0 - PROBABILITY_CLIP)
    return -np.where(targets >= 0.5, np.log(p), np.log1p(-p))


def squared_errors(targets: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    return (predictions - targets) ** 2


def class_log_losses(classes: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Multiclass log loss of each event: ``classes`` are class ids, ``probabilities`` rows
    over the classes (a class beyond a row's width had probability 0)."""
    probabilities = np.atleast_2d(probabilities)
    ids = np.asarray(classes).astype(np.int64)
    inside = ids < probabilities.shape[1]
    p = np.zeros(len(ids))
    p[inside] = probabilities[np.flatnonzero(inside), ids[inside]]
    return -np.log(np.clip(p, PROBABILITY_CLIP, 1.0))


def per_event_losses(task: str, targets: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """Log loss for a classifier (binary, or over class probabilities), squared error for
    anything scored as a regression."""
    if task == "binary":
        return log_losses(targets, predictions)
    if task == "multiclass":
        return class_log_losses(targets, predictions)
    return squared_errors(targets, predictions)
