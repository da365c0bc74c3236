"""Hoeffding Tree regressor: an incremental regression tree that splits a leaf where the
target's variance drops most, once Hoeffding's bound says that split beats the next best.

Each leaf keeps, per feature, a fixed number of bins of its values with the targets that
fell in them (their width doubles as the values spread), so its memory does not grow with
the stream. Leaves predict the mean of their targets, a linear model learned by SGD (each
child starts from its parent's), or whichever of the two has had the lower faded squared
error at that leaf (the default). Numbers are standardized online.

>>> from streamlearn.models.tree import HoeffdingTreeRegressor
>>> model = HoeffdingTreeRegressor(grace_period=50, leaf_prediction="mean")
>>> for i in range(3000):
...     x = {"a": (i * 7919) % 100 / 100}
...     model.learn_one(x, 10.0 if x["a"] > 0.5 else 0.0)
>>> round(model.predict_one({"a": 0.9})), round(model.predict_one({"a": 0.1}))
(10, 0)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streamlearn.base import register
from streamlearn.features.hasher import FeatureHasher
from streamlearn.models.tree.base import Growth, Histogram, OneTree, TreeRegressor
from streamlearn.models.tree.regression_kernel import run_regression_tree_ops


@register
class HoeffdingTreeRegressor(OneTree, TreeRegressor):
    """An incremental regression tree.

    Parameters
    ----------
    grace_period
        Weight a leaf learns between split attempts.
    delta
        The chance that a split is not the best one (Hoeffding's bound).
    tau
        Split anyway when the bound is below this.
    leaf_prediction
        ``"mean"``, ``"model"`` (a linear model per leaf) or ``"adaptive"``: whichever has
        had the lower faded squared error at the leaf.
    n_bins
        Bins per feature at a leaf (an even number): the candidate thresholds.
    bin_width
        The first bins' width, in standardized units; it doubles as values spread.
    min_samples_split
        Weight a split must send down each branch.
    learning_rate
        The leaf models' SGD step.
    model_selector_decay
        How fast the adaptive leaves forget their errors.
    max_depth
        The deepest a leaf may be (``None``: no limit).
    max_leaves
        Leaves at most: the tree's size cap. A leaf takes ``feature_cap × (n_bins + 1) × 40``
        bytes at most, so memory is bounded by ``max_leaves`` times that.
    feature_cap
        Hashed features the tree tells apart (numbers, and each category value); later
        ones are not seen.
    features, **feature_settings
        The featurizer (:class:`~streamlearn.features.FeatureHasher`) or its settings.

    Example
    -------
    The demand of the Elec2 stream from its other columns, progressively validated:

    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> report = progressive_val_score_one(HoeffdingTreeRegressor(), elec2.demand(limit=5000))
    >>> round(report.metrics["mae"], 4)
    0.075
    """

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
        features: FeatureHasher | Mapping[str, Any] | None = None,
        **feature_settings: Any,
    ) -> None:
        growth = Growth(
            grace_period, delta, tau, leaf_prediction, max_depth, max_leaves, feature_cap
        )
        histogram = Histogram(
            n_bins, bin_width, min_samples_split, learning_rate, model_selector_decay
        )
        super().__init__(growth, histogram, features, feature_settings)
        self._plant_one()

    def _kernel(self, rows, schedule, start, out) -> int:
        tree, roots, n_features = self.tree.parts, self.tree.roots, len(self.feature_ids)
        return run_regression_tree_ops(
            rows, schedule, start, tree, roots, self.leaf_counts, n_features, self.settings, out
        )
