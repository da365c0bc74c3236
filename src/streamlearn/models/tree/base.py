"""What the Hoeffding-tree learners share: their settings and their tree arrays, over the
rows of :mod:`streamlearn.models.rows`; a classifier's classes, a regressor's
targets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from streamlearn.features.hasher import FeatureHasher
from streamlearn.models.rows import ClassRows, RowModel, ValueRows
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
from streamlearn.models.tree.store import TreeArrays

NO_DEPTH_LIMIT = 1 << 30


@dataclass(frozen=True)
class Growth:
    """How every Hoeffding tree grows (checked by the learner that takes it).

    Parameters
    ----------
    grace_period, delta, tau
        Events a leaf sees between split attempts, the Hoeffding bound's confidence, and the
        tie-breaking threshold (as River's).
    leaf_prediction
        What a leaf predicts (one of the learner's ``leaf_predictions``).
    max_depth, max_leaves
        The deepest a tree grows (None: no limit) and the most leaves of all its trees (the
        memory cap).
    feature_cap
        The most distinct features the trees tell apart.

    Example
    -------
    >>> Growth(200, 1e-7, 0.05, "nba", None, 1000, 256).max_leaves
    1000
    """

    grace_period: float
    delta: float
    tau: float
    leaf_prediction: str
    max_depth: int | None
    max_leaves: int
    feature_cap: int


@dataclass(frozen=True)
class ClassSplits:
    """How a classifying tree splits, and the classes it numbers.

    Parameters
    ----------
    n_splits, min_branch_fraction
        Candidate thresholds per numeric feature, and the smallest share of a leaf's weight a
        branch may get.
    max_classes
        The most classes numbered.

    Example
    -------
    >>> ClassSplits(10, 0.01, 1000).n_splits
    10
    """

    n_splits: int
    min_branch_fraction: float
    max_classes: int


@dataclass(frozen=True)
class Histogram:
    """A regression tree's split statistics and leaf models.

    Parameters
    ----------
    n_bins, bin_width
        The histogram bins per leaf and feature (an even number), and the first bins' width
        in standardized units (it doubles as values spread).
    min_samples_split
        Weight a split must send down each branch.
    learning_rate, model_selector_decay
        The leaf models' rate, and the decay of the errors that choose between a leaf's mean
        and its model (``adaptive`` leaves).

    Example
    -------
    >>> Histogram(32, 0.1, 5, 0.01, 0.95).n_bins
    32
    """

    n_bins: int
    bin_width: float
    min_samples_split: float
    learning_rate: float
    model_selector_decay: float


class TreeModel(RowModel):
    """What every Hoeffding-tree learner shares: settings and the tree arrays. Subclasses
    say what a leaf holds (:meth:`_stat_width`), what an operation gives
    (:meth:`_out_width`) and run a schedule in :meth:`_kernel`.

    Parameters
    ----------
    growth
        How its trees grow (:class:`Growth`).
    features, feature_settings, standardize
        As for :class:`~streamlearn.models.rows.RowModel`.
    seed
        Seeds the random choices (feature subspaces, bagging weights).
    n_roots
        Trees in the arrays (a forest's members).
    bins
        A regressor's histogram bins per leaf and feature (0: a classifier's Gaussian
        observers).

    Example
    -------
    >>> from streamlearn.models import HoeffdingTreeClassifier
    >>> tree = HoeffdingTreeClassifier(grace_period=50, max_leaves=10)
    >>> isinstance(tree, TreeModel), tree.tree_params()["max_leaves"]
    (True, 10)
    """

    leaf_predictions: ClassVar[dict[str, int]]

    def __init__(
        self,
        growth: Growth,
        features: FeatureHasher | Mapping[str, Any] | None,
        feature_settings: Mapping[str, Any],
        *,
        standardize: bool,
        seed: int = 0,
        n_roots: int = 1,
        bins: int = 0,
    ) -> None:
        feature_cap, leaf_prediction = growth.feature_cap, growth.leaf_prediction
        super().__init__(features, feature_settings, feature_cap, standardize=standardize)
        self.grace_period = positive("grace_period", growth.grace_period)
        self.delta = fraction("delta", growth.delta)
        self.tau = positive("tau", growth.tau, zero=True)
        if leaf_prediction not in self.leaf_predictions:
            raise ValueError(
                f"leaf_prediction: one of {list(self.leaf_predictions)}, got {leaf_prediction!r}"
            )
        self.leaf_prediction = leaf_prediction
        max_depth = growth.max_depth
        self.max_depth = None if max_depth is None else int(positive("max_depth", max_depth))
        self.max_leaves = int(positive("max_leaves", growth.max_leaves))
        self.seed = int(seed)
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

    def own_arrays(self) -> dict[str, np.ndarray]:
        """A subclass's arrays beyond the trees'."""
        return {}

    def load_own_arrays(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Restore (and check) what :meth:`own_arrays` gave."""

    def _arrays(self) -> dict[str, np.ndarray]:
        return self.tree.arrays() | self.own_arrays()

    def _load_arrays(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.tree = TreeArrays.from_arrays(
            arrays,
            len(self.tree.roots),
            self._stat_width(),
            len(self.feature_ids),
            bins=self.tree.bins,
        )
        self.tree.limit(*self._limits())
        self.load_own_arrays(arrays)

    @property
    def n_learned(self) -> int:
        return int(self.tree.counters[N_LEARNED])

    def _fit(self) -> None:
        self.tree.fit(self._stat_width(), len(self.feature_ids))

    def _make_room(self) -> None:
        self.tree.grow()


class OneTree:
    """A learner of one tree (tree 0 of its arrays). Takes no parameters: it reads the
    tree of the class it is mixed into.

    Example
    -------
    >>> from streamlearn.models import HoeffdingTreeClassifier
    >>> tree = HoeffdingTreeClassifier(grace_period=20)
    >>> for i in range(400):
    ...     tree.learn_one({"x": float(i % 10)}, i % 10 > 4)
    >>> isinstance(tree, OneTree), tree.n_leaves > 1
    (True, True)
    """

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


class TreeClassifier(TreeModel, ClassRows):
    """A classifier made of Hoeffding trees.

    Parameters
    ----------
    growth
        How its trees grow (:class:`Growth`).
    splits
        How they split, and the classes they number (:class:`ClassSplits`).
    features, feature_settings, seed, n_roots
        As for :class:`TreeModel`.

    Example
    -------
    >>> from streamlearn.models import HoeffdingTreeClassifier
    >>> tree = HoeffdingTreeClassifier()
    >>> tree.learn_one({"colour": "red"}, "stop")
    >>> isinstance(tree, TreeClassifier), tree.predict_one({"colour": "red"})
    (True, 'stop')
    """

    leaf_predictions: ClassVar[dict[str, int]] = {
        "mc": MAJORITY,
        "nb": NAIVE_BAYES,
        "nba": ADAPTIVE,
    }

    def __init__(
        self,
        growth: Growth,
        splits: ClassSplits,
        features: FeatureHasher | Mapping[str, Any] | None,
        feature_settings: Mapping[str, Any],
        *,
        seed: int = 0,
        n_roots: int = 1,
    ) -> None:
        super().__init__(
            growth, features, feature_settings, standardize=False, seed=seed, n_roots=n_roots
        )
        self.n_splits = int(positive("n_splits", splits.n_splits))
        branch = splits.min_branch_fraction
        self.min_branch_fraction = fraction("min_branch_fraction", branch, zero=True)
        self.settings[N_SPLITS], self.settings[MIN_BRANCH] = self.n_splits, self.min_branch_fraction
        self._number_classes(splits.max_classes)

    def tree_params(self) -> dict[str, Any]:
        return super().tree_params() | {
            "n_splits": self.n_splits,
            "min_branch_fraction": self.min_branch_fraction,
            "max_classes": self.max_classes,
        }

    def _stat_width(self) -> int:
        return len(self.index)


class TreeRegressor(TreeModel, ValueRows):
    """A regressor made of Hoeffding trees.

    Parameters
    ----------
    growth
        How its trees grow (:class:`Growth`).
    histogram
        Its split statistics and leaf models (:class:`Histogram`).
    features, feature_settings, seed, n_roots
        As for :class:`TreeModel`.

    Example
    -------
    >>> from streamlearn.models import HoeffdingTreeRegressor
    >>> tree = HoeffdingTreeRegressor()
    >>> for _ in range(100):
    ...     tree.learn_one({"x": 1.0}, 4.0)
    >>> isinstance(tree, TreeRegressor), tree.predict_one({"x": 1.0})
    (True, 4.0)
    """

    leaf_predictions: ClassVar[dict[str, int]] = {
        "mean": LEAF_MEAN,
        "model": LEAF_MODEL,
        "adaptive": LEAF_ADAPTIVE,
    }

    def __init__(
        self,
        growth: Growth,
        histogram: Histogram,
        features: FeatureHasher | Mapping[str, Any] | None,
        feature_settings: Mapping[str, Any],
        *,
        seed: int = 0,
        n_roots: int = 1,
    ) -> None:
        n_bins = int(histogram.n_bins)
        if not (2 <= n_bins <= 4096 and n_bins % 2 == 0):
            raise ValueError(f"n_bins must be an even number from 2 to 4096, got {n_bins!r}")
        super().__init__(
            growth,
            features,
            feature_settings,
            standardize=True,
            seed=seed,
            n_roots=n_roots,
            bins=n_bins + 1,
        )
        self.n_bins = n_bins
        self.bin_width = positive("bin_width", histogram.bin_width)
        self.min_samples_split = positive(
            "min_samples_split", histogram.min_samples_split, zero=True
        )
        self.learning_rate = positive("learning_rate", histogram.learning_rate, zero=True)
        self.model_selector_decay = fraction("model_selector_decay", histogram.model_selector_decay)
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
