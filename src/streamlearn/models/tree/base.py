"""What the tree learners share: their settings, hashed features numbered as tree
features, classes, and running schedules of rows through a compiled kernel."""

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
)
from streamlearn.features.columns import as_columns, n_rows
from streamlearn.features.hasher import FeatureHasher
from streamlearn.models.hashed import HashedModel
from streamlearn.models.tree.kernel import ADAPTIVE, MAJORITY, N_LEARNED, NAIVE_BAYES
from streamlearn.models.tree.store import FeatureIds, TreeArrays

LEAF_PREDICTIONS = {"mc": MAJORITY, "nb": NAIVE_BAYES, "nba": ADAPTIVE}
NO_DEPTH_LIMIT = 1 << 30


class TreeClassifier(HashedModel, MulticlassClassifier, ServesRows, ServedByCopies):
    """A classifier made of Hoeffding trees (see :class:`HoeffdingTreeClassifier` for the
    settings). Subclasses run a schedule in :meth:`_kernel` and keep their own arrays."""

    def __init__(
        self,
        grace_period: float,
        delta: float,
        tau: float,
        leaf_prediction: str,
        n_splits: int,
        min_branch_fraction: float,
        max_depth: int | None,
        max_leaves: int,
        feature_cap: int,
        max_classes: int,
        features: FeatureHasher | Mapping[str, Any] | None,
        feature_settings: Mapping[str, Any],
        seed: int = 0,
        n_roots: int = 1,
    ) -> None:
        super().__init__(features, feature_settings, standardize=False)
        self.grace_period = positive("grace_period", grace_period)
        self.delta = fraction("delta", delta)
        self.tau = positive("tau", tau, zero=True)
        if leaf_prediction not in LEAF_PREDICTIONS:
            raise ValueError(
                f"leaf_prediction: one of {list(LEAF_PREDICTIONS)}, got {leaf_prediction!r}"
            )
        self.leaf_prediction = leaf_prediction
        self.n_splits = int(positive("n_splits", n_splits))
        self.min_branch_fraction = fraction("min_branch_fraction", min_branch_fraction, zero=True)
        self.max_depth = None if max_depth is None else int(positive("max_depth", max_depth))
        self.max_leaves = int(positive("max_leaves", max_leaves))
        self.feature_cap = int(feature_cap)
        self.max_classes = int(max_classes)
        self.seed = int(seed)
        self.index = ClassIndex(limit=self.max_classes)
        self.feature_ids = FeatureIds(self.feature_cap)
        self.tree = TreeArrays(n_roots, seed=self.seed & ((1 << 63) - 1))
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

    def tree_params(self) -> dict[str, Any]:
        """The settings every tree learner takes."""
        return {
            "grace_period": self.grace_period,
            "delta": self.delta,
            "tau": self.tau,
            "leaf_prediction": self.leaf_prediction,
            "n_splits": self.n_splits,
            "min_branch_fraction": self.min_branch_fraction,
            "max_depth": self.max_depth,
            "max_leaves": self.max_leaves,
            "feature_cap": self.feature_cap,
            "max_classes": self.max_classes,
        }

    def own_arrays(self) -> dict[str, np.ndarray]:
        """A subclass's arrays beyond the trees'."""
        return {}

    def load_own_arrays(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Restore (and check) what :meth:`own_arrays` gave."""

    def state(self) -> State:
        arrays, meta = self.features.state()
        arrays |= self.tree.arrays() | self.own_arrays()
        arrays["feature_hashes"] = self.feature_ids.hashes.copy()
        return State(type(self).__name__, self.params(), arrays, meta | {"classes": self.classes})

    @classmethod
    def from_state(cls, state: State) -> Self:
        if state.kind != cls.__name__:
            raise ValueError(f"state of a {state.kind} cannot make a {cls.__name__}")
        model = cls(**state.params)
        model.index = ClassIndex(list(state.meta.get("classes", [])), model.max_classes)
        hashes = np.asarray(state.arrays["feature_hashes"])
        model.feature_ids = FeatureIds(model.feature_cap, hashes)
        n_classes, n_features = len(model.index), len(model.feature_ids)
        n_roots = len(model.tree.roots)
        model.tree = TreeArrays.from_arrays(state.arrays, n_roots, n_classes, n_features)
        model.load_own_arrays(state.arrays)
        model.features.load_state(state.arrays, state.meta)
        return model

    @property
    def n_learned(self) -> int:
        return int(self.tree.counters[N_LEARNED])

    # ------------------------------------------------------------------ schedules
    def _kernel(self, ids, values, ops, op_rows, targets, start: int, out) -> int:
        """Run operations from ``start``; returns where it stopped (before an operation
        that needs more room: :meth:`_make_room` then makes it)."""
        raise NotImplementedError

    def _make_room(self) -> None:
        self.tree.grow()

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
        self.tree.fit(len(self.index), len(self.feature_ids))
        out = np.zeros((len(ops), len(self.index)))
        done = 0
        while done < len(ops):
            done = self._kernel(ids, values, ops, op_rows, targets, done, out)
            if done < len(ops):
                self._make_room()
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


def positive(name: str, value: float, zero: bool = False) -> float:
    value = float(value)
    if not (np.isfinite(value) and (value > 0 or (zero and value == 0))):
        raise ValueError(f"{name} must be a finite number {'>=' if zero else '>'} 0, got {value!r}")
    return value


def fraction(name: str, value: float, zero: bool = False) -> float:
    value = float(value)
    if not ((0 < value < 1) or (zero and value == 0)):
        raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
    return value
