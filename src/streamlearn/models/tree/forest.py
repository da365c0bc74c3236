"""Adaptive Random Forests (Gomes et al., 2017), compiled: Hoeffding trees
trained by online bagging on random feature subspaces, each watched by an ADWIN warning
detector (which starts a background tree) and a drift detector (which swaps it in).

>>> from streamlearn.models.tree import AdaptiveRandomForestClassifier
>>> model = AdaptiveRandomForestClassifier(n_models=3, seed=1)
>>> for i in range(3000):
...     x = {"a": (i * 7919) % 100 / 100, "b": (i * 104729) % 100 / 100}
...     model.learn_one(x, (x["a"] > 0.5) != (x["b"] > 0.5))
>>> model.predict_one({"a": 0.9, "b": 0.8}), model.predict_one({"a": 0.9, "b": 0.1})
(False, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from streamlearn.base import register
from streamlearn.base.classes import MAX_CLASSES
from streamlearn.drift import ADWIN
from streamlearn.features.hasher import FeatureHasher
from streamlearn.models.tree.base import (
    ClassSplits,
    Growth,
    Histogram,
    TreeClassifier,
    TreeRegressor,
    positive,
)
from streamlearn.models.tree.forest_kernel import (
    DEAD,
    ForestRules,
    compact,
    run_forest_ops,
    run_regression_forest_ops,
)
from streamlearn.models.tree.kernel import FEATURE, N_NODES
from streamlearn.models.tree.store import TreeArrays

SUBSPACES = {"sqrt": -1.0, "log2": -2.0}
_FOREST = ("leaf_counts", "scores", "detectors", "buffers", "buffered", "signals")


class Forest:
    """What an adaptive random forest keeps beside its trees: leaves per tree, a score per
    tree (``scores``), its detectors and their buffers, and warnings and drifts per tree.
    Trees ``0 … n-1`` are the forest's, ``n … 2n-1`` their background trees.

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> forest = AdaptiveRandomForestClassifier(n_models=3, seed=1)
    >>> report = progressive_val_score_one(forest, elec2.stream(limit=2000))
    >>> isinstance(forest, Forest), report.metrics["accuracy"] > 0.7
    (True, True)
    """

    n_models: int
    tree: TreeArrays
    seed: int

    def _plant(
        self,
        max_features: str | int | float,
        lambda_value: float,
        warning_delta: float,
        drift_delta: float,
        score_width: int,
        weighted_vote: bool = False,
    ) -> None:
        self.max_features = max_features
        self.lambda_value = positive("lambda_value", lambda_value)
        self.warning_delta, self.drift_delta = float(warning_delta), float(drift_delta)
        detectors = [ADWIN(delta=self.warning_delta), ADWIN(delta=self.drift_delta)]
        self.detector_params = np.stack([d._param_array() for d in detectors])
        self.forest_settings = np.array(
            [self.lambda_value, _subspace(max_features), float(weighted_vote), 0.0]
        )
        n, clock = self.n_models, detectors[0].clock
        self.leaf_counts = np.zeros(2 * n, np.int64)
        self.scores = np.zeros((n, score_width))
        self.detectors = np.zeros((2 * n, len(detectors[0]._fresh_state())))
        self.buffers = np.zeros((2 * n, clock))
        self.buffered = np.zeros(2 * n, np.int64)
        self.signals = np.zeros((n, 2), np.int64)
        for tree in range(n):
            self.tree.plant(tree)
            self.leaf_counts[tree] = 1

    def forest_params(self) -> dict[str, Any]:
        return {
            "n_models": self.n_models,
            "max_features": self.max_features,
            "lambda_value": self.lambda_value,
            "warning_delta": self.warning_delta,
            "drift_delta": self.drift_delta,
            "seed": self.seed,
        }

    @property
    def parts(self) -> tuple:
        """The forest's arrays, as its kernel takes them."""
        return tuple(getattr(self, name) for name in _FOREST)

    def _rules(self) -> ForestRules:
        return ForestRules(self.settings, self.forest_settings, self.detector_params)

    def own_arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name).copy() for name in _FOREST}

    def load_own_arrays(self, arrays: Mapping[str, np.ndarray]) -> None:
        for name in _FOREST:
            fresh = getattr(self, name)
            loaded = np.asarray(arrays[name])
            if loaded.shape != fresh.shape or not np.isfinite(loaded).all():
                raise ValueError(
                    f"forest state: {name} has shape {loaded.shape}, not {fresh.shape}"
                )
            setattr(self, name, loaded.astype(fresh.dtype).copy())
        if ((self.buffered < 0) | (self.buffered >= self.buffers.shape[1])).any():
            raise ValueError("forest state: detector buffers out of range")

    @property
    def n_leaves(self) -> int:
        """Leaves of the forest's trees (not of their background trees)."""
        return int(self.leaf_counts[: self.n_models].sum())

    @property
    def drifts(self) -> int:
        """Trees replaced so far."""
        return int(self.signals[:, 1].sum())

    def _limits(self) -> tuple[int, int, int]:
        """Every tree and background tree at ``max_leaves`` leaves, room for each to split
        and plant; as many dead nodes again (of replaced trees) before a compaction."""
        n, leaves = self.n_models, self.max_leaves
        return 2 * n * leaves + 4 * n, 8 * n * leaves + 6 * n, self.feature_cap

    def _make_room(self) -> None:
        """Room for one more event: dead nodes (of replaced trees) compacted away when
        they are half the pool or the pool is at its cap, then more room if that was not
        enough."""
        tree = self.tree
        used = int(tree.counters[N_NODES])
        dead = int((tree.nodes[:used, FEATURE] == DEAD).sum())
        capped = used + 6 * self.n_models > len(tree.nodes) >= tree.max_nodes
        if dead * 2 > used or (capped and dead):
            tree.counters[N_NODES] = compact(tree.nodes, tree.thresholds, tree.roots, used)
        tree.grow(4 * self.n_models)


