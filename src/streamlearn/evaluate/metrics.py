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

from streamlearn.base.losses import PROBABILITY_CLIP, class_log_losses
from streamlearn.base.predictions import best_classes

EPS = PROBABILITY_CLIP


class Metric(ABC):
    """A streaming metric; ``window`` keeps only the last ``window`` events.

    Parameters
    ----------
    window
        Only the last ``window`` events count (None: every event).

    Example
    -------
    >>> auc = ROCAUC()
    >>> auc.update_many(np.array([0.0, 1.0, 1.0, 0.0]), np.array([0.1, 0.9, 0.8, 0.3]))
    >>> isinstance(auc, Metric), auc.get()
    (True, 1.0)
    """

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

    def state(self) -> dict[str, np.ndarray]:
        """Everything the metric has accumulated, as arrays (checkpoints carry it)."""
        return _arrays_of(self)

    def load(self, arrays: dict[str, np.ndarray]) -> None:
        """Continue from :meth:`state` (of a metric built with the same settings)."""
        _load_into(self, arrays)


def _arrays_of(obj: object, prefix: str = "") -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name, value in vars(obj).items():
        if isinstance(value, _Ring):
            out |= _arrays_of(value, f"{prefix}{name}.")
        elif isinstance(value, np.ndarray):
            out[prefix + name] = value.copy()
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[prefix + name] = np.array(value)
    return out


def _load_into(obj: object, arrays: dict[str, np.ndarray], prefix: str = "") -> None:
    for name, value in vars(obj).items():
        key = prefix + name
        if isinstance(value, _Ring):
            _load_into(value, arrays, f"{key}.")
        elif key not in arrays:
            continue
        elif isinstance(value, np.ndarray):
            grows = name in getattr(obj, "growing", ())  # one row per class, say
            same = arrays[key].shape[grows:] == value.shape[grows:]
            if not same or arrays[key].ndim != value.ndim:
                raise ValueError(f"metric state {key}: shape {arrays[key].shape} != {value.shape}")
            setattr(obj, name, arrays[key].astype(value.dtype))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            setattr(obj, name, type(value)(arrays[key]))


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
    """The mean of a per-event quantity (a loss, or 1 for a correct prediction).

    Parameters
    ----------
    window
        Only the last ``window`` events count (None: every event).

    Example
    -------
    >>> mae = MAE(window=2)
    >>> mae.update_many(np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 5.0]))
    >>> isinstance(mae, MeanMetric), mae.get()
    (True, 1.0)
    """

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
    """The share of events whose class (probability ≥ 0.5) was right.

    Parameters
    ----------
    window
        None: over the whole stream; a number: over the last ``window`` events only.

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> from streamlearn.models import LogisticRegression
    >>> metric = Accuracy()
    >>> model = LogisticRegression(bits=16)
    >>> _ = progressive_val_score_one(model, elec2.stream(limit=2000), [metric])
    >>> round(metric.get(), 3)
    0.848
    """

    name = "accuracy"

    def per_event(self, y_true, y_pred):
        return ((y_pred >= 0.5) == (y_true >= 0.5)).astype(np.float64)


class LogLoss(MeanMetric):
    """Binary log loss of the predicted probabilities (clipped away from 0 and 1).

    Parameters
    ----------
    window
        None: over the whole stream; a number: over the last ``window`` events only.

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> from streamlearn.models import LogisticRegression
    >>> metric = LogLoss()
    >>> model = LogisticRegression(bits=16)
    >>> _ = progressive_val_score_one(model, elec2.stream(limit=2000), [metric])
    >>> round(metric.get(), 3)
    0.338
    """

    name = "log_loss"
    bigger_is_better = False

    def per_event(self, y_true, y_pred):
        p = np.clip(y_pred, EPS, 1 - EPS)
        return -(y_true * np.log(p) + (1 - y_true) * np.log(1 - p))


class MAE(MeanMetric):
    """Mean absolute error.

    Parameters
    ----------
    window
        None: over the whole stream; a number: over the last ``window`` events only.

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> from streamlearn.models import LinearRegression
    >>> metric = MAE()
    >>> model = LinearRegression(bits=16)
    >>> _ = progressive_val_score_one(model, elec2.demand(limit=2000), [metric])
    >>> round(metric.get(), 4)
    0.0885
    """

    name = "mae"
    bigger_is_better = False

    def per_event(self, y_true, y_pred):
        return np.abs(y_true - y_pred)


class MSE(MeanMetric):
    """Mean squared error.

    Parameters
    ----------
    window
        None: over the whole stream; a number: over the last ``window`` events only.

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> from streamlearn.models import LinearRegression
    >>> metric = MSE()
    >>> model = LinearRegression(bits=16)
    >>> _ = progressive_val_score_one(model, elec2.demand(limit=2000), [metric])
    >>> round(metric.get(), 4)
    0.0119
    """

    name = "mse"
    bigger_is_better = False

    def per_event(self, y_true, y_pred):
        return (y_true - y_pred) ** 2


