"""Hoeffding Adaptive Trees (Bifet & Gavaldà, 2009), classifier and regressor: Hoeffding
trees whose nodes watch their own errors with ADWIN and grow alternate subtrees where the
stream drifts, switching one in once it is significantly better (see
:mod:`streamlearn.models.tree.adaptive_kernel`).

>>> from streamlearn.models.tree import HoeffdingAdaptiveTreeClassifier
>>> model = HoeffdingAdaptiveTreeClassifier(grace_period=50, seed=1)
>>> for i in range(4000):
...     x = {"a": (i * 7919) % 100 / 100, "b": (i * 104729) % 100 / 100}
...     model.learn_one(x, (x["a"] > 0.5) if i < 2000 else (x["b"] > 0.5))  # a drift
>>> model.predict_one({"a": 0.9, "b": 0.1}), model.predict_one({"a": 0.1, "b": 0.9})
(False, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from streamlearn.base import register
from streamlearn.base.classes import MAX_CLASSES
from streamlearn.drift import ADWIN
from streamlearn.features.hasher import FeatureHasher
from streamlearn.models.feature_ids import grown
from streamlearn.models.tree.adaptive_kernel import (
    PRUNED,
    STARTED,
    SWITCHED,
    AdaptiveParts,
    AdaptiveRules,
    compact_adaptive,
    run_adaptive_ops,
)
from streamlearn.models.tree.base import (
    ClassSplits,
    Growth,
    Histogram,
    OneTree,
    TreeClassifier,
    TreeRegressor,
    fraction,
    positive,
)
from streamlearn.models.tree.forest_kernel import DEAD, compact
from streamlearn.models.tree.kernel import FEATURE, N_NODES

_ADAPTIVE = ("alternates", "errors", "detectors", "buffers", "buffered")


@dataclass(frozen=True)
class Adaptation:
    """How a Hoeffding Adaptive Tree watches its nodes and switches alternates in.

    Parameters
    ----------
    bootstrap_sampling
        Leaves learn each event with a Poisson(1) weight (a draw of 0 counting as 1).
    drift_window_threshold
        Events a branch and its alternate must both have judged before one may replace
        the other.
    switch_significance
        The significance of the test that switches an alternate in (or drops it).
    drift_delta
        The confidence of each node's ADWIN detector.

    Example
    -------
    >>> Adaptation(True, 300, 0.05, 0.002).drift_window_threshold
    300
    """

    bootstrap_sampling: bool
    drift_window_threshold: int
    switch_significance: float
    drift_delta: float


class AdaptiveTree(OneTree):
    """What the adaptive tree classifier and regressor share: the per-node detectors,
    errors and alternates beside the tree, their room and their snapshots. Takes no
    parameters: :meth:`_adapt` sets it up from an :class:`Adaptation`.

    Example
    -------
    >>> tree = HoeffdingAdaptiveTreeRegressor(seed=1)
    >>> isinstance(tree, AdaptiveTree), tree.n_alternate_trees
    (True, 0)
    """

    error_columns: ClassVar[int] = 2  # a node's error sum and count (a regressor adds M2)
    regression: ClassVar[bool] = False
    max_leaves: int
    feature_cap: int
    seed: int

    def _adapt(self, adaptation: Adaptation) -> None:
        self.bootstrap_sampling = bool(adaptation.bootstrap_sampling)
        window = positive("drift_window_threshold", adaptation.drift_window_threshold, zero=True)
        self.drift_window_threshold = int(window)
        self.switch_significance = fraction("switch_significance", adaptation.switch_significance)
        self.drift_delta = fraction("drift_delta", adaptation.drift_delta)
        detector = ADWIN(delta=self.drift_delta)
        self.detector_params = detector._param_array()
        self.hat = np.array(
            [
                float(self.bootstrap_sampling),
                self.drift_window_threshold,
                self.switch_significance,
                float(self.regression),
            ]
        )
        self._plant_one()
        n, clock = len(self.tree.nodes), detector.clock
        self.alternates = np.full(n, -1, np.int64)
        self.errors = np.zeros((n, self.error_columns))
        self.detectors = np.zeros((n, len(detector._fresh_state())))
        self.buffers = np.zeros((n, clock))
        self.buffered = np.zeros(n, np.int64)
        self.signals = np.zeros(3, np.int64)
        self.room = np.zeros(1, np.int64)

    def params(self) -> dict[str, Any]:
        return super().params() | {
            "bootstrap_sampling": self.bootstrap_sampling,
            "drift_window_threshold": self.drift_window_threshold,
            "switch_significance": self.switch_significance,
            "drift_delta": self.drift_delta,
            "seed": self.seed,
        }

    @property
    def adaptive(self) -> tuple:
        """The per-node adaptive arrays, as the kernel takes them."""
        return tuple(getattr(self, name) for name in _ADAPTIVE)

    def _kernel(self, rows, schedule, start, out) -> int:
        parts = AdaptiveParts(self.adaptive, self.tree.roots, self.leaf_counts, self.signals)
        rules = AdaptiveRules(self._sizes(), self.settings, self.hat, self.detector_params)
        return run_adaptive_ops(
            rows, schedule, start, self.tree.parts, parts, rules, self.room, out
        )

    def _limits(self) -> tuple[int, int, int]:
        """The tree's and its alternates' ``max_leaves`` leaves each, room for a row's
        splits, and dead nodes (of replaced subtrees) before a compaction."""
        return 2 * self.max_leaves + 64, 6 * self.max_leaves + 256, self.feature_cap

    def _make_room(self) -> None:
        """Room for the next row: dead nodes compacted away when they are half the pool or
        the pool is at its cap, then more room if that was not enough."""
        tree, need = self.tree, int(self.room[0])
        used = int(tree.counters[N_NODES])
        dead = int((tree.nodes[:used, FEATURE] == DEAD).sum())
        capped = used + 2 * need > len(tree.nodes) >= tree.max_nodes
        if dead * 2 > used or (capped and dead):
            compact_adaptive(self.adaptive, tree.nodes, used)
            tree.counters[N_NODES] = compact(tree.nodes, tree.thresholds, tree.roots, used)
        tree.grow(need)
        self._fit_nodes()

    def _fit_nodes(self) -> None:
        """Per-node arrays as long as the pool's nodes."""
        n = len(self.tree.nodes)
        if len(self.alternates) < n:
            self.alternates = grown(self.alternates, (n,), fill=-1)
            self.errors = grown(self.errors, (n, self.error_columns))
            self.detectors = grown(self.detectors, (n, self.detectors.shape[1]))
            self.buffers = grown(self.buffers, (n, self.buffers.shape[1]))
            self.buffered = grown(self.buffered, (n,))

    def max_nbytes(self) -> int:
        per_node = 8 * (2 + self.error_columns + self.detectors.shape[1] + self.buffers.shape[1])
        return self.tree.max_nbytes() + per_node * self.tree.max_nodes

    def own_arrays(self) -> dict[str, np.ndarray]:
        arrays = {name: getattr(self, name).copy() for name in _ADAPTIVE}
        return arrays | {"signals": self.signals.copy()}

    def load_own_arrays(self, arrays: Mapping[str, np.ndarray]) -> None:
        n, used = len(self.tree.nodes), int(self.tree.counters[N_NODES])
        self._fit_nodes()
        for name in (*_ADAPTIVE, "signals"):
            fresh = getattr(self, name)
            loaded = np.asarray(arrays[name])
            shape = (n, *fresh.shape[1:]) if name != "signals" else fresh.shape
            if loaded.shape != shape or not np.isfinite(loaded).all():
                raise ValueError(f"adaptive tree state: {name} has shape {loaded.shape}")
            setattr(self, name, loaded.astype(fresh.dtype).copy())
        alternates = self.alternates[:used]
        if ((alternates < -1) | (alternates >= used)).any() or (self.alternates[used:] != -1).any():
            raise ValueError("adaptive tree state: an alternate out of range")
        if ((self.buffered < 0) | (self.buffered >= self.buffers.shape[1])).any():
            raise ValueError("adaptive tree state: detector buffers out of range")
        self.leaf_counts[0] = int((self.tree.nodes[:used, FEATURE] == -1).sum())

    @property
    def n_alternate_trees(self) -> int:
        """Alternate subtrees started so far."""
        return int(self.signals[STARTED])

    @property
    def n_switch_alternate_trees(self) -> int:
        """Alternates that replaced their subtree."""
        return int(self.signals[SWITCHED])

    @property
    def n_pruned_alternate_trees(self) -> int:
        """Alternates dropped as worse than their subtree."""
        return int(self.signals[PRUNED])


