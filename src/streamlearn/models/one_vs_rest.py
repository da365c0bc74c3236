"""One-vs-rest: a multiclass classifier made of one binary classifier per class.

A class seen for the first time gets a fresh clone of the binary classifier, which learns
from that event on (as River's ``OneVsRestClassifier`` does). Probabilities are the binary
ones, normalized to sum to one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

import numpy as np

from streamlearn.base import Classifier, ClassIndex, MulticlassClassifier, State, register
from streamlearn.base.classes import MAX_CLASSES
from streamlearn.base.state import learner_kinds, nest, nested_part
from streamlearn.features.columns import as_columns, n_rows, rows
from streamlearn.models.evented import EventByEvent


@register
class OneVsRest(EventByEvent, MulticlassClassifier):
    """Parameters
    ----------
    classifier
        The binary classifier (its parameters are what matter: each class gets a clone), or
        its description ``{"kind": ..., "params": ...}``.
    max_classes
        At most this many classes (each is a model of its own): a label that would be one
        more is refused (a dead letter in a run).

    Example
    -------
    Elec2 as three classes (a demand peak, else the price's move), progressively:

    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.models import LogisticRegression, OneVsRest
    >>> model, right = OneVsRest(LogisticRegression(bits=10)), 0
    >>> for x, y in elec2.moves(limit=10_000):
    ...     right += model.predict_one(x) == y
    ...     model.learn_one(x, y)
    >>> right / 10_000  # accuracy
    0.7851
    """

    def __init__(
        self, classifier: Classifier | Mapping[str, Any], max_classes: int = MAX_CLASSES
    ) -> None:
        if isinstance(classifier, Mapping):
            kind = learner_kinds().get(classifier.get("kind", ""))
            if kind is None or not issubclass(kind, Classifier):
                raise ValueError(f"not a binary classifier: {classifier.get('kind')!r}")
            classifier = kind(**classifier.get("params", {}))
        if not isinstance(classifier, Classifier):
            raise TypeError(f"OneVsRest needs a binary Classifier, got {type(classifier).__name__}")
        self.prototype = classifier.clone()
        self.max_classes = int(max_classes)
        self.index = ClassIndex(limit=self.max_classes)
        # One binary model per class, from the class's first learned label on (None until
        # then: the runner numbers a class when its label arrives, before it is learned).
        self.models: list[Classifier | None] = []

    @property
    def classes(self) -> list:
        return list(self.index.labels)

    def params(self) -> dict[str, Any]:
        kind = type(self.prototype).__name__
        classifier = {"kind": kind, "params": self.prototype.params()}
        return {"classifier": classifier, "max_classes": self.max_classes}

    def state(self) -> State:
        arrays: dict[str, np.ndarray] = {}
        metas = []
        for k, model in enumerate(self.models):
            if model is None:
                metas.append(None)
                continue
            sub = model.state()
            arrays |= nest({str(k): sub.arrays})
            metas.append(sub.meta)
        meta = {"classes": list(self.index.labels), "models": metas}
        return State(type(self).__name__, self.params(), arrays, meta)

    @classmethod
    def from_state(cls, state: State) -> Self:
        model = cls(**state.params)
        labels = state.meta.get("classes", [])
        metas = state.meta.get("models", [])
        if len(metas) > len(labels):
            raise ValueError("one-vs-rest state: more models than classes")
        kind = type(model.prototype)
        for k, meta in enumerate(metas):
            if meta is None:
                model.models.append(None)
                continue
            arrays = nested_part(state.arrays, str(k))
            sub = State(kind.__name__, model.prototype.params(), arrays, meta)
            model.models.append(kind.from_state(sub))
        model.index = ClassIndex(labels, model.max_classes)
        return model

    def _model_for(self, k: int) -> None:
        """Class ``k`` gets its model (a clone of the prototype) if it has none yet."""
        self.models += [None] * (k + 1 - len(self.models))
        if self.models[k] is None:
            self.models[k] = self.prototype.clone()

    # ------------------------------------------------------------------ one event
    def predict_proba_one(self, x: Mapping[str, Any]) -> dict[Any, float]:
        learned = [(k, m) for k, m in enumerate(self.models) if m is not None]
        scores = _normalized(np.array([m.predict_proba_one(x)[True] for _, m in learned]))
        return {self.index.labels[k]: float(p) for (k, _), p in zip(learned, scores, strict=True)}

    def learn_one(self, x: Mapping[str, Any], y: Any) -> None:
        target = self.index.id_of(y)
        self._model_for(target)
        for k, model in enumerate(self.models):
            if model is not None:
                model.learn_one(x, k == target)

    # ------------------------------------------------------------------ batches
    def _scores(self, X: Any, y: Any, learn: bool) -> np.ndarray:
        columns = as_columns(X)
        n = n_rows(columns)
        if not learn:
            scores = np.zeros((n, len(self.index)))
            for k, model in enumerate(self.models):
                if model is not None:
                    scores[:, k] = model.predict_proba_many(columns)
            return scores
        labels = self.index.checked(y)
        if len(labels) != n:
            raise ValueError(f"expected {n} targets, got {len(labels)}")
        targets = self.index.ids(labels)
        scores = np.zeros((n, len(self.index)))
        for k in range(len(self.index)):
            new = k >= len(self.models) or self.models[k] is None
            if new and not (targets == k).any():
                continue  # numbered, not learned yet
            # A new class's model starts at the class's first event.
            start = int(np.argmax(targets == k)) if new else 0
            self._model_for(k)
            part = {name: rows(column, start, n) for name, column in columns.items()}
            scores[start:, k] = self.models[k].predict_learn_many(part, targets[start:] == k)
            if new:
                scores[start, k] = 0.0  # the class was unknown when its first event came
        return scores

    def predict_proba_many(self, X: Any) -> np.ndarray:
        return _normalized(self._scores(X, None, learn=False))

    def predict_learn_many(self, X: Any, y: Any) -> np.ndarray:
        return _normalized(self._scores(X, y, learn=True))

    def learn_many(self, X: Any, y: Any) -> None:
        self._scores(X, y, learn=True)


def _normalized(scores: np.ndarray) -> np.ndarray:
    """Rows scaled to sum to one (all-zero rows stay zero)."""
    total = scores.sum(axis=-1, keepdims=True)
    return np.divide(scores, total, out=np.zeros_like(scores), where=total > 0)
