"""Learner protocols: River-compatible one-event methods plus batch methods with identical results.

A batch method over columnar input (a mapping of column name to numpy / Arrow array, or an Arrow
table) gives exactly what the one-event methods would give, called in order. In particular
``predict_learn_many`` predicts each event *before* learning it (progressive validation), so a
batch of events costs one compiled call instead of thousands of Python calls.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, Self

import numpy as np

from streamlearn.base.capabilities import Task
from streamlearn.base.classes import ClassIndex
from streamlearn.base.predictions import best_classes
from streamlearn.base.state import State

Features = dict[str, Any]


class Learner(ABC):
    """A model that learns one event at a time and can be snapshotted as arrays + JSON.

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> from streamlearn.models import LogisticRegression
    >>> report = progressive_val_score_one(LogisticRegression(bits=16), elec2.stream(limit=2000))
    >>> round(report.metrics["accuracy"], 3)
    0.848
    """

    task: Task  # what it predicts

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """The JSON-able constructor arguments: ``type(self)(**self.params())`` is a fresh copy."""

    @abstractmethod
    def state(self) -> State:
        """Everything needed to continue exactly where this learner is, as arrays + JSON."""

    @classmethod
    @abstractmethod
    def from_state(cls, state: State) -> Self:
        """Rebuild a learner from :meth:`state`: it predicts and learns as the original would."""

    def clone(self) -> Self:
        """A fresh, untrained learner with the same parameters."""
        return type(self)(**self.params())

    def display_name(self) -> str:
        """What a dashboard or a report calls it (a wrapper names what it wraps)."""
        return type(self).__name__

    @abstractmethod
    def learn_one(self, x: Features, y: Any) -> None:
        """Update the model with one event."""

    @abstractmethod
    def predict_one(self, x: Features) -> Any:
        """Predict one event without learning from it."""

    @abstractmethod
    def learn_many(self, X: Any, y: Any) -> None:
        """Learn a batch of events in order; same result as ``learn_one`` on each."""

    @abstractmethod
    def predict_many(self, X: Any) -> np.ndarray:
        """Predict a batch of events without learning."""

    @abstractmethod
    def predict_learn_many(self, X: Any, y: Any) -> np.ndarray:
        """Progressive validation over a batch: predict each event, then learn it.

        Returns the predictions (probabilities of the positive class for classifiers) that the
        model made before seeing each event's label.
        """

    def described(self) -> dict[str, Any]:
        """What the learner adds to an evaluation report (a linear model: its weights'
        sparsity); nothing by default."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


class Classifier(Learner):
    """A binary classifier. Labels are ``True``/``False`` (``1``/``0`` are accepted).

    Example
    -------
    >>> from streamlearn.models import LogisticRegression
    >>> model = LogisticRegression(bits=8)
    >>> model.learn_one({"colour": "red"}, True)
    >>> model.predict_proba_one({"colour": "red"})[True] > 0.5
    True
    """

    task = Task.BINARY

    @abstractmethod
    def predict_proba_one(self, x: Features) -> dict[bool, float]:
        """``{False: 1 - p, True: p}`` for one event."""

    def predict_one(self, x: Features) -> bool:
        proba = self.predict_proba_one(x)
        return proba[True] >= proba[False]

    @abstractmethod
    def predict_proba_many(self, X: Any) -> np.ndarray:
        """Probability of the positive class for each event of a batch."""

    def predict_many(self, X: Any) -> np.ndarray:
        return self.predict_proba_many(X) >= 0.5


class Regressor(Learner):
    """A model of a real-valued target.

    Example
    -------
    >>> from streamlearn.models import LinearRegression
    >>> model = LinearRegression(bits=8)
    >>> for _ in range(50):
    ...     model.learn_one({"x": 1.0}, 3.0)
    >>> abs(model.predict_one({"x": 1.0}) - 3.0) < 0.5
    True
    """

    task = Task.REGRESSION


class MulticlassClassifier(Learner):
    """A classifier over any number of classes, which may appear at any time.

    Labels are str, int or bool. Probabilities are over the classes known when an event is
    predicted; a class seen for the first time had probability 0.

    Example
    -------
    >>> from streamlearn.models import SoftmaxRegression
    >>> model = SoftmaxRegression(bits=8)
    >>> for _ in range(20):
    ...     model.learn_one({"colour": "red"}, "stop"); model.learn_one({"colour": "green"}, "go")
    >>> model.predict_one({"colour": "green"})
    'go'
    """

    task = Task.MULTICLASS
    index: ClassIndex  # the classes numbered so far, in order of first appearance

    @property
    @abstractmethod
    def classes(self) -> list:
        """The labels seen so far, in order of first appearance (the columns of batches)."""

    @abstractmethod
    def predict_proba_one(self, x: Features) -> dict[Any, float]:
        """``{label: probability}`` over the known classes (empty before any learning)."""

    def predict_one(self, x: Features) -> Any:
        proba = self.predict_proba_one(x)
        return max(proba, key=proba.get) if proba else None

    @abstractmethod
    def predict_proba_many(self, X: Any) -> np.ndarray:
        """Probabilities, one row per event, one column per class of :attr:`classes`."""

    def predict_many(self, X: Any) -> np.ndarray:
        proba = self.predict_proba_many(X)
        labels = np.array([*self.classes, None], dtype=object)
        return labels[best_classes(proba)]

    def class_codes(self, labels: Any) -> tuple[np.ndarray, np.ndarray]:
        """Each label's class id as a float, the target the runner's schedules carry (NaN
        where there is no label: None or NaN), numbering classes new to the model in order;
        and which labels were refused (not a class label: NaN too)."""
        values = labels.tolist() if isinstance(labels, np.ndarray) else list(labels)
        codes = np.full(len(values), np.nan)
        refused = np.zeros(len(values), bool)
        for i, label in enumerate(values):
            if label is None or (isinstance(label, float) and math.isnan(label)):
                continue
            try:
                codes[i] = self.index.id_of(label)
            except ValueError:
                refused[i] = True
        return codes, refused
