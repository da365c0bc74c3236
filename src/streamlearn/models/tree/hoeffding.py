"""Hoeffding Tree classifier (VFDT): an incremental decision tree that splits a leaf once
Hoeffding's bound says its best split is the best with probability 1 - ``delta``.

Numbers are observed per leaf and class by a Gaussian (mean, variance, range), whose
candidate thresholds are scored by information gain; a category is a hashed one-hot
feature, so a split reads "is it this value" (no explosion: only values seen count, at
most ``feature_cap`` of them). Leaves predict by majority class, naive Bayes, or whichever
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
from typing import Any

from streamlearn.base import register
from streamlearn.base.classes import MAX_CLASSES
from streamlearn.features.hasher import FeatureHasher
from streamlearn.models.tree.base import ClassSplits, Growth, OneTree, TreeClassifier
from streamlearn.models.tree.kernel import run_tree_ops


@register
class HoeffdingTreeClassifier(OneTree, TreeClassifier):
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
        × 40`` bytes, so memory is bounded by ``max_leaves × feature_cap × classes × 40``.
    feature_cap
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
    0.826
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
        features: FeatureHasher | Mapping[str, Any] | None = None,
        **feature_settings: Any,
    ) -> None:
        growth = Growth(
            grace_period, delta, tau, leaf_prediction, max_depth, max_leaves, feature_cap
        )
        splits = ClassSplits(n_splits, min_branch_fraction, max_classes)
        super().__init__(growth, splits, features, feature_settings)
        self._plant_one()

    def _kernel(self, rows, schedule, start, out) -> int:
        tree, roots, leaf_counts = self.tree.parts, self.tree.roots, self.leaf_counts
        sizes = self._sizes()
        return run_tree_ops(
            rows, schedule, start, tree, roots, leaf_counts, sizes, self.settings, out
        )
