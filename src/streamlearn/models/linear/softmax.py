"""Multinomial logistic regression (softmax) on hashed features, trained online.

Each class has its own copy of every feature's weight, in the same fixed-size table (at
``hash + class × stride``), so memory stays fixed however many classes appear; classes may
appear at any time.

>>> from streamlearn.models.linear import SoftmaxRegression
>>> model = SoftmaxRegression(bits=12)
>>> for i in range(3000):
...     colour = ["red", "green", "blue"][i % 3]
...     model.learn_one({"colour": colour, "noise": (i * 7919) % 13 / 13}, colour.upper())
>>> model.predict_one({"colour": "green", "noise": 0.5}), model.classes
('GREEN', ['RED', 'GREEN', 'BLUE'])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from streamlearn.base import PREDICT, ClassIndex, MulticlassClassifier, register
from streamlearn.base.classes import MAX_CLASSES
from streamlearn.base.records import Rows, Schedule
from streamlearn.features.columns import as_columns, n_rows
from streamlearn.models.linear.base import LinearModel
from streamlearn.models.linear.kernel import (
    SoftmaxWeights,
    run_softmax,
    run_softmax_one,
    run_softmax_ops,
)
from streamlearn.models.linear.optimizers import FTRL


@register
class SoftmaxRegression(LinearModel, MulticlassClassifier):
    """Multiclass logistic regression on hashed features; labels are str, int or bool, and a
    new class may appear at any time (its weights share the one table).

    Parameters
    ----------
    optimizer
        :class:`FTRL` (the default, without L1), :class:`AdaGrad` or :class:`SGD`.
    bits, seed, categorical, namespaces, interactions, standardize, missing
        Feature hashing, as in :class:`~streamlearn.features.FeatureHasher`: a weight table
        of ``2**bits`` rows; columns named in ``categorical`` are hashed as categories even
        when they hold numbers; ``interactions`` lists column pairs to cross (or ``"all"``);
        numbers are standardized online unless ``standardize=False``; with ``missing``, a
        known column's absence is a feature of its own.
    intercept_lr
        The intercept's constant learning rate (plain SGD, no regularization).
    max_classes
        At most this many classes: a label that would be one more is refused (a dead
        letter in a run), so that a stream of new labels cannot grow the model.

    Example
    -------
    Three classes from Elec2: a demand peak, else whether the price went up or down:

    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> report = progressive_val_score_one(SoftmaxRegression(bits=16), elec2.moves(limit=5000))
    >>> round(report.metrics["accuracy"], 3), round(report.metrics["macro_f1"], 3)
    (0.772, 0.61)
    """

    loss = -1  # not used: the softmax kernel has one loss
    default_optimizer = FTRL(alpha=0.6, l1=0.0, l2=0.5)  # per-class weights want no L1

    def __init__(self, *args: Any, max_classes: int = MAX_CLASSES, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_classes = int(max_classes)
        self.index = ClassIndex(limit=self.max_classes)
        # Per class (grown as classes appear): its intercept, and whether it was learned yet.
        # The runner numbers a class when its label arrives, before the class is learned.
        self.intercept = np.zeros(0)
        self.learned = np.zeros(0, np.uint8)

    @property
    def classes(self) -> list:
        return list(self.index.labels)

    def params(self) -> dict[str, Any]:
        return super().params() | {"max_classes": self.max_classes}

    def state(self):
        state = super().state()
        n = len(self.index)
        state.arrays["intercept"] = state.arrays["intercept"][:n]
        state.arrays["learned"] = self.learned[:n].copy()
        state.meta["classes"] = list(self.index.labels)
        return state

    @classmethod
    def from_state(cls, state):
        model = super().from_state(state)
        n = len(model.index)
        learned = state.arrays.get("learned")  # absent: every class numbered was learned
        learned = np.ones(n, np.uint8) if learned is None else np.asarray(learned, np.uint8)
        if learned.shape != (n,) or len(model.intercept) < n:
            raise ValueError(f"softmax state: {n} classes need {n} intercepts and flags")
        model.learned = learned.copy()
        model._grow(n)
        return model

    def _load_meta(self, meta: Mapping[str, Any]) -> None:
        self.index = ClassIndex(meta.get("classes", []), self.max_classes)

    def _grow(self, n_classes: int) -> None:
        """Room for ``n_classes`` classes (capacity doubles, so this is rare)."""
        if n_classes > len(self.learned) or n_classes > len(self.intercept):
            size = max(n_classes, 2 * len(self.learned), 4)
            self.intercept = _grown(self.intercept, size)
            self.learned = _grown(self.learned, size)

    def _learned_now(self) -> np.ndarray:
        """The learned flags of the classes numbered so far (a view the kernels update)."""
        self._grow(len(self.index))
        return self.learned[: len(self.index)]

    def _weights(self, learned: np.ndarray) -> SoftmaxWeights:
        return SoftmaxWeights(learned, self.table, self.intercept, self.counters)

    def _call_one(self, x: Mapping[str, Any], target: int, learn: bool):
        event = self._encode(x)
        weights, code = self._weights(self._learned_now()), self.optimizer.code
        return run_softmax_one(
            event.hashes, event.values, target, weights, code, self._hyper, learn
        )

    def predict_proba_one(self, x: Mapping[str, Any]) -> dict[Any, float]:
        proba = self._call_one(x, -1, learn=False)
        labels, learned = self.index.labels, self.learned
        return {label: float(proba[k]) for k, label in enumerate(labels) if learned[k]}

    def learn_one(self, x: Mapping[str, Any], y: Any) -> None:
        self._call_one(x, self.index.id_of(y), learn=True)
        self.features.learn_one(self._encode(x))
        self._cached = None

    # ------------------------------------------------------------------ batches
    def _run_many(self, X: Any, y: Any, learn: bool) -> np.ndarray:
        columns = as_columns(X)
        n = n_rows(columns)
        targets = np.empty(0, np.int64)
        if learn:
            labels = self.index.checked(y)  # all valid before any is numbered
            if len(labels) != n:
                raise ValueError(f"expected {n} targets, got {len(labels)}")
            targets = self.index.ids(labels)
            self._cached = None
        learned = self._learned_now()
        out = np.zeros((n, len(learned)))
        for start, stop, hashes, values in self._encoded_chunks(columns, n, learn):
            rows, weights, code = Rows(hashes, values), self._weights(learned), self.optimizer.code
            run_softmax(
                rows, targets[start:stop], weights, code, self._hyper, learn, out[start:stop]
            )
        return out

    def predict_proba_many(self, X: Any) -> np.ndarray:
        return self._run_many(X, None, learn=False)

    def predict_learn_many(self, X: Any, y: Any) -> np.ndarray:
        return self._run_many(X, y, learn=True)

    # ------------------------------------------------------------------ serving
    def run_ops(self, hashes, values, ops, op_rows, targets) -> np.ndarray:
        """Run a schedule of served rows and delayed labels (see
        :class:`~streamlearn.base.ServesRows`); targets are class ids
        (:meth:`~streamlearn.base.MulticlassClassifier.class_codes`). Returns one row of
        class probabilities per operation."""
        ops = np.asarray(ops, np.int8)
        learned = self._learned_now()
        codes = np.where(ops == PREDICT, 0.0, np.asarray(targets, np.float64))
        taught = codes[ops != PREDICT]
        if not (np.isfinite(taught).all() and ((taught >= 0) & (taught < len(learned))).all()):
            raise ValueError("a target to learn is not a class id of this model")
        out = np.zeros((len(ops), len(learned)))
        schedule = Schedule(ops, np.asarray(op_rows, np.int64), codes.astype(np.int64))
        rows, weights, code = Rows(hashes, values), self._weights(learned), self.optimizer.code
        run_softmax_ops(rows, schedule, weights, code, self._hyper, out)
        self._cached = None
        return out


def _grown(array: np.ndarray, size: int) -> np.ndarray:
    grown = np.zeros(size, array.dtype)
    grown[: len(array)] = array
    return grown
