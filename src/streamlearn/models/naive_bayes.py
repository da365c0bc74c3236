"""Gaussian naive Bayes: each class's features as independent normal distributions, kept
as running means and variances; a tree's leaf that never splits, so it shares the trees'
compiled kernel (a category is a hashed one-hot feature, 1 where present, else 0).

>>> from streamlearn.models import GaussianNB
>>> model = GaussianNB()
>>> for i in range(200):
...     model.learn_one({"height": 150 + i % 20}, "short")
...     model.learn_one({"height": 180 + i % 20}, "tall")
>>> model.predict_one({"height": 160}), model.predict_one({"height": 195})
('short', 'tall')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streamlearn.base import register
from streamlearn.base.classes import MAX_CLASSES
from streamlearn.features.hasher import FeatureHasher
from streamlearn.models.tree.base import OneTree, TreeClassifier
from streamlearn.models.tree.kernel import run_tree_ops

_NEVER = 1e300  # a grace period no leaf reaches: it never tries to split


@register
class GaussianNB(OneTree, TreeClassifier):
    """Gaussian naive Bayes for two or more classes (labels str, int or bool).

    Parameters
    ----------
    feature_cap
        Hashed features it tells apart (numbers, and each category value); later ones are
        not seen. Memory is ``feature_cap × classes × 40`` bytes at most.
    max_classes
        At most this many classes: a label that would be one more is refused.
    features, **feature_settings
        The featurizer (:class:`~streamlearn.features.FeatureHasher`) or its settings;
        numbers are not standardized.

    Example
    -------
    Elec2, whether the price goes up, progressively validated:

    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> report = progressive_val_score_one(GaussianNB(), elec2.stream(limit=5000))
    >>> round(report.metrics["accuracy"], 3)
    0.818
    """

    def __init__(
        self,
        feature_cap: int = 256,
        max_classes: int = MAX_CLASSES,
        *,
        features: FeatureHasher | Mapping[str, Any] | None = None,
        **feature_settings: Any,
    ) -> None:
        super().__init__(
            _NEVER, 0.5, 0.0, "nb", 1, 0.0, None, 1, feature_cap, max_classes, features,
            feature_settings,
        )  # fmt: skip
        self._plant_one()

    def params(self) -> dict[str, Any]:
        return {
            "feature_cap": self.feature_cap,
            "max_classes": self.max_classes,
            "features": self.features.params(),
        }

    def _kernel(self, ids, values, ops, op_rows, targets, start, out) -> int:
        return run_tree_ops(
            ids, values, ops, op_rows, targets, start, self.tree.parts, self.tree.roots,
            self.leaf_counts, len(self.index), len(self.feature_ids), self.settings, out,
        )  # fmt: skip
