"""The runner's schedules run one event at a time, for learners without a compiled loop.

A learner deriving from :class:`EventByEvent` serves rows that hold each event itself (see
:mod:`streamlearn.features.event_rows`): a label that comes later learns exactly the event
that was served, through the learner's own ``learn_one``, and a serving copy's rows are the
trainer's. Ensembles, one-vs-rest, torch networks and River models go through the runner,
the service and Kafka this way.

>>> from streamlearn.datasets import elec2
>>> from streamlearn.models import HedgeClassifier, LogisticRegression, SGD
>>> from streamlearn.runner import Runner
>>> from streamlearn.streams import FileEvents
>>> members = [LogisticRegression(SGD(lr=lr), bits=12) for lr in (0.01, 0.5)]
>>> events = FileEvents(elec2.path(), "target")
>>> summary = Runner(HedgeClassifier(members), events, delay=10).run(limit=10_000)
>>> summary.learned, round(summary.metrics["accuracy"], 3)  # the last labels are in flight
(9989, 0.81)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from streamlearn.base import PREDICT, ServedByCopies, ServesRows, Task
from streamlearn.base.predictions import stack_predictions
from streamlearn.features.columns import as_columns, n_rows, rows
from streamlearn.features.event_rows import event_of, event_rows, events_of, plain_event


class EventByEvent(ServesRows, ServedByCopies):
    """Runs schedules with the learner's ``predict_*_one`` and ``learn_one``, on rows that
    hold the events (see the module doc).

    Example
    -------
    >>> from streamlearn.interop.river import RiverModel
    >>> issubclass(RiverModel, EventByEvent)
    True
    """

    def serve_many(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        return event_rows(events_of(X))

    def encode_rows(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        return event_rows(events_of(X))

    def encode_row(self, x: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        hashes, values = event_rows([plain_event(x)])
        return hashes[0], values[0]

    def observe_served(self, X: Any, hashes: np.ndarray, values: np.ndarray) -> None:
        """Nothing to take in: the event itself is learned when its label comes."""

    def encoder_settings(self) -> dict[str, Any]:
        return {"rows": "events"}

    def run_ops(self, hashes, values, ops, op_rows, targets) -> np.ndarray:
        return event_schedule(self, hashes, values, ops, op_rows, targets)

    def predict_learn_served(self, X: Any, targets: np.ndarray, tail: int):
        """The learner's own ``predict_learn_many`` (its batch way, equal to one event at a
        time), and rows that hold the last ``tail`` events."""
        return served_tail(X, tail), batch_predict_learn(self, X, targets)


def served_tail(X: Any, tail: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows that hold the last ``tail`` events of a batch."""
    columns = as_columns(X)
    n = n_rows(columns)
    start = max(n - tail, 0)
    return event_rows(events_of({name: rows(col, start, n) for name, col in columns.items()}))


def event_schedule(model: Any, hashes, values, ops, op_rows, targets) -> np.ndarray:
    """A schedule on rows that hold events, with ``model``'s one-event methods."""
    events: dict[int, dict[str, Any]] = {}
    scores = []
    for op, row, target in zip(
        np.asarray(ops).tolist(),
        np.asarray(op_rows).tolist(),
        np.asarray(targets, np.float64).tolist(),
        strict=True,
    ):
        if row not in events:
            events[row] = event_of(hashes[row], values[row])
        scores.append(_served_score(model, events[row]))
        if op != PREDICT:
            model.learn_one(events[row], _label_of(model, target))
    if model.task == Task.MULTICLASS:
        return stack_predictions([np.array([s]) for s in scores] or [np.zeros((0, 0))])
    return np.array(scores, np.float64)


def batch_predict_learn(model: Any, X: Any, targets: np.ndarray) -> np.ndarray:
    """``model.predict_learn_many`` on the schedule's targets (class ids name classes)."""
    if model.task == Task.MULTICLASS:
        labels = [model.index.labels[int(t)] for t in np.asarray(targets).tolist()]
        return model.predict_learn_many(X, labels)
    return np.asarray(model.predict_learn_many(X, targets), np.float64)


def _served_score(model: Any, x: dict[str, Any]) -> Any:
    """What the runner serves: a probability, a row of class probabilities, a value."""
    if model.task == Task.BINARY:
        return model.predict_proba_one(x)[True]
    if model.task == Task.MULTICLASS:
        proba = model.predict_proba_one(x)
        return [proba.get(label, 0.0) for label in model.classes]
    return float(model.predict_one(x))


def _label_of(model: Any, target: float) -> Any:
    """A schedule's target as ``learn_one`` takes it (a class id names its class)."""
    if model.task == Task.MULTICLASS:
        return model.index.labels[int(target)]
    return target