@register
class HoeffdingAdaptiveTreeClassifier(AdaptiveTree, TreeClassifier):
    """A Hoeffding tree that replaces its subtrees where the stream drifts.

    Parameters
    ----------
    bootstrap_sampling
        Leaves learn each event with a Poisson(1) weight (as River's, a draw of 0 counts
        as 1).
    drift_window_threshold
        Events a branch and its alternate must both have judged before one may replace
        the other.
    switch_significance
        The significance of the test that switches an alternate in (or drops it).
    drift_delta
        The confidence of each node's ADWIN detector.
    seed
        Seeds the bootstrap weights.
    grace_period, delta, tau, leaf_prediction, n_splits, min_branch_fraction, max_depth
        As in :class:`HoeffdingTreeClassifier`.
    max_leaves
        The tree's leaves at most; its alternates may grow as many more while the stream
        drifts (the size cap: twice a Hoeffding tree's, and a node's detector adds 5 kB).
    feature_cap, max_classes, features, **feature_settings
        As in :class:`HoeffdingTreeClassifier`.

    Example
    -------
    Elec2, whether the price goes up, progressively validated:

    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> model = HoeffdingAdaptiveTreeClassifier(seed=1)
    >>> report = progressive_val_score_one(model, elec2.stream(limit=5000))
    >>> round(report.metrics["accuracy"], 3)
    0.847
    """

    def __init__(
        self,
        *,
        grace_period: float = 200,
        delta: float = 1e-7,
        tau: float = 0.05,
        leaf_prediction: str = "nba",
        n_splits: int = 10,
        min_branch_fraction: float = 0.01,
        max_depth: int | None = None,
        max_leaves: int = 1000,
        feature_cap: int = 256,
        max_classes: int = MAX_CLASSES,
        bootstrap_sampling: bool = True,
        drift_window_threshold: int = 300,
        switch_significance: float = 0.05,
        drift_delta: float = 0.002,
        seed: int = 0,
        features: FeatureHasher | Mapping[str, Any] | None = None,
        **feature_settings: Any,
    ) -> None:
        growth = Growth(
            grace_period, delta, tau, leaf_prediction, max_depth, max_leaves, feature_cap
        )
        splits = ClassSplits(n_splits, min_branch_fraction, max_classes)
        super().__init__(growth, splits, features, feature_settings, seed=seed)
        adaptation = Adaptation(
            bootstrap_sampling, drift_window_threshold, switch_significance, drift_delta
        )
        self._adapt(adaptation)


