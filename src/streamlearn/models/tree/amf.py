"""Aggregated Mondrian Forests (Mourtada, Gaïffas & Scornet, 2021), compiled, for
classification and regression: each tree grows by a Mondrian process over the boxes its
points fill, and predicts by aggregating, with exponential weights, the predictions of
every subtree along a point's path (see :mod:`streamlearn.models.tree.mondrian`); the
forest averages its trees.

>>> from streamlearn.models.tree import AMFClassifier
>>> model = AMFClassifier(n_models=3, seed=1)
>>> for i in range(2000):
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
from streamlearn.base.records import Sizes
from streamlearn.features.hasher import FeatureHasher
from streamlearn.models.feature_ids import capacity, grown
from streamlearn.models.rows import ClassRows, ValueRows
from streamlearn.models.tree.base import positive
from streamlearn.models.tree.mondrian import (
    FEATURE,
    LEFT,
    N_CLASSES,
    N_LEARNED,
    N_USED,
    NUMBERS,
    PARENT,
    REGRESSION,
    RIGHT,
    ROOT,
    SIZE,
    plant_tree,
    run_mondrian_ops,
)

_ARRAYS = ("links", "numbers", "counts", "low", "high", "trees", "counters", "rng")


class MondrianForest:
    """What an Aggregated Mondrian Forest keeps, classifier or regressor: its settings and
    its pool of nodes (see :mod:`streamlearn.models.tree.mondrian`). Its parameters are
    its learners'.

    Example
    -------
    >>> forest = AMFClassifier(n_models=3, seed=1)
    >>> for i in range(200):
    ...     forest.learn_one({"x": i % 7}, i % 7 > 3)
    >>> isinstance(forest, MondrianForest), forest.predict_one({"x": 6})
    (True, True)
    """

    feature_cap: int
    feature_ids: Any

    def _plant(
        self,
        n_models: int,
        step: float,
        dirichlet: float,
        use_aggregation: bool,
        split_pure: bool,
        max_nodes: int,
        seed: int,
        regression: bool,
    ) -> None:
        self.n_models = int(positive("n_models", n_models))
        self.step = positive("step", step)
        self.dirichlet = positive("dirichlet", dirichlet)
        self.use_aggregation, self.split_pure = bool(use_aggregation), bool(split_pure)
        self.max_nodes = int(positive("max_nodes", max_nodes))
        if self.max_nodes < 3:
            raise ValueError(f"max_nodes must be at least 3, got {max_nodes!r}")
        self.seed = int(seed)
        self.settings = np.array(
            [
                self.step,
                self.dirichlet,
                float(self.use_aggregation),
                float(self.split_pure),
                self.max_nodes,
                float(regression),
            ]
        )
        n = 4 * self.n_models
        self.links = np.full((n, 5), -1, np.int64)
        self.stats = np.zeros((n, NUMBERS + 1))
        self.box = np.zeros((n, 2))
        self.trees = np.zeros((self.n_models, 3), np.int64)
        self.counters = np.zeros(3, np.int64)
        self.rng = np.array([self.seed & ((1 << 63) - 1)], np.uint64)
        for t in range(self.n_models):
            plant_tree(self.parts, t)

    def forest_params(self) -> dict[str, Any]:
        return {
            "n_models": self.n_models,
            "step": self.step,
            "use_aggregation": self.use_aggregation,
            "max_nodes": self.max_nodes,
            "seed": self.seed,
            "feature_cap": self.feature_cap,
            "features": self.features.params(),
        }

    def _stat_width(self) -> int:
        """Statistics per node in ``counts``: a column per class, or the mean."""
        raise NotImplementedError

    # A node's numbers and counts share a row of ``stats``, its low and high corners a row
    # of ``box``: a node visited is two cache lines there, not four.
    @property
    def numbers(self) -> np.ndarray:
        return self.stats[:, :NUMBERS]

    @property
    def counts(self) -> np.ndarray:
        return self.stats[:, NUMBERS:]

    @property
    def low(self) -> np.ndarray:
        return self.box[:, : self.box.shape[1] // 2]

    @property
    def high(self) -> np.ndarray:
        return self.box[:, self.box.shape[1] // 2 :]

    @property
    def parts(self) -> tuple:
        """The forest's arrays, as its kernel takes them."""
        return tuple(getattr(self, name) for name in _ARRAYS)

    @property
    def n_nodes(self) -> int:
        """Nodes of the forest's trees."""
        return int(self.trees[:, SIZE].sum())

    @property
    def n_learned(self) -> int:
        return int(self.counters[N_LEARNED])

    def max_nbytes(self) -> int:
        """The most bytes its arrays can take (its size cap), for the classes it has now."""
        per_node = 8 * (5 + 5 + self.counts.shape[1] + 2 * min(self.low.shape[1], self.feature_cap))
        return self._node_limit() * per_node + 8 * (3 * self.n_models + 4)  # trees, counters, rng

    def nbytes(self) -> int:
        return sum(array.nbytes for array in self.parts)

    # ------------------------------------------------------------------ arrays
    def _node_limit(self) -> int:
        return self.n_models * (self.max_nodes + 2)

    def _fit(self) -> None:
        k, f = self._stat_width(), len(self.feature_ids)
        if k > self.counts.shape[1]:
            self.stats = grown(self.stats, (len(self.stats), NUMBERS + capacity(k)))
        if f > self.low.shape[1]:
            width = min(capacity(f), max(self.feature_cap, f))
            self.box = _boxes(self.low, self.high, width)

    def _make_room(self) -> None:
        """Room for every tree to split once more (capacity doubles, up to the cap)."""
        needed = int(self.counters[N_USED]) + 2 * self.n_models
        size = max(min(2 * len(self.links), self._node_limit()), needed)
        self.links = grown(self.links, (size, 5), fill=-1)
        self.stats = grown(self.stats, (size, self.stats.shape[1]))
        self.box = grown(self.box, (size, self.box.shape[1]))

    def _kernel(self, rows, schedule, start, out) -> int:
        sizes = Sizes(self._stat_width(), len(self.feature_ids))
        return run_mondrian_ops(rows, schedule, start, self.parts, sizes, self.settings, out)

    def _arrays(self) -> dict[str, np.ndarray]:
        used, k, f = int(self.counters[N_USED]), self._stat_width(), len(self.feature_ids)
        arrays = {
            "links": self.links[:used],
            "numbers": self.numbers[:used],
            "counts": self.counts[:used, :k],
            "low": self.low[:used, :f],
            "high": self.high[:used, :f],
            "trees": self.trees,
            "counters": self.counters,
            "rng": self.rng,
        }
        return {name: array.copy() for name, array in arrays.items()}

    def _load_arrays(self, arrays: Mapping[str, np.ndarray]) -> None:
        get = {name: np.asarray(arrays[name]) for name in _ARRAYS}
        used = len(get["links"])
        k, f = self._stat_width(), len(self.feature_ids)
        shapes = {
            "links": (used, 5),
            "numbers": (used, 5),
            "counts": (used, k),
            "low": (used, f),
            "high": (used, f),
            "trees": (self.n_models, 3),
            "counters": (3,),
            "rng": (1,),
        }
        for name, shape in shapes.items():
            if get[name].shape != shape:
                raise ValueError(f"forest state: {name} has shape {get[name].shape}, not {shape}")
        floats = [get[name].astype(np.float64) for name in ("numbers", "counts", "low", "high")]
        counts_ok = self.settings[REGRESSION] > 0 or (floats[1] >= 0).all()  # a mean may be < 0
        if not all(np.isfinite(a).all() for a in floats) or not counts_ok:
            raise ValueError("forest state: non-finite or negative statistics")
        links, trees = get["links"].astype(np.int64), get["trees"].astype(np.int64)
        counters = get["counters"].astype(np.int64)
        classes = 0 if self.settings[REGRESSION] > 0 else k
        if counters[N_USED] != used or (trees[:, SIZE] < 1).any() or counters[N_CLASSES] > classes:
            raise ValueError("forest state: node counts do not add up")
        _check_trees(links, trees[:, ROOT], f)
        self.links, self.trees, self.counters = links, trees, counters
        self.stats = np.concatenate(floats[:2], axis=1)
        self.box = _boxes(floats[2], floats[3], f)
        self.rng = get["rng"].astype(np.uint64).copy()
        self._make_room()
        self._fit()