class RMSE(MSE):
    """Root mean squared error.

    Parameters
    ----------
    window
        None: over the whole stream; a number: over the last ``window`` events only.

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> from streamlearn.models import LinearRegression
    >>> metric = RMSE()
    >>> model = LinearRegression(bits=16)
    >>> _ = progressive_val_score_one(model, elec2.demand(limit=2000), [metric])
    >>> round(metric.get(), 4)
    0.1092
    """

    name = "rmse"

    def get(self) -> float:
        return math.sqrt(super().get()) if self.count else math.nan


class ROCAUC(Metric):
    """Area under the ROC curve from score histograms (``bins`` buckets; ties count half).

    The error against the exact AUC is at most the share of positive–negative pairs whose
    scores fall in one bucket: below 1e-4 with the default 16,384 buckets on real streams.

    Parameters
    ----------
    window
        None: over the whole stream; a number: over the last ``window`` events only.
    bins
        Score buckets.

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> from streamlearn.models import LogisticRegression
    >>> metric = ROCAUC()
    >>> model = LogisticRegression(bits=16)
    >>> _ = progressive_val_score_one(model, elec2.stream(limit=2000), [metric])
    >>> round(metric.get(), 3)
    0.931
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
        if len(codes):  # a bincount, as np.add.at is ten times slower
            flat = (codes % 2) * self.bins + codes // 2
            self.counts += sign * np.bincount(flat, minlength=2 * self.bins).reshape(2, -1)

    def get(self) -> float:
        neg, pos = self.counts
        n_pos, n_neg = pos.sum(), neg.sum()
        if n_pos == 0 or n_neg == 0:
            return math.nan
        negatives_below = np.cumsum(neg) - neg
        wins = (pos * negatives_below).sum() + 0.5 * (pos * neg).sum()
        return float(wins / (n_pos * n_neg))


class R2(Metric):
    """Coefficient of determination, 1 - SSE / SST, over the stream or the window.
    Parameters
    ----------
    window
        None: over the whole stream; a number: over the last ``window`` events only.

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> from streamlearn.models import LinearRegression
    >>> metric = R2()
    >>> model = LinearRegression(bits=16)
    >>> _ = progressive_val_score_one(model, elec2.demand(limit=2000), [metric])
    >>> round(metric.get(), 4)
    0.4719
    """

    name = "r2"

    def __init__(self, window: int | None = None) -> None:
        super().__init__(window)
        self._targets = _Ring(window) if window else None
        self._errors = _Ring(window) if window else None
        self.count, self.mean, self.m2, self.sse = 0, 0.0, 0.0, 0.0

    def update_many(self, y_true: np.ndarray, y_pred: np.ndarray) -> None:
        y_true = np.asarray(y_true, float)
        errors = (y_true - np.asarray(y_pred, float)) ** 2
        if self._targets is not None:
            self._targets.push(y_true)
            self._errors.push(errors)
            window = self._targets.current()
            self.count, self.mean = len(window), float(window.mean()) if len(window) else 0.0
            self.m2 = float(((window - self.mean) ** 2).sum())
            self.sse = float(self._errors.current().sum())
            return
        # Chan et al.'s parallel update of the running mean and sum of squares.
        n = len(y_true)
        if n == 0:
            return
        batch_mean = float(y_true.mean())
        delta = batch_mean - self.mean
        total = self.count + n
        self.m2 += float(((y_true - batch_mean) ** 2).sum()) + delta**2 * self.count * n / total
        self.mean += delta * n / total
        self.count = total
        self.sse += float(errors.sum())

    def get(self) -> float:
        if self.count < 2 or self.m2 <= 0:
            return math.nan
        return 1.0 - self.sse / self.m2


class _MulticlassMean(MeanMetric):
    """Multiclass metrics take class ids and rows of class probabilities."""

    def update(self, y_true: int, y_pred: np.ndarray) -> None:
        self.update_many(np.array([y_true]), np.atleast_2d(np.asarray(y_pred, float)))


class MulticlassAccuracy(_MulticlassMean):
    """The share of events whose most probable class was right.

    Parameters
    ----------
    window
        None: over the whole stream; a number: over the last ``window`` events only.

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> from streamlearn.models import SoftmaxRegression
    >>> metric = MulticlassAccuracy()
    >>> model = SoftmaxRegression(bits=16)
    >>> _ = progressive_val_score_one(model, elec2.moves(limit=2000), [metric])
    >>> round(metric.get(), 3)
    0.816
    """

    name = "accuracy"

    def per_event(self, y_true, y_pred):
        return (best_classes(y_pred) == y_true).astype(np.float64)


class CrossEntropy(_MulticlassMean):
    """Multiclass log loss; a class unknown when its event was predicted had probability 0.
    Parameters
    ----------
    window
        None: over the whole stream; a number: over the last ``window`` events only.

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> from streamlearn.models import SoftmaxRegression
    >>> metric = CrossEntropy()
    >>> model = SoftmaxRegression(bits=16)
    >>> _ = progressive_val_score_one(model, elec2.moves(limit=2000), [metric])
    >>> round(metric.get(), 3)
    0.537
    """

    name = "log_loss"
    bigger_is_better = False

    def per_event(self, y_true, y_pred):
        return class_log_losses(y_true, y_pred)


class MacroF1(Metric):
    """The mean over classes of F1 = 2·TP / (2·TP + FP + FN), from streaming counts.
    Parameters
    ----------
    window
        None: over the whole stream; a number: over the last ``window`` events only.

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> from streamlearn.models import SoftmaxRegression
    >>> metric = MacroF1()
    >>> model = SoftmaxRegression(bits=16)
    >>> _ = progressive_val_score_one(model, elec2.moves(limit=2000), [metric])
    >>> round(metric.get(), 3)
    0.629
    """

    name = "macro_f1"
    growing = ("counts",)  # rows of classes seen so far

    def __init__(self, window: int | None = None) -> None:
        super().__init__(window)
        self.counts = np.zeros((0, 3), np.int64)  # per class: TP, FP, FN
        self._ring = _Ring(window, np.int64) if window else None

    def update(self, y_true: int, y_pred: np.ndarray) -> None:
        self.update_many(np.array([y_true]), np.atleast_2d(np.asarray(y_pred, float)))

    def update_many(self, y_true: np.ndarray, y_pred: np.ndarray) -> None:
        truth = np.asarray(y_true).astype(np.int64)
        # One code per event: (true + 1) * 2**31 + (predicted + 1).
        codes = (truth + 1) * (1 << 31) + best_classes(y_pred) + 1
        self._count(codes, 1)
        if self._ring is not None:
            self._count(self._ring.push(codes), -1)

    def _count(self, codes: np.ndarray, sign: int) -> None:
        if not len(codes):
            return
        truth, predicted = codes // (1 << 31) - 1, codes % (1 << 31) - 1
        size = max(int(truth.max()), int(predicted.max())) + 1
        if size > len(self.counts):
            self.counts = np.vstack([self.counts, np.zeros((size - len(self.counts), 3), np.int64)])
        hit = truth == predicted
        np.add.at(self.counts[:, 0], truth[hit], sign)
        miss = ~hit
        np.add.at(self.counts[:, 1], predicted[miss & (predicted >= 0)], sign)
        np.add.at(self.counts[:, 2], truth[miss], sign)

    def get(self) -> float:
        tp, fp, fn = self.counts.T
        seen = (tp + fp + fn) > 0
        if not seen.any():
            return math.nan
        return float(np.mean(2 * tp[seen] / (2 * tp[seen] + fp[seen] + fn[seen])))


def default_metrics(task: str, window: int | None = 1000) -> list[Metric]:
    """The metrics reported for a task, each over the whole stream and the last ``window``."""
    kinds: dict[str, list[type[Metric]]] = {
        "binary": [Accuracy, LogLoss, ROCAUC],
        "multiclass": [MulticlassAccuracy, MacroF1, CrossEntropy],
        "regression": [MAE, RMSE, R2],
    }
    if task not in kinds:
        raise ValueError(f"unknown task {task!r}; expected one of {sorted(kinds)}")
    metrics = [kind() for kind in kinds[task]]
    if window:
        metrics += [kind(window=window) for kind in kinds[task]]
    return metrics


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """The area under the precision–recall curve as average precision: the mean, over the
    positives, of the precision among the events scored at least as high (ties together)."""
    scores, labels = np.asarray(scores, np.float64), np.asarray(labels) >= 0.5
    if not labels.any():
        return math.nan
    order = np.argsort(-scores, kind="stable")
    ranked_scores, ranked = scores[order], labels[order]
    hits = np.cumsum(ranked)
    # Precision where each distinct score ends (ties share one point).
    last = np.r_[ranked_scores[1:] != ranked_scores[:-1], True]
    precision = hits[last] / (np.flatnonzero(last) + 1)
    new_hits = np.diff(np.r_[0, hits[last]])
    return float((precision * new_hits).sum() / labels.sum())


def recall_at_fpr(scores: np.ndarray, labels: np.ndarray, fpr: float) -> tuple[float, float]:
    """(recall, precision) at the highest threshold whose false-positive rate is ≤ ``fpr``
    (an oracle threshold, for comparing scorers on one yardstick)."""
    scores, labels = np.asarray(scores, np.float64), np.asarray(labels) >= 0.5
    negatives = np.sort(scores[~labels])[::-1]
    allowed = math.floor(fpr * len(negatives))
    threshold = negatives[allowed] if allowed < len(negatives) else -np.inf
    flagged = scores > threshold
    recall = float(flagged[labels].mean()) if labels.any() else math.nan
    precision = float(labels[flagged].mean()) if flagged.any() else math.nan
    return recall, precision
