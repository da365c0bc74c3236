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

from streamlearn.base import ClassIndex, MulticlassClassifier, register
from streamlearn.features.columns import as_columns, n_rows
from streamlearn.models.linear.base import LinearModel
from streamlearn.models.linear.kernel import run_softmax, run_softmax_one
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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.index = ClassIndex()
        self.intercept = np.zeros(0)  # one per class, grown as classes appear

    @property
    def classes(self) -> list:
        return list(self.index.labels)

    def state(self):
        state = super().state()
        state.arrays["intercept"] = state.arrays["intercept"][: len(self.index)]
        state.meta["classes"] = list(self.index.labels)
        return state

    def _load_meta(self, meta: Mapping[str, Any]) -> None:
        self.index = ClassIndex(meta.get("classes", []))

    def _grow(self, n_classes: int) -> None:
        """Room for ``n_classes`` intercepts (capacity doubles, so this is rare)."""
        if n_classes > len(self.intercept):
            grown = np.zeros(max(n_classes, 2 * len(self.intercept), 4))
            grown[: len(self.intercept)] = self.intercept
            self.intercept = grown

    def _call_one(self, x: Mapping[str, Any], target: int, n_known: int, learn: bool):
        event = self._encode(x)
        self._grow(max(n_known, target + 1, 1))
        return run_softmax_one(
            event.hashes,
            event.values,
            target,
            n_known,
            self.table,
            self.intercept,
            self.counters,
            self.optimizer.code,
            self._hyper,
            learn,
        )

    def predict_proba_one(self, x: Mapping[str, Any]) -> dict[Any, float]:
        n_known = len(self.index)
        proba = self._call_one(x, -1, n_known, learn=False)
        return {
            label: float(p) for label, p in zip(self.index.labels, proba[:n_known], strict=True)
        }

    def learn_one(self, x: Mapping[str, Any], y: Any) -> None:
        n_known = len(self.index)
        target = self.index.id_of(y, register=False)
        event_target = target if target >= 0 else n_known
        self._call_one(x, event_target, n_known, learn=True)
        if target < 0:
            self.index.id_of(y)
        self.features.learn_one(self._encode(x))
        self._cached = None

    # ------------------------------------------------------------------ batches
    def _run_many(self, X: Any, y: Any, learn: bool) -> np.ndarray:
        columns = as_columns(X)
        n = n_rows(columns)
        if learn:
            labels = self.index.checked(y)
            if len(labels) != n:
                raise ValueError(f"expected {n} targets, got {len(labels)}")
            self._cached = None
        rows_out = []
        for start, stop, hashes, values in self._encoded_chunks(columns, n, learn):
            n_before = len(self.index)
            if learn:
                targets = self.index.ids(labels[start:stop])
                # Class k is known from the event after its first appearance on.
                seen = np.maximum.accumulate(np.concatenate([[n_before - 1], targets]))[:-1]
                known = seen + 1
            else:
                targets = np.empty(0, np.int64)
                known = np.full(stop - start, n_before, np.int64)
            self._grow(max(len(self.index), 1))
            out = np.zeros((stop - start, len(self.intercept)))
            run_softmax(
                hashes,
                values,
                targets,
                known,
                self.table,
                self.intercept,
                self.counters,
                self.optimizer.code,
                self._hyper,
                learn,
                out,
            )
            rows_out.append(out)
        width = len(self.index)
        if not rows_out:
            return np.zeros((0, width))
        return np.concatenate([r[:, :width] for r in rows_out])

    def predict_proba_many(self, X: Any) -> np.ndarray:
        return self._run_many(X, None, learn=False)

    def predict_learn_many(self, X: Any, y: Any) -> np.ndarray:
        return self._run_many(X, y, learn=True)
