"""A metric over time, in constant memory: the mean of a per-event metric in consecutive
buckets of events, for plots.

Buckets start one event wide; whenever there are ``2 * points`` of them, neighbours merge
and the width doubles, so a stream of any length ends with between ``points`` and
``2 * points`` buckets of equal width (and a last partial one).
"""

from __future__ import annotations

import math

import numpy as np

from streamlearn.evaluate.metrics import (
    MAE,
    RMSE,
    Accuracy,
    CrossEntropy,
    LogLoss,
    MeanMetric,
    MulticlassAccuracy,
)

CURVES: dict[str, tuple[type[MeanMetric], ...]] = {
    "binary": (LogLoss, Accuracy),
    "multiclass": (CrossEntropy, MulticlassAccuracy),
    "regression": (MAE, RMSE),
}


class Curve:
    """Bucketed means of ``metric``'s per-event values (its rolling twin, for pictures).

    Parameters
    ----------
    metric
        The metric whose per-event values are bucketed.
    points
        How many buckets the curve keeps; neighbours merge as the stream grows.

    Example
    -------
    >>> import numpy as np
    >>> from streamlearn.evaluate.metrics import Accuracy
    >>> curve = Curve(Accuracy(), points=2)
    >>> curve.update_many(np.array([1, 1, 0, 0, 1]), np.array([0.9, 0.8, 0.7, 0.6, 0.9]))
    >>> curve.update_many(np.array([1, 1]), np.array([0.9, 0.1]))
    >>> events, means = curve.series()
    >>> events.tolist(), means.tolist()
    ([2, 4, 6, 7], [1.0, 0.0, 1.0, 0.0])
    >>> curve.series(window=2)[1].tolist()  # the last point: events 5 to 7
    [1.0, 0.5, 0.5, 0.6666666666666666]
    """

    def __init__(self, metric: MeanMetric, points: int = 500) -> None:
        if points < 1:
            raise ValueError(f"points must be >= 1, got {points}")
        self.metric, self.points = metric, points
        self.name = metric.name
        self.width = 1
        self.sums: list[float] = []
        self.partial_sum, self.partial_n = 0.0, 0

    def update_many(self, y_true: np.ndarray, y_pred: np.ndarray) -> None:
        values = self.metric.per_event(np.asarray(y_true, float), np.asarray(y_pred, float))
        if not len(values):
            return
        cumulative = np.concatenate([[0.0], np.cumsum(values)])
        ends = np.arange(self.width - self.partial_n, len(values) + 1, self.width)
        if not len(ends):
            self.partial_sum += cumulative[-1]
            self.partial_n += len(values)
            return
        starts = np.concatenate([[0], ends[:-1]])
        sums = cumulative[ends] - cumulative[starts]
        sums[0] += self.partial_sum
        self.sums.extend(sums.tolist())
        self.partial_sum = float(cumulative[-1] - cumulative[ends[-1]])
        self.partial_n = len(values) - int(ends[-1])
        while len(self.sums) >= 2 * self.points:
            self._halve()

    def _halve(self) -> None:
        if len(self.sums) % 2:  # the odd bucket out joins the partial one
            self.partial_sum += self.sums.pop()
            self.partial_n += self.width
        pairs = np.asarray(self.sums).reshape(-1, 2).sum(axis=1)
        self.sums = pairs.tolist()
        self.width *= 2

    def series(self, window: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Event count at each bucket's end, and the metric over the trailing ``window``
        buckets ending there (one bucket: the bucket alone; the first buckets take what
        there is). A wider window gives a smoother line: each point weighs the buckets by
        their events, so a short last bucket does not jump."""
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        sums, counts = list(self.sums), [self.width] * len(self.sums)
        if self.partial_n:
            sums.append(self.partial_sum)
            counts.append(self.partial_n)
        summed = np.concatenate([[0.0], np.cumsum(np.asarray(sums, dtype=np.float64))])
        seen = np.concatenate([[0], np.cumsum(np.asarray(counts, dtype=np.int64))])
        ends = np.arange(1, len(sums) + 1)
        starts = np.maximum(ends - window, 0)
        means = (summed[ends] - summed[starts]) / np.maximum(seen[ends] - seen[starts], 1)
        if isinstance(self.metric, RMSE):
            means = np.sqrt(means)
        return seen[1:], means

    def smoothing_window(self, share: float = 0.05) -> int:
        """How many buckets make ``share`` of the events seen (at least one)."""
        return max(1, round(share * (len(self.sums) + bool(self.partial_n))))

    def __repr__(self) -> str:
        events, means = self.series()
        last = means[-1] if len(means) else math.nan
        seen = int(events[-1]) if len(events) else 0
        return f"Curve({self.name}, {len(means)} points over {seen} events, last {last:.4f})"


def default_curves(task: str, points: int = 500) -> list[Curve]:
    """The curves a report plots for a task."""
    if task not in CURVES:
        raise ValueError(f"unknown task {task!r}; expected one of {sorted(CURVES)}")
    return [Curve(kind(), points) for kind in CURVES[task]]