def _boxes(low: np.ndarray, high: np.ndarray, width: int) -> np.ndarray:
    """Rows of ``width`` low corners, then ``width`` high ones (features beyond the given
    ones: 0, the box of a feature never seen)."""
    box = np.zeros((len(low), 2 * width))
    box[:, : low.shape[1]] = low
    box[:, width : width + high.shape[1]] = high
    return box


@register
class AMFClassifier(MondrianForest, ClassRows):
    """An Aggregated Mondrian Forest for two or more classes (labels str, int or bool).

    Parameters
    ----------
    n_models
        Trees in the forest; each learns every event.
    step
        How fast a node's aggregation weight follows its log loss.
    dirichlet
        The Dirichlet prior that smooths each node's class probabilities.
    use_aggregation
        Aggregate the subtrees along a point's path (else: its leaf predicts).
    split_pure
        Split nodes that hold a single class too.
    max_nodes
        Nodes at most per tree (no split beyond): the forest's size cap. A node takes
        ``(2 × features + classes + 10) × 8`` bytes.
    seed
        Seeds the Mondrian process.
    feature_cap, max_classes, features, **feature_settings
        As in :class:`HoeffdingTreeClassifier`: hashed features the trees tell apart, at
        most this many classes, the featurizer or its settings (numbers not standardized:
        scale them to comparable ranges, as a Mondrian process splits in proportion to
        how far a point lies outside a box).

    Example
    -------
    Elec2, whether the price goes up, progressively validated:

    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> report = progressive_val_score_one(AMFClassifier(seed=42), elec2.stream(limit=5000))
    >>> round(report.metrics["accuracy"], 3)
    0.815
    """

    def __init__(
        self,
        n_models: int = 10,
        step: float = 1.0,
        dirichlet: float = 0.5,
        use_aggregation: bool = True,
        split_pure: bool = False,
        max_nodes: int = 50_000,
        seed: int = 0,
        feature_cap: int = 64,
        max_classes: int = MAX_CLASSES,
        *,
        features: FeatureHasher | Mapping[str, Any] | None = None,
        **feature_settings: Any,
    ) -> None:
        super().__init__(features, feature_settings, feature_cap, standardize=False)
        self._number_classes(max_classes)
        settings = (n_models, step, dirichlet, use_aggregation, split_pure, max_nodes, seed)
        self._plant(*settings, regression=False)

    def params(self) -> dict[str, Any]:
        return self.forest_params() | {
            "dirichlet": self.dirichlet,
            "split_pure": self.split_pure,
            "max_classes": self.max_classes,
        }

    def _stat_width(self) -> int:
        return len(self.index)


