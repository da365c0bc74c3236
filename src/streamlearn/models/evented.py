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
from streamlearn.features.event_rows import event_of, event_rows, events_of, plain_event


class EventByEvent(ServesRows, ServedByCopies):
    """Runs schedules with the learner's ``predict_*_one`` and ``learn_one``, on rows that
    hold the events (see the module doc)."""

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
            scores.append(self._served_score(events[row]))
            if op != PREDICT:
                self.learn_one(events[row], self._label_of(target))
        if self.task == Task.MULTICLASS:
            return stack_predictions([np.array([s]) for s in scores] or [np.zeros((0, 0))])
        return np.array(scores, np.float64)

    def _served_score(self, x: dict[str, Any]) -> Any:
        """What the runner serves: a probability, a row of class probabilities, a value."""
        if self.task == Task.BINARY:
            return self.predict_proba_one(x)[True]
        if self.task == Task.MULTICLASS:
            proba = self.predict_proba_one(x)
            return [proba.get(label, 0.0) for label in self.classes]
        return float(self.predict_one(x))

    def _label_of(self, target: float) -> Any:
        """A schedule's target as ``learn_one`` takes it (a class id names its class)."""
        if self.task == Task.MULTICLASS:
            return self.index.labels[int(target)]
        return target
