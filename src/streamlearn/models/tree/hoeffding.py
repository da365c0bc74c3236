"""Hoeffding Tree classifier (VFDT): an incremental decision tree that splits a leaf once
Hoeffding's bound says its best split is the best with probability 1 - ``delta``.

Numbers are observed per leaf and class by a Gaussian (mean, variance, range), whose
candidate thresholds are scored by information gain; a category is a hashed one-hot
feature, so a split reads "is it this value" (no explosion: only values seen count, at
most ``max_features`` of them). Leaves predict by majority class, naive Bayes, or whichever
of the two has been right more often at that leaf (the default).

>>> from streamlearn.models.tree import HoeffdingTreeClassifier
>>> model = HoeffdingTreeClassifier(grace_period=50)
>>> for i in range(2000):
...     x = {"a": (i * 7919) % 100 / 100, "b": (i * 104729) % 100 / 100}
...     model.learn_one(x, x["a"] > 0.5 and x["b"] > 0.5)
>>> model.predict_one({"a": 0.9, "b": 0.8}), model.predict_one({"a": 0.9, "b": 0.1})
(True, False)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

import numpy as np

from streamlearn.base import (
    LEARN,
    PREDICT,
    PREDICT_LEARN,
    ClassIndex,
    MulticlassClassifier,
    ServedByCopies,
    ServesRows,
    State,
    register,
)
from streamlearn.base.classes import MAX_CLASSES
from streamlearn.features.columns import as_columns, n_rows
from streamlearn.features.hasher import FeatureHasher
from streamlearn.models.hashed import HashedModel
from streamlearn.models.tree.kernel import ADAPTIVE, MAJORITY, NAIVE_BAYES, run_tree_ops
from streamlearn.models.tree.store import FeatureIds, TreeArrays

LEAF_PREDICTIONS = {"mc": MAJORITY, "nb": NAIVE_BAYES, "nba": ADAPTIVE}
NO_DEPTH_LIMIT = 1 << 30


@register
class HoeffdingTreeClassifier(HashedModel, MulticlassClassifier, ServesRows, ServedByCopies):
    """An incremental decision tree for two or more classes (labels str, int or bool).

    Parameters
    ----------
    grace_period
        Weight a leaf learns between split attempts.
    delta
        The chance that a split is not the best one (Hoeffding's bound).
    tau
        Split anyway when the bound is below this (two candidates that close are as good).
    leaf_prediction
        ``"mc"`` majority class, ``"nb"`` naive Bayes, ``"nba"`` whichever has been right
        more often at the leaf.
    n_splits
        Candidate thresholds per number and attempt (evenly spaced over its range).
    min_branch_fraction
        A split must send at least this fraction of the weight down each branch.
    max_depth
        The deepest a leaf may be (``None``: no limit).
    max_leaves
        Leaves at most: the tree's size cap. A leaf's observers take ``features × classes
        × 40`` bytes, so memory is bounded by ``max_leaves × max_features × classes × 40``.
    max_features
        Hashed features the tree tells apart (numbers, and each category value); later
        ones are not seen.
    max_classes
        At most this many classes: a label that would be one more is refused.
    features, **feature_settings
        The featurizer (:class:`~streamlearn.features.FeatureHasher`) or its settings;
        numbers are not standardized (a tree needs no scaling).

    Example
    -------
    Elec2, whether the price goes up, progressively validated:

    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> report = progressive_val_score_one(HoeffdingTreeClassifier(), elec2.stream(limit=5000))
    >>> round(report.metrics["accuracy"], 3)
    0.828
    """

    def __init__(
        self,
        grace_period: float = 200,
        delta: float = 1e-7,
        tau: float = 0.05,
        leaf_prediction: str = "nba",
        n_splits: int = 10,
        min_branch_fraction: float = 0.01,
        max_depth: int | None = None,
        max_leaves: int = 1000,
        max_features: int = 256,
        max_classes: int = MAX_CLASSES,
        *,
        features: FeatureHasher | Mapping[str, Any] | None = None,
        **feature_settings: Any,
    ) -> None:
        super().__init__(features, feature_settings, standardize=False)
        self.grace_period = _positive("grace_period", grace_period)
        self.delta = _fraction("delta", delta)
        self.tau = _positive("tau", tau, zero=True)
        if leaf_prediction not in LEAF_PREDICTIONS:
            raise ValueError(
                f"leaf_prediction: one of {list(LEAF_PREDICTIONS)}, got {leaf_prediction!r}"
            )
        self.leaf_prediction = leaf_prediction
        self.n_splits = int(_positive("n_splits", n_splits))
        self.min_branch_fraction = _fraction("min_branch_fraction", min_branch_fraction, zero=True)
        self.max_depth = None if max_depth is None else int(_positive("max_depth", max_depth))
        self.max_leaves = int(_positive("max_leaves", max_leaves))
        self.max_features = int(max_features)
        self.max_classes = int(max_classes)
        self.index = ClassIndex(limit=self.max_classes)
        self.feature_ids = FeatureIds(self.max_features)
        self.tree = TreeArrays()
        self.tree.plant(0)
        self.leaf_counts = np.ones(1, np.int64)  # one leaf: the root
        self.settings = np.array(
            [
                self.grace_period,
                self.delta,
                self.tau,
                NO_DEPTH_LIMIT if self.max_depth is None else self.max_depth,
                self.n_splits,
                self.min_branch_fraction,
                LEAF_PREDICTIONS[leaf_prediction],
                self.max_leaves,
            ]
        )

    # ------------------------------------------------------------------ contract
    @property
    def classes(self) -> list:
        return list(self.index.labels)

    def params(self) -> dict[str, Any]:
        return {
            "grace_period": self.grace_period,
            "delta": self.delta,
            "tau": self.tau,
            "leaf_prediction": self.leaf_prediction,
            "n_splits": self.n_splits,
            "min_branch_fraction": self.min_branch_fraction,
            "max_depth": self.max_depth,
            "max_leaves": self.max_leaves,
            "max_features": self.max_features,
            "max_classes": self.max_classes,
            "features": self.features.params(),
        }

    def state(self) -> State:
        arrays, meta = self.features.state()
        arrays |= self.tree.arrays()
        arrays["feature_hashes"] = self.feature_ids.hashes.copy()
        return State(type(self).__name__, self.params(), arrays, meta | {"classes": self.classes})

    @classmethod
    def from_state(cls, state: State) -> Self:
        if state.kind != cls.__name__:
            raise ValueError(f"state of a {state.kind} cannot make a {cls.__name__}")
        model = cls(**state.params)
        model.index = ClassIndex(list(state.meta.get("classes", [])), model.max_classes)
        model.feature_ids = FeatureIds(
            model.max_features, np.asarray(state.arrays["feature_hashes"])
        )
        model.tree = TreeArrays.from_arrays(
            state.arrays, 1, len(model.index), len(model.feature_ids)
        )
        model.leaf_counts[0] = model.tree.leaf_count()
        model.features.load_state(state.arrays, state.meta)
        return model

    @property
    def n_learned(self) -> int:
        return int(self.tree.counters[2])

    @property
    def n_leaves(self) -> int:
        return int(self.leaf_counts[0])

    # ------------------------------------------------------------------ schedules
    def _schedule(self, hashes, values, ops, op_rows, targets) -> np.ndarray:
        """Run operations on encoded rows in order; numbers the features of the rows to be
        learned first (a feature numbered early has no statistics, so it changes nothing
        before its row is learned)."""
        # A value of 0 is no feature (as in a sparse matrix): rows may or may not name it.
        hashes = np.where(values != 0.0, hashes, np.uint32(0))
        learned = op_rows[ops != PREDICT]
        if len(learned):
            self.feature_ids.number(hashes[learned])
        ids = self.feature_ids.lookup(hashes)
        tree = self.tree
        tree.fit(len(self.index), len(self.feature_ids))
        out = np.zeros((len(ops), len(self.index)))
        done = 0
        while done < len(ops):
            done = run_tree_ops(
                ids, values, ops, op_rows, targets, done, tree.parts, tree.roots,
                self.leaf_counts, len(self.index), len(self.feature_ids), self.settings, out,
            )  # fmt: skip
            if done < len(ops):
                tree.grow()
        self._cached = None
        return out

    def _one(self, x: Mapping[str, Any], op: int, target: int) -> np.ndarray:
        event = self._encode(x)
        out = self._schedule(
            event.hashes[None, :],
            event.values[None, :],
            np.array([op], np.int8),
            np.zeros(1, np.int64),
            np.array([target], np.float64),
        )
        return out[0]

    def predict_proba_one(self, x: Mapping[str, Any]) -> dict[Any, float]:
        proba = self._one(x, PREDICT, 0)
        return {label: float(p) for label, p in zip(self.index.labels, proba, strict=True)}

    def learn_one(self, x: Mapping[str, Any], y: Any) -> None:
        target = self.index.id_of(y)
        event = self._encode(x)
        self._one(x, LEARN, target)
        self.features.learn_one(event)

    def _run_many(self, X: Any, y: Any, op: int) -> np.ndarray:
        columns = as_columns(X)
        n = n_rows(columns)
        targets = np.zeros(n)
        if op != PREDICT:
            labels = self.index.checked(y)  # all valid before any is numbered
            if len(labels) != n:
                raise ValueError(f"expected {n} targets, got {len(labels)}")
            targets = self.index.ids(labels).astype(np.float64)
        blocks = []
        for start, stop, hashes, values in self._encoded_chunks(columns, n, op != PREDICT):
            ops = np.full(stop - start, op, np.int8)
            rows = np.arange(stop - start)
            blocks.append((start, self._schedule(hashes, values, ops, rows, targets[start:stop])))
        out = np.zeros((n, len(self.index)))  # a later chunk may know more classes
        for start, block in blocks:
            out[start : start + len(block), : block.shape[1]] = block
        return out

    def learn_many(self, X: Any, y: Any) -> None:
        self._run_many(X, y, LEARN)

    def predict_proba_many(self, X: Any) -> np.ndarray:
        return self._run_many(X, None, PREDICT)

    def predict_learn_many(self, X: Any, y: Any) -> np.ndarray:
        return self._run_many(X, y, PREDICT_LEARN)

    def run_ops(self, hashes, values, ops, op_rows, targets) -> np.ndarray:
        """Run a schedule of served rows and delayed labels (see
        :class:`~streamlearn.base.ServesRows`); targets are class ids. Returns one row of
        class probabilities per operation."""
        ops = np.asarray(ops, np.int8)
        codes = np.where(ops == PREDICT, 0.0, np.asarray(targets, np.float64))
        taught = codes[ops != PREDICT]
        if not (np.isfinite(taught).all() and ((taught >= 0) & (taught < len(self.index))).all()):
            raise ValueError("a target to learn is not a class id of this model")
        return self._schedule(hashes, values, ops, np.asarray(op_rows, np.int64), codes)


def _positive(name: str, value: float, zero: bool = False) -> float:
    value = float(value)
    if not (np.isfinite(value) and (value > 0 or (zero and value == 0))):
        raise ValueError(f"{name} must be a finite number {'>=' if zero else '>'} 0, got {value!r}")
    return value


def _fraction(name: str, value: float, zero: bool = False) -> float:
    value = float(value)
    if not ((0 < value < 1) or (zero and value == 0)):
        raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
    return value