@register
class HoeffdingAdaptiveTreeRegressor(AdaptiveTree, TreeRegressor):
    """A Hoeffding regression tree that replaces its subtrees where the stream drifts.

    Each node's ADWIN watches the absolute errors of the predictions made below it; an
    alternate replaces its subtree when a two-tailed z-test of their mean absolute errors
    says it is better (as River's ``HoeffdingAdaptiveTreeRegressor``). It predicts the mean
    of the leaves a row reaches in the tree and in the alternates on its way.

    Parameters
    ----------
    bootstrap_sampling, drift_window_threshold, switch_significance, drift_delta, seed
        As in :class:`HoeffdingAdaptiveTreeClassifier`.
    grace_period, delta, tau, leaf_prediction, n_bins, bin_width, min_samples_split
        As in :class:`HoeffdingTreeRegressor`.
    learning_rate, model_selector_decay, max_depth, feature_cap, features
        As in :class:`HoeffdingTreeRegressor`.
    max_leaves
        The tree's leaves at most; its alternates may grow as many more.
    **feature_settings
        As in :class:`HoeffdingTreeRegressor`.

    Example
    -------
    The demand of the Elec2 stream from its other columns, progressively validated:

    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> model = HoeffdingAdaptiveTreeRegressor(seed=1)
    >>> report = progressive_val_score_one(model, elec2.demand(limit=5000))
    >>> round(report.metrics["mae"], 4)
    0.075
    """

    error_columns = 3
    regression = True

    def __init__(
        self,
        *,
        grace_period: float = 200,
        delta: float = 1e-7,
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
        bootstrap_sampling: bool = True,
        drift_window_threshold: int = 300,
        switch_significance: float = 0.05,
        drift_delta: float = 0.002,
        seed: int = 0,
        features: FeatureHasher | Mapping[str, Any] | None = None,
        **feature_settings: Any,
    ) -> None:
        growth = Growth(
            grace_period, delta, tau, leaf_prediction, max_depth, max_leaves, feature_cap
        )
        histogram = Histogram(
            n_bins, bin_width, min_samples_split, learning_rate, model_selector_decay
        )
        super().__init__(growth, histogram, features, feature_settings, seed=seed)
        adaptation = Adaptation(
            bootstrap_sampling, drift_window_threshold, switch_significance, drift_delta
        )
        self._adapt(adaptation)
