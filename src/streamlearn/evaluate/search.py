"""Learning-rate search on a stream.

:func:`successive_halving` (the default): every candidate learns the same stream prefix
side by side, predicting each event before learning it; after each round the better half
(by progressive loss over everything it has seen) goes on to a round twice as long; the
last one standing wins. :func:`bisect_rate`: golden-section search over log(rate) on a
validation stream, for a loss that is unimodal in the rate.

Both return a table (one row per candidate tried: rate, events seen, progressive loss,
round or step) and the best rate.

>>> from streamlearn.datasets import elec2
>>> from streamlearn.models import LogisticRegression, SGD
>>> import pyarrow.csv as pacsv
>>> table = pacsv.read_csv(elec2.path())
>>> X, y = table.drop(["target"]), table["target"].to_numpy()
>>> result = successive_halving(lambda lr: LogisticRegression(SGD(lr=lr), bits=12), X, y,
...                             rates=[0.001, 0.01, 0.1, 1.0], first_round=2000)
>>> result.best, len(result.table)
(1.0, 4)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streamlearn.base import Classifier, Learner
from streamlearn.base.losses import log_losses, squared_errors
from streamlearn.features.columns import as_columns, n_rows, rows


@dataclass
class SearchResult:
    """The winning rate and every candidate's record.

    Parameters
    ----------
    best
        The learning rate that did best.
    table
        Every candidate's record (its rate and metrics), best first.

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.models import LogisticRegression, SGD
    >>> import pyarrow.csv as pacsv
    >>> table = pacsv.read_csv(elec2.path()).slice(0, 4000)
    >>> X, y = table.drop(["target"]), table["target"].to_numpy()
    >>> result = bisect_rate(lambda lr: LogisticRegression(SGD(lr=lr), bits=12), X, y, steps=3)
    >>> 1e-4 <= result.best <= 1.0, len(result.table)
    (True, 4)
    """

    best: float
    table: list[dict[str, Any]] = field(default_factory=list)

    def __str__(self) -> str:
        lines = ["rate        events      loss  round"]
        lines += [
            f"{r['rate']:<10.4g}{r['events']:>8,}{r['loss']:>10.4f}{r['round']:>7}"
            for r in self.table
        ]
        return "\n".join(lines)


def _losses(model: Learner, X: Any, y: np.ndarray) -> np.ndarray:
    """Progressive per-event losses (log loss for a classifier, squared error otherwise)."""
    predictions = np.asarray(model.predict_learn_many(X, y), np.float64)
    if isinstance(model, Classifier):
        return log_losses(np.asarray(y, float), predictions)
    return squared_errors(np.asarray(y, float), predictions)


def successive_halving(
    make: Callable[[float], Learner],
    X: Any,
    y: Any,
    rates: Sequence[float] = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0),
    first_round: int = 1000,
) -> SearchResult:
    """Candidates side by side on the stream's prefix; the better half survives each round
    (rounds of ``first_round``, then twice as long each time)."""
    columns = as_columns(X)
    n = n_rows(columns)
    targets = np.asarray(y)
    alive = {rate: make(rate) for rate in rates}
    totals = dict.fromkeys(rates, 0.0)
    seen = dict.fromkeys(rates, 0)
    out: dict[float, dict[str, Any]] = {}
    start, length, round_ = 0, first_round, 1
    while len(alive) > 1 and start < n:
        stop = min(start + length, n)
        chunk = {name: rows(col, start, stop) for name, col in columns.items()}
        for rate, model in alive.items():
            totals[rate] += float(_losses(model, chunk, targets[start:stop]).sum())
            seen[rate] += stop - start
        ranked = sorted(alive, key=lambda r: totals[r] / seen[r])
        for rate in ranked[len(ranked) // 2 :]:  # the worse half leaves
            out[rate] = _row(rate, seen[rate], totals[rate], round_)
            del alive[rate]
        start, length, round_ = stop, 2 * length, round_ + 1
    for rate in alive:
        out[rate] = _row(rate, seen[rate], totals[rate], round_)
    table = sorted(out.values(), key=lambda r: (-r["round"], r["loss"]))
    return SearchResult(table[0]["rate"], table)


def bisect_rate(
    make: Callable[[float], Learner],
    X: Any,
    y: Any,
    low: float = 1e-4,
    high: float = 1.0,
    steps: int = 8,
) -> SearchResult:
    """Golden-section search of log(rate) in [low, high]: each candidate learns the whole
    validation stream from scratch; its progressive loss is the objective."""
    if not 0 < low < high:
        raise ValueError("need 0 < low < high")
    targets = np.asarray(y)
    n = n_rows(as_columns(X))
    tried: dict[float, float] = {}

    def loss(log_rate: float) -> float:
        rate = float(math.exp(log_rate))
        if rate not in tried:
            tried[rate] = float(_losses(make(rate), X, targets).mean())
        return tried[rate]

    ratio = (math.sqrt(5) - 1) / 2
    a, b = math.log(low), math.log(high)
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    for _ in range(steps):
        if loss(c) <= loss(d):
            b, d = d, c
            c = b - ratio * (b - a)
        else:
            a, c = c, d
            d = a + ratio * (b - a)
    table = sorted(
        (
            _row(rate, n, value * n, step)
            for step, (rate, value) in enumerate(tried.items(), start=1)
        ),
        key=lambda r: r["loss"],
    )
    return SearchResult(table[0]["rate"], table)


def _row(rate: float, events: int, total: float, round_: int) -> dict[str, Any]:
    return {
        "rate": rate,
        "events": events,
        "loss": total / events if events else math.nan,
        "round": round_,
    }