@register
class AMFRegressor(MondrianForest, ValueRows):
    """An Aggregated Mondrian Forest of a number: each node predicts the mean of its
    targets, and its aggregation weight follows its squared error.

    Parameters
    ----------
    n_models, step, use_aggregation, max_nodes, seed, feature_cap, features, **feature_settings
        As in :class:`AMFClassifier` (``step``: how fast a node's weight follows half its
        squared error; a node takes ``(2 × features + 11) × 8`` bytes).
    standardize
        Standardize numbers online first (by default they are taken as they are: scale
        them to comparable ranges).

    Example
    -------
    A target that jumps with ``a`` and bends with ``b`` (no line fits it; a linear model's
    error is 2.16), progressively validated:

    >>> import numpy as np
    >>> from streamlearn.evaluate.metrics import MAE
    >>> rng = np.random.default_rng(0)
    >>> X = {"a": rng.random(3000), "b": rng.random(3000)}
    >>> y = np.where(X["a"] > 0.5, 10.0, 0.0) + 4 * abs(X["b"] - 0.5) + rng.normal(0, 0.3, 3000)
    >>> mae = MAE()
    >>> mae.update_many(y, AMFRegressor(seed=42).predict_learn_many(X, y))
    >>> round(mae.get(), 2)
    0.46
    """

    def __init__(
        self,
        n_models: int = 10,
        step: float = 1.0,
        use_aggregation: bool = True,
        max_nodes: int = 50_000,
        seed: int = 0,
        feature_cap: int = 64,
        standardize: bool = False,
        *,
        features: FeatureHasher | Mapping[str, Any] | None = None,
        **feature_settings: Any,
    ) -> None:
        super().__init__(features, feature_settings, feature_cap, standardize=standardize)
        self.standardize = bool(standardize)
        settings = (n_models, step, 1.0, use_aggregation, True, max_nodes, seed)
        self._plant(*settings, regression=True)

    def params(self) -> dict[str, Any]:
        return self.forest_params() | {"standardize": self.standardize}

    def _stat_width(self) -> int:
        return 1


def _check_trees(links: np.ndarray, roots: np.ndarray, n_features: int) -> None:
    """Every node belongs to exactly one tree, reached once from its root through
    children that name it as their parent; splits name a known feature: no kernel can
    loop or read out of bounds."""
    used = len(links)
    if ((roots < 0) | (roots >= used)).any() or (links[roots, PARENT] != -1).any():
        raise ValueError("forest state: a root out of range")
    if ((links[:, [PARENT, LEFT, RIGHT]] < -1) | (links[:, [PARENT, LEFT, RIGHT]] >= used)).any():
        raise ValueError("forest state: a link out of range")
    seen = np.zeros(used, bool)
    stack = list(roots.tolist())
    while stack:
        node = stack.pop()
        if seen[node]:
            raise ValueError("forest state: a node reached twice")
        seen[node] = True
        left, right = int(links[node, LEFT]), int(links[node, RIGHT])
        if (left < 0) != (right < 0):
            raise ValueError("forest state: a node with one child")
        if left >= 0:
            if not 0 <= links[node, FEATURE] < n_features:
                raise ValueError("forest state: a split on an unknown feature")
            if links[left, PARENT] != node or links[right, PARENT] != node:
                raise ValueError("forest state: a child that names another parent")
            stack += [left, right]
    if not seen.all():
        raise ValueError("forest state: nodes of no tree")