@register
class AdaptiveRandomForestClassifier(Forest, TreeClassifier):
    """A forest of Hoeffding trees that replaces a tree when its errors drift.

    Parameters
    ----------
    n_models
        Trees in the forest.
    max_features
        Features each leaf may split on: ``"sqrt"`` or ``"log2"`` of those seen, a count
        (an int), or a fraction (a float below 1).
    lambda_value
        Rate of the Poisson weight each tree gives each event (online bagging).
    warning_delta, drift_delta
        Confidence of the ADWIN detectors of each tree's errors: a warning starts a
        background tree, a drift puts it in the tree's place.
    weighted_vote
        Weigh each tree's vote by its accuracy since it was planted.
    seed
        Seeds the Poisson weights and the feature subspaces.
    grace_period, delta, tau, leaf_prediction, n_splits, min_branch_fraction, max_depth
        Each tree's, as in :class:`HoeffdingTreeClassifier`.
    max_leaves
        Leaves at most per tree (background trees included): the forest's size cap.
    feature_cap, max_classes, features, **feature_settings
        As in :class:`HoeffdingTreeClassifier`.

    Example
    -------
    Elec2, whether the price goes up, progressively validated:

    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> report = progressive_val_score_one(
    ...     AdaptiveRandomForestClassifier(seed=42), elec2.stream(limit=5000)
    ... )
    >>> round(report.metrics["accuracy"], 3)
    0.865
    """

    def __init__(
        self,
        *,
        n_models: int = 10,
        max_features: str | int | float = "sqrt",
        lambda_value: float = 6.0,
        warning_delta: float = 0.01,
        drift_delta: float = 0.001,
        weighted_vote: bool = True,
        seed: int = 0,
        grace_period: float = 50,
        delta: float = 0.01,
        tau: float = 0.05,
        leaf_prediction: str = "nba",
        n_splits: int = 10,
        min_branch_fraction: float = 0.01,
        max_depth: int | None = None,
        max_leaves: int = 1000,
        feature_cap: int = 256,
        max_classes: int = MAX_CLASSES,
        features: FeatureHasher | Mapping[str, Any] | None = None,
        **feature_settings: Any,
    ) -> None:
        self.n_models = int(positive("n_models", n_models))
        growth = Growth(
            grace_period, delta, tau, leaf_prediction, max_depth, max_leaves, feature_cap
        )
        splits = ClassSplits(n_splits, min_branch_fraction, max_classes)
        super().__init__(
            growth, splits, features, feature_settings, seed=seed, n_roots=2 * self.n_models
        )
        self.weighted_vote = bool(weighted_vote)
        self._plant(max_features, lambda_value, warning_delta, drift_delta, 2, self.weighted_vote)

    def params(self) -> dict[str, Any]:
        return {
            **self.forest_params(),
            "weighted_vote": self.weighted_vote,
            **self.tree_params(),
            "features": self.features.params(),
        }

    def _kernel(self, rows, schedule, start, out) -> int:
        tree, roots, sizes = self.tree.parts, self.tree.roots, self._sizes()
        rules = self._rules()
        return run_forest_ops(rows, schedule, start, tree, roots, self.parts, sizes, rules, out)


