"""What the tree learners share: their settings, hashed features numbered as tree
features, classes or targets, and running schedules of rows through a compiled kernel."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np

from streamlearn.base import (
    LEARN,
    PREDICT,
    PREDICT_LEARN,
    ClassIndex,
    MulticlassClassifier,
    Regressor,
    ServedByCopies,
    ServesRows,
    State,
)
from streamlearn.features.columns import as_columns, n_rows
from streamlearn.features.hasher import FeatureHasher
from streamlearn.models.hashed import HashedModel
from streamlearn.models.linear.base import regression_target, target_array
from streamlearn.models.tree.kernel import (
    ADAPTIVE,
    DELTA,
    GRACE,
    LEAF_MODE,
    MAJORITY,
    MAX_DEPTH,
    MAX_LEAVES,
    MIN_BRANCH,
    N_LEARNED,
    N_SPLITS,
    NAIVE_BAYES,
    TAU,
)
from streamlearn.models.tree.regression_kernel import (
    BIN_WIDTH0,
    DECAY,
    LEAF_ADAPTIVE,
    LEAF_MEAN,
    LEAF_MODEL,
    LEARNING_RATE,
    MIN_SAMPLES,
    N_BINS,
)
from streamlearn.models.tree.store import FeatureIds, TreeArrays

NO_DEPTH_LIMIT = 1 << 30


class TreeModel(HashedModel, ServesRows, ServedByCopies):
    """What every Hoeffding-tree learner shares: settings, hashed features numbered as tree
    features, the tree arrays, snapshots, and schedules of rows through a compiled kernel.
    Subclasses say what a leaf holds (:meth:`_stat_width`), what an operation gives
    (:meth:`_out_width`) and run a schedule in :meth:`_kernel`."""

    leaf_predictions: ClassVar[dict[str, int]]

    def __init__(
        self,
        grace_period: float,
        delta: float,
        tau: float,
        leaf_prediction: str,
        max_depth: int | None,
        max_leaves: int,
        feature_cap: int,
        features: FeatureHasher | Mapping[str, Any] | None,
        feature_settings: Mapping[str, Any],
        *,
        standardize: bool,
        seed: int = 0,
        n_roots: int = 1,
        bins: int = 0,
    ) -> None:
        super().__init__(features, feature_settings, standardize=standardize)
        self.grace_period = positive("grace_period", grace_period)
        self.delta = fraction("delta", delta)
        self.tau = positive("tau", tau, zero=True)
        if leaf_prediction not in self.leaf_predictions:
            raise ValueError(
                f"leaf_prediction: one of {list(self.leaf_predictions)}, got {leaf_prediction!r}"
            )
        self.leaf_prediction = leaf_prediction
        self.max_depth = None if max_depth is None else int(positive("max_depth", max_depth))
        self.max_leaves = int(positive("max_leaves", max_leaves))
        self.feature_cap = int(feature_cap)
        self.seed = int(seed)
        self.feature_ids = FeatureIds(self.feature_cap)
        self.tree = TreeArrays(n_roots, seed=self.seed & ((1 << 63) - 1), bins=bins)
        self.tree.limit(*self._limits())
        self.settings = np.zeros(8)
        self.settings[[GRACE, DELTA, TAU, MAX_DEPTH, LEAF_MODE, MAX_LEAVES]] = [
            self.grace_period,
            self.delta,
            self.tau,
            NO_DEPTH_LIMIT if self.max_depth is None else self.max_depth,
            self.leaf_predictions[leaf_prediction],
            self.max_leaves,
        ]

    def tree_params(self) -> dict[str, Any]:
        """The settings every tree learner takes."""
        return {
            "grace_period": self.grace_period,
            "delta": self.delta,
            "tau": self.tau,
            "leaf_prediction": self.leaf_prediction,
            "max_depth": self.max_depth,
            "max_leaves": self.max_leaves,
            "feature_cap": self.feature_cap,
        }

    def _limits(self) -> tuple[int, int, int]:
        """The most leaf slots, nodes and features the size cap needs: one tree of
        ``max_leaves`` leaves, a free slot and room for a split."""
        return self.max_leaves + 1, 2 * self.max_leaves + 1, self.feature_cap

    def max_nbytes(self) -> int:
        """The most bytes its trees can take (its size cap), for the classes it has now."""
        return self.tree.max_nbytes()

    def _stat_width(self) -> int:
        """Statistics a leaf keeps in ``counts`` (a column per class, or the target's)."""
        raise NotImplementedError

    def _out_width(self) -> int:
        """Numbers an operation gives (a probability per class, or one value)."""
        raise NotImplementedError

    def own_arrays(self) -> dict[str, np.ndarray]:
        """A subclass's arrays beyond the trees'."""
        return {}

    def load_own_arrays(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Restore (and check) what :meth:`own_arrays` gave."""

    def _meta(self) -> dict[str, Any]:
        return {}

    def _load_meta(self, meta: Mapping[str, Any]) -> None:
        """Restore what :meth:`_meta` gave (before the arrays)."""

    def state(self) -> State:
        arrays, meta = self.features.state()
        arrays |= self.tree.arrays() | self.own_arrays()
        arrays["feature_hashes"] = self.feature_ids.hashes.copy()
        return State(type(self).__name__, self.params(), arrays, meta | self._meta())

    @classmethod
    def from_state(cls, state: State) -> Self:
        if state.kind != cls.__name__:
            raise ValueError(f"state of a {state.kind} cannot make a {cls.__name__}")
        model = cls(**state.params)
        model._load_meta(state.meta)
        hashes = np.asarray(state.arrays["feature_hashes"])
        model.feature_ids = FeatureIds(model.feature_cap, hashes)
        model.tree = TreeArrays.from_arrays(
            state.arrays, len(model.tree.roots), model._stat_width(), len(model.feature_ids),
            bins=model.tree.bins,
        )  # fmt: skip
        model.tree.limit(*model._limits())
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
        self.tree.fit(self._stat_width(), len(self.feature_ids))
        out = np.zeros((len(ops), self._out_width()))
        done = 0
        while done < len(ops):
            done = self._kernel(ids, values, ops, op_rows, targets, done, out)
            if done < len(ops):
                self._make_room()
        self._cached = None
        return out

    def _one(self, x: Mapping[str, Any], op: int, target: float) -> np.ndarray:
        event = self._encode(x)
        out = self._schedule(
            event.hashes[None, :],
            event.values[None, :],
            np.array([op], np.int8),
            np.zeros(1, np.int64),
            np.array([target], np.float64),
        )
        if op != PREDICT:
            self.features.learn_one(event)
        return out[0]

    def _run_many(self, X: Any, y: Any, op: int) -> np.ndarray:
        """Run ``op`` over a batch (``y`` checked and coded as the kernel's targets)."""
        raise NotImplementedError

    def learn_many(self, X: Any, y: Any) -> None:
        self._run_many(X, y, LEARN)

    def predict_learn_many(self, X: Any, y: Any) -> np.ndarray:
        return self._run_many(X, y, PREDICT_LEARN)

    def _run_targets(self, X: Any, targets: np.ndarray | None, op: int) -> np.ndarray:
        columns = as_columns(X)
        n = n_rows(columns)
        targets = np.zeros(n) if targets is None else targets
        if len(targets) != n:
            raise ValueError(f"expected {n} targets, got {len(targets)}")
        blocks = []
        for start, stop, hashes, values in self._encoded_chunks(columns, n, op != PREDICT):
            ops = np.full(stop - start, op, np.int8)
            rows = np.arange(stop - start)
            blocks.append((start, self._schedule(hashes, values, ops, rows, targets[start:stop])))
        out = np.zeros((n, self._out_width()))  # a later chunk may know more classes
        for start, block in blocks:
            out[start : start + len(block), : block.shape[1]] = block
        return out


class OneTree:
    """A learner of one tree (tree 0 of its arrays)."""

    tree: TreeArrays

    def _plant_one(self) -> None:
        self.tree.plant(0)
        self.leaf_counts = np.ones(1, np.int64)  # one leaf: the root

    def params(self) -> dict[str, Any]:
        return self.tree_params() | {"features": self.features.params()}

    def load_own_arrays(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.leaf_counts[0] = self.tree.leaf_count()

    @property
    def n_leaves(self) -> int:
        return int(self.leaf_counts[0])


class TreeClassifier(TreeModel, MulticlassClassifier):
    """A classifier made of Hoeffding trees (see :class:`HoeffdingTreeClassifier` for the
    settings)."""

    leaf_predictions: ClassVar[dict[str, int]] = {
        "mc": MAJORITY,
        "nb": NAIVE_BAYES,
        "nba": ADAPTIVE,
    }

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
        super().__init__(
            grace_period, delta, tau, leaf_prediction, max_depth, max_leaves, feature_cap,
            features, feature_settings, standardize=False, seed=seed, n_roots=n_roots,
        )  # fmt: skip
        self.n_splits = int(positive("n_splits", n_splits))
        self.min_branch_fraction = fraction("min_branch_fraction", min_branch_fraction, zero=True)
        self.settings[N_SPLITS], self.settings[MIN_BRANCH] = self.n_splits, self.min_branch_fraction
        self.max_classes = int(max_classes)
        self.index = ClassIndex(limit=self.max_classes)

    @property
    def classes(self) -> list:
        return list(self.index.labels)

    def tree_params(self) -> dict[str, Any]:
        return super().tree_params() | {
            "n_splits": self.n_splits,
            "min_branch_fraction": self.min_branch_fraction,
            "max_classes": self.max_classes,
        }

    def _stat_width(self) -> int:
        return len(self.index)

    def _out_width(self) -> int:
        return len(self.index)

    def _meta(self) -> dict[str, Any]:
        return {"classes": self.classes}

    def _load_meta(self, meta: Mapping[str, Any]) -> None:
        self.index = ClassIndex(list(meta.get("classes", [])), self.max_classes)

    def predict_proba_one(self, x: Mapping[str, Any]) -> dict[Any, float]:
        proba = self._one(x, PREDICT, 0)
        return {label: float(p) for label, p in zip(self.index.labels, proba, strict=True)}

    def learn_one(self, x: Mapping[str, Any], y: Any) -> None:
        self._one(x, LEARN, self.index.id_of(y))

    def _run_many(self, X: Any, y: Any, op: int) -> np.ndarray:
        targets = None
        if op != PREDICT:
            labels = self.index.checked(y)  # all valid before any is numbered
            targets = self.index.ids(labels).astype(np.float64)
        return self._run_targets(X, targets, op)

    def predict_proba_many(self, X: Any) -> np.ndarray:
        return self._run_many(X, None, PREDICT)

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


class TreeRegressor(TreeModel, Regressor):
    """A regressor made of Hoeffding trees (see :class:`HoeffdingTreeRegressor` for the
    settings)."""

    leaf_predictions: ClassVar[dict[str, int]] = {
        "mean": LEAF_MEAN,
        "model": LEAF_MODEL,
        "adaptive": LEAF_ADAPTIVE,
    }

    def __init__(
        self,
        grace_period: float,
        delta: float,
        tau: float,
        leaf_prediction: str,
        n_bins: int,
        bin_width: float,
        min_samples_split: float,
        learning_rate: float,
        model_selector_decay: float,
        max_depth: int | None,
        max_leaves: int,
        feature_cap: int,
        features: FeatureHasher | Mapping[str, Any] | None,
        feature_settings: Mapping[str, Any],
        seed: int = 0,
        n_roots: int = 1,
    ) -> None:
        n_bins = int(n_bins)
        if not (2 <= n_bins <= 4096 and n_bins % 2 == 0):
            raise ValueError(f"n_bins must be an even number from 2 to 4096, got {n_bins!r}")
        super().__init__(
            grace_period, delta, tau, leaf_prediction, max_depth, max_leaves, feature_cap,
            features, feature_settings, standardize=True, seed=seed, n_roots=n_roots,
            bins=n_bins + 1,
        )  # fmt: skip
        self.n_bins = n_bins
        self.bin_width = positive("bin_width", bin_width)
        self.min_samples_split = positive("min_samples_split", min_samples_split, zero=True)
        self.learning_rate = positive("learning_rate", learning_rate, zero=True)
        self.model_selector_decay = fraction("model_selector_decay", model_selector_decay)
        extra = np.zeros(DECAY + 1 - len(self.settings))
        self.settings = np.concatenate([self.settings, extra])
        self.settings[[N_BINS, BIN_WIDTH0, MIN_SAMPLES, LEARNING_RATE, DECAY]] = [
            self.n_bins,
            self.bin_width,
            self.min_samples_split,
            self.learning_rate,
            self.model_selector_decay,
        ]
        self.tree.fit(self._stat_width(), 0)  # a target's statistics, from the start

    def tree_params(self) -> dict[str, Any]:
        return super().tree_params() | {
            "n_bins": self.n_bins,
            "bin_width": self.bin_width,
            "min_samples_split": self.min_samples_split,
            "learning_rate": self.learning_rate,
            "model_selector_decay": self.model_selector_decay,
        }

    def _stat_width(self) -> int:
        return 3

    def _out_width(self) -> int:
        return 1

    def predict_one(self, x: Mapping[str, Any]) -> float:
        return float(self._one(x, PREDICT, 0.0)[0])

    def learn_one(self, x: Mapping[str, Any], y: Any) -> None:
        self._one(x, LEARN, regression_target(y))

    def _run_many(self, X: Any, y: Any, op: int) -> np.ndarray:
        columns = as_columns(X)
        targets = None if op == PREDICT else target_array(y, n_rows(columns))
        if targets is not None and not np.isfinite(targets).all():
            raise ValueError("regression targets must be finite numbers")
        return self._run_targets(columns, targets, op)[:, 0]

    def predict_many(self, X: Any) -> np.ndarray:
        return self._run_many(X, None, PREDICT)

    def run_ops(self, hashes, values, ops, op_rows, targets) -> np.ndarray:
        """Run a schedule of served rows and delayed labels (see
        :class:`~streamlearn.base.ServesRows`). Returns a prediction per operation."""
        ops = np.asarray(ops, np.int8)
        targets = np.where(ops == PREDICT, 0.0, np.asarray(targets, np.float64))
        if not np.isfinite(targets).all():
            raise ValueError("a target to learn is not a finite number")
        rows = np.asarray(op_rows, np.int64)
        return self._schedule(hashes, values, ops, rows, targets)[:, 0]


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
