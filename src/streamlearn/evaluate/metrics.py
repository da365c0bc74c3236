"""Streaming metrics, over the whole stream or over a rolling window of the last events.

Classification metrics take the predicted probability of the positive class. Every metric
has ``update`` (one event) and ``update_many`` (arrays, same result) and memory that does not
grow with the stream: windows are ring buffers; ROC AUC is computed from score histograms.

>>> from streamlearn.evaluate.metrics import Accuracy, LogLoss
>>> acc, rolling = Accuracy(), Accuracy(window=2)
>>> for y, p in [(1, 0.9), (0, 0.8), (1, 0.7)]:
...     acc.update(y, p)
...     rolling.update(y, p)
>>> round(acc.get(), 3), rolling.get()
(0.667, 0.5)
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import numpy as np

EPS = 1e-15


class Metric(ABC):
    """A streaming metric; ``window`` keeps only the last ``window`` events."""

    name: str = ""
    bigger_is_better = True

    def __init__(self, window: int | None = None) -> None:
        if window is not None and window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.window = window

    @property
    def label(self) -> str:
        return self.name if self.window is None else f"rolling_{self.name}"

    def update(self, y_true: float, y_pred: float) -> None:
        self.update_many(np.array([float(y_true)]), np.array([float(y_pred)]))

    @abstractmethod
    def update_many(self, y_true: np.ndarray, y_pred: np.ndarray) -> None: ...

    @abstractmethod
    def get(self) -> float: ...

    def __repr__(self) -> str:
        return f"{self.label}: {self.get():.6f}"


class _Ring:
    """The last ``size`` values of a stream of numbers."""

    def __init__(self, size: int, dtype=np.float64) -> None:
        self.values = np.zeros(size, dtype)
        self.pos = 0
        self.filled = 0

    def push(self, new: np.ndarray) -> np.ndarray:
        """Append ``new``; return the values that fell out of the window."""
        size = len(self.values)
        if len(new) >= size:
            dropped = np.concatenate([self._ordered(), new[:-size]])
            self.values[:] = new[-size:]
            self.pos, self.filled = 0, size
            return dropped
        idx = (self.pos + np.arange(len(new))) % size
        n_dropped = max(0, self.filled + len(new) - size)
        # Until the ring is full the first writes land on empty slots: only the last
        # n_dropped writes wrap onto (and push out) the oldest values.
        dropped = self.values[idx[len(new) - n_dropped :]].copy()
        self.values[idx] = new
        self.pos = (self.pos + len(new)) % size
        self.filled = min(size, self.filled + len(new))
        return dropped

    def _ordered(self) -> np.ndarray:
        if self.filled < len(self.values):
            return self.values[: self.filled].copy()
        return np.roll(self.values, -self.pos)

    def current(self) -> np.ndarray:
        return self.values[: self.filled] if self.filled < len(self.values) else self.values


class MeanMetric(Metric):
    """The mean of a per-event quantity (a loss, or 1 for a correct prediction)."""

    def __init__(self, window: int | None = None) -> None:
        super().__init__(window)
        self.total = 0.0
        self.count = 0
        self._ring = _Ring(window) if window else None

    @abstractmethod
    def per_event(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray: ...

    def update_many(self, y_true: np.ndarray, y_pred: np.ndarray) -> None:
        values = self.per_event(np.asarray(y_true, float), np.asarray(y_pred, float))
        if self._ring is None:
            self.total += float(values.sum())
            self.count += len(values)
        else:
            self._ring.push(values)
            # Re-summing the window (not adding and subtracting) keeps rounding from drifting.
            self.total = float(self._ring.current().sum())
            self.count = self._ring.filled

    def get(self) -> float:
        return self.total / self.count if self.count else math.nan


class Accuracy(MeanMetric):
    name = "accuracy"

    def per_event(self, y_true, y_pred):
        return ((y_pred >= 0.5) == (y_true >= 0.5)).astype(np.float64)


class LogLoss(MeanMetric):
    name = "log_loss"
    bigger_is_better = False

    def per_event(self, y_true, y_pred):
        p = np.clip(y_pred, EPS, 1 - EPS)
        return -(y_true * np.log(p) + (1 - y_true) * np.log(1 - p))


class MAE(MeanMetric):
    name = "mae"
    bigger_is_better = False

    def per_event(self, y_true, y_pred):
        return np.abs(y_true - y_pred)


class MSE(MeanMetric):
    name = "mse"
    bigger_is_better = False

    def per_event(self, y_true, y_pred):
        return (y_true - y_pred) ** 2


class RMSE(MSE):
    name = "rmse"

    def get(self) -> float:
        return math.sqrt(super().get()) if self.count else math.nan


class ROCAUC(Metric):
    """Area under the ROC curve from score histograms (``bins`` buckets; ties count half).

    The error against the exact AUC is at most the share of positive–negative pairs whose
    scores fall in one bucket: below 1e-4 with the default 16,384 buckets on real streams.
    """

    name = "roc_auc"

    def __init__(self, window: int | None = None, bins: int = 1 << 14) -> None:
        super().__init__(window)
        self.bins = bins
        self.counts = np.zeros((2, bins), np.int64)
        self._ring = _Ring(window, np.int64) if window else None

    def update_many(self, y_true: np.ndarray, y_pred: np.ndarray) -> None:
        buckets = np.clip(
            (np.asarray(y_pred, float) * self.bins).astype(np.int64), 0, self.bins - 1
        )
        codes = buckets * 2 + (np.asarray(y_true, float) >= 0.5)
        self._add(codes, 1)
        if self._ring is not None:
            self._add(self._ring.push(codes), -1)

    def _add(self, codes: np.ndarray, sign: int) -> None:
        if len(codes):
            np.add.at(self.counts, (codes % 2, codes // 2), sign)

    def get(self) -> float:
        neg, pos = self.counts
        n_pos, n_neg = pos.sum(), neg.sum()
        if n_pos == 0 or n_neg == 0:
            return math.nan
        negatives_below = np.cumsum(neg) - neg
        wins = (pos * negatives_below).sum() + 0.5 * (pos * neg).sum()
        return float(wins / (n_pos * n_neg))


def default_metrics(task: str, window: int | None = 1000) -> list[Metric]:
    """The metrics reported for a task, each over the whole stream and the last ``window``."""
    kinds: dict[str, list[type[Metric]]] = {
        "binary": [Accuracy, LogLoss, ROCAUC],
        "regression": [MAE, RMSE],
    }
    if task not in kinds:
        raise ValueError(f"unknown task {task!r}; expected one of {sorted(kinds)}")
    metrics = [kind() for kind in kinds[task]]
    if window:
        metrics += [kind(window=window) for kind in kinds[task]]
    return metrics
