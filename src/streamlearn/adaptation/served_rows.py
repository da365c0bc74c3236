"""What an adaptive wrapper serves the runner: rows as the wrapped learner encodes them, or,
under the background policy (two models, each with its own encoding), the events
themselves (see :mod:`streamlearn.models.evented`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from streamlearn.adaptation.policies import Background, Policy
from streamlearn.base import ServedByCopies, ServesRows
from streamlearn.features.event_rows import event_rows, events_of, plain_event
from streamlearn.models.evented import batch_predict_learn, served_tail
from streamlearn.models.linear import LinearModel


class LearnersRows(ServesRows, ServedByCopies):
    """The rows of a wrapper's ``learner`` (a linear model of the project), or its events
    when its ``policy`` keeps a background model.

    Example
    -------
    >>> from streamlearn.adaptation import adaptive
    >>> from streamlearn.drift import ADWIN
    >>> from streamlearn.models import LogisticRegression
    >>> model = adaptive(LogisticRegression(bits=8), ADWIN())
    >>> hashes, values = model.serve_many({"colour": ["red", "blue"]})
    >>> model.by_event, hashes.shape
    (False, (2, 1))
    """

    learner: LinearModel
    policy: Policy

    @property
    def by_event(self) -> bool:
        """Under the background policy two models learn, each from its own encoding of an
        event: the runner's rows then hold the events (see :mod:`streamlearn.models.
        evented`), and its schedules run one event at a time."""
        return isinstance(self.policy, Background)

    def serve_many(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Encoded rows as served by the current model (see ``LinearModel.serve_many``)."""
        return event_rows(events_of(X)) if self.by_event else self.learner.serve_many(X)

    def encode_rows(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        return event_rows(events_of(X)) if self.by_event else self.learner.encode_rows(X)

    def encode_row(self, x: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        if self.by_event:
            hashes, values = event_rows([plain_event(x)])
            return hashes[0], values[0]
        return self.learner.encode_row(x)

    def observe_served(self, X: Any, hashes: np.ndarray, values: np.ndarray) -> None:
        if not self.by_event:
            self.learner.observe_served(X, hashes, values)

    def encoder_settings(self) -> dict[str, Any]:
        return {"rows": "events"} if self.by_event else self.learner.encoder_settings()

    def predict_learn_served(self, X: Any, targets: np.ndarray, tail: int):
        if self.by_event:
            return served_tail(X, tail), batch_predict_learn(self, X, targets)
        return super().predict_learn_served(X, targets, tail)