@register
class AdaptiveRandomForestRegressor(Forest, TreeRegressor):
    """A forest of Hoeffding regression trees that replaces a tree when its errors drift;
    it predicts the median of its trees.

    Parameters
    ----------
    n_models, max_features, lambda_value, warning_delta, drift_delta, seed
        As in :class:`AdaptiveRandomForestClassifier`; the detectors watch each tree's
        error, scaled by its running mean and spread.
    grace_period, delta, tau, leaf_prediction, n_bins, bin_width, min_samples_split, \
    learning_rate, model_selector_decay, max_depth, feature_cap, features
        Each tree's, as in :class:`HoeffdingTreeRegressor`.
    max_leaves
        Leaves at most per tree (background trees included): the forest's size cap.

    Example
    -------
    The demand of the Elec2 stream from its other columns, progressively validated:

    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> report = progressive_val_score_one(
    ...     AdaptiveRandomForestRegressor(seed=42), elec2.demand(limit=5000)
    ... )
    >>> round(report.metrics["mae"], 4)
    0.0522
    """

    def __init__(
        self,
        *,
        n_models: int = 10,
        max_features: str | int | float = "sqrt",
        lambda_value: float = 6.0,
        warning_delta: float = 0.01,
        drift_delta: float = 0.001,
        seed: int = 0,
        grace_period: float = 50,
        delta: float = 0.01,
        tau: float = 0.05,
        leaf_prediction: str = "adaptive",
        n_bins: int = 32,
        bin_width: float = 0.1,
        min_samples_split: float = 5,
        learning_rate: float = 0.01,
        model_selector_decay: float = 0.95,
        max_depth: int | None = None,
        max_leaves: int = 1000,
        feature_cap: int = 64,
        features: FeatureHasher | Mapping[str, Any] | None = None,
        **feature_settings: Any,
    ) -> None:
        self.n_models = int(positive("n_models", n_models))
        growth = Growth(
            grace_period, delta, tau, leaf_prediction, max_depth, max_leaves, feature_cap
        )
        histogram = Histogram(
            n_bins, bin_width, min_samples_split, learning_rate, model_selector_decay
        )
        super().__init__(
            growth, histogram, features, feature_settings, seed=seed, n_roots=2 * self.n_models
        )
        self._plant(max_features, lambda_value, warning_delta, drift_delta, 3)

    def params(self) -> dict[str, Any]:
        return {**self.forest_params(), **self.tree_params(), "features": self.features.params()}

    def _kernel(self, rows, schedule, start, out) -> int:
        tree, roots, n_features = self.tree.parts, self.tree.roots, len(self.feature_ids)
        rules = self._rules()
        return run_regression_forest_ops(
            rows, schedule, start, tree, roots, self.parts, n_features, rules, out
        )


def _subspace(spec: str | int | float) -> float:
    if isinstance(spec, str):
        if spec not in SUBSPACES:
            raise ValueError(f"max_features: 'sqrt', 'log2', a count or a fraction, not {spec!r}")
        return SUBSPACES[spec]
    if isinstance(spec, bool) or not isinstance(spec, int | float) or not spec > 0:
        raise ValueError(f"max_features: 'sqrt', 'log2', a count or a fraction, not {spec!r}")
    if isinstance(spec, float) and spec >= 1:
        raise ValueError(f"max_features: a fraction is below 1 (a count is an int), not {spec}")
    return float(spec)
