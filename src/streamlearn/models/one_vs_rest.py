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
from streamlearn.base.state import learner_kinds, nest, nested_part
from streamlearn.features.columns import as_columns, n_rows, rows


@register
class OneVsRest(MulticlassClassifier):
    """Parameters
    ----------
    classifier
        The binary classifier (its parameters are what matter: each class gets a clone), or
        its description ``{"kind": ..., "params": ...}``.

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

    def __init__(self, classifier: Classifier | Mapping[str, Any]) -> None:
        if isinstance(classifier, Mapping):
            kind = learner_kinds().get(classifier.get("kind", ""))
            if kind is None or not issubclass(kind, Classifier):
                raise ValueError(f"not a binary classifier: {classifier.get('kind')!r}")
            classifier = kind(**classifier.get("params", {}))
        if not isinstance(classifier, Classifier):
            raise TypeError(f"OneVsRest needs a binary Classifier, got {type(classifier).__name__}")
        self.prototype = classifier.clone()
        self.index = ClassIndex()
        self.models: list[Classifier] = []

    @property
    def classes(self) -> list:
        return list(self.index.labels)

    def params(self) -> dict[str, Any]:
        kind = type(self.prototype).__name__
        return {"classifier": {"kind": kind, "params": self.prototype.params()}}

    def state(self) -> State:
        arrays: dict[str, np.ndarray] = {}
        metas = []
        for k, model in enumerate(self.models):
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
        if len(metas) != len(labels):
            raise ValueError("one-vs-rest state: one model per class expected")
        kind = type(model.prototype)
        for k, meta in enumerate(metas):
            arrays = nested_part(state.arrays, str(k))
            sub = State(kind.__name__, model.prototype.params(), arrays, meta)
            model.models.append(kind.from_state(sub))
        model.index = ClassIndex(labels)
        return model

    # ------------------------------------------------------------------ one event
    def predict_proba_one(self, x: Mapping[str, Any]) -> dict[Any, float]:
        scores = [m.predict_proba_one(x)[True] for m in self.models]
        return dict(zip(self.index.labels, _normalized(np.array(scores)).tolist(), strict=True))

    def learn_one(self, x: Mapping[str, Any], y: Any) -> None:
        target = self.index.id_of(y, register=False)
        if target < 0:
            target = self.index.id_of(y)
            self.models.append(self.prototype.clone())
        for k, model in enumerate(self.models):
            model.learn_one(x, k == target)

    # ------------------------------------------------------------------ batches
    def _scores(self, X: Any, y: Any, learn: bool) -> np.ndarray:
        columns = as_columns(X)
        n = n_rows(columns)
        if not learn:
            scores = [m.predict_proba_many(columns) for m in self.models]
            return np.array(scores).T.reshape(n, len(self.models))
        labels = self.index.checked(y)
        if len(labels) != n:
            raise ValueError(f"expected {n} targets, got {len(labels)}")
        n_before = len(self.models)
        targets = self.index.ids(labels)
        self.models += [self.prototype.clone() for _ in range(len(self.index) - n_before)]
        scores = np.zeros((n, len(self.models)))
        for k, model in enumerate(self.models):
            # A new class's model starts at the class's first event.
            start = 0 if k < n_before else int(np.argmax(targets == k))
            part = {name: rows(column, start, n) for name, column in columns.items()}
            scores[start:, k] = model.predict_learn_many(part, targets[start:] == k)
            if k >= n_before:
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
