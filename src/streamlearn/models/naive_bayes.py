"""Naive Bayes: each class's features as independent distributions — normal (Gaussian),
term counts (multinomial) or present-or-not (Bernoulli) — from one leaf of the trees'
compiled kernel that never splits (its observers keep, per class and feature, the weight
of the rows that hold it and the mean and variance of its values; a category is a hashed
one-hot feature, 1 where present, else 0).

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

import numpy as np

from streamlearn.base import register
from streamlearn.base.classes import MAX_CLASSES
from streamlearn.features.hasher import FeatureHasher
from streamlearn.models.tree.base import ClassSplits, Growth, OneTree, TreeClassifier, positive
from streamlearn.models.tree.kernel import (
    ALPHA,
    BERNOULLI,
    LEAF_MODE,
    MULTINOMIAL,
    run_tree_ops,
)

_NEVER = 1e300  # a grace period no leaf reaches: it never tries to split


class _NaiveBayes(OneTree, TreeClassifier):
    """A naive Bayes of one kind (``mode``, a leaf prediction of the kernel)."""

    mode = 1  # the Gaussian leaf

    def __init__(
        self,
        feature_cap: int,
        max_classes: int,
        features: FeatureHasher | Mapping[str, Any] | None,
        feature_settings: Mapping[str, Any],
        alpha: float = 0.0,
    ) -> None:
        # One leaf that never splits: its naive Bayes observers are the whole model.
        growth = Growth(_NEVER, 0.5, 0.0, "nb", None, 1, feature_cap)
        super().__init__(growth, ClassSplits(1, 0.0, max_classes), features, feature_settings)
        self.settings = np.append(self.settings, alpha)
        self.settings[LEAF_MODE], self.settings[ALPHA] = self.mode, alpha
        self._plant_one()

    def params(self) -> dict[str, Any]:
        return {
            "feature_cap": self.feature_cap,
            "max_classes": self.max_classes,
            "features": self.features.params(),
        }

    def _kernel(self, rows, schedule, start, out) -> int:
        tree, roots, leaf_counts = self.tree.parts, self.tree.roots, self.leaf_counts
        sizes = self._sizes()
        return run_tree_ops(
            rows, schedule, start, tree, roots, leaf_counts, sizes, self.settings, out
        )


@register
class GaussianNB(_NaiveBayes):
    """Gaussian naive Bayes for two or more classes (labels str, int or bool). A feature
    a row lacks is a 0 (as in a sparse matrix; River's skips it).

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
        super().__init__(feature_cap, max_classes, features, feature_settings)


@register
class MultinomialNB(_NaiveBayes):
    """Multinomial naive Bayes: each feature's value is how often a term occurs (a word's
    count in a text, a category 1), as River's ``MultinomialNB``.

    Parameters
    ----------
    alpha
        Additive (Laplace) smoothing of each class's term probabilities.
    feature_cap, max_classes, features, **feature_settings
        As in :class:`GaussianNB`. A term the model has not numbered (unseen, or beyond
        ``feature_cap``) is an unseen term; a negative count counts as 0.

    Example
    -------
    Elec2 (its numbers are shares of a range, counts of a sort), progressively validated:

    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> report = progressive_val_score_one(MultinomialNB(), elec2.stream(limit=5000))
    >>> round(report.metrics["accuracy"], 3)
    0.616
    """

    mode = MULTINOMIAL

    def __init__(
        self,
        alpha: float = 1.0,
        feature_cap: int = 256,
        max_classes: int = MAX_CLASSES,
        *,
        features: FeatureHasher | Mapping[str, Any] | None = None,
        **feature_settings: Any,
    ) -> None:
        self.alpha = positive("alpha", alpha)
        super().__init__(feature_cap, max_classes, features, feature_settings, self.alpha)

    def params(self) -> dict[str, Any]:
        return {"alpha": self.alpha, **super().params()}

    def _schedule(self, hashes, values, ops, op_rows, targets) -> np.ndarray:
        return super()._schedule(hashes, np.maximum(values, 0.0), ops, op_rows, targets)


@register
class BernoulliNB(_NaiveBayes):
    """Bernoulli naive Bayes: each feature is there (its value above ``true_threshold``)
    or not, and every feature the model has seen counts, there or not, as River's
    ``BernoulliNB``.

    Parameters
    ----------
    alpha
        Additive (Laplace) smoothing of each class's feature probabilities.
    true_threshold
        A value above it is "there".
    feature_cap, max_classes, features, **feature_settings
        As in :class:`GaussianNB`.

    Example
    -------
    Elec2, each number as above or below the middle of its range:

    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> model = BernoulliNB(true_threshold=0.5)
    >>> report = progressive_val_score_one(model, elec2.stream(limit=5000))
    >>> round(report.metrics["accuracy"], 3)
    0.618
    """

    mode = BERNOULLI

    def __init__(
        self,
        alpha: float = 1.0,
        true_threshold: float = 0.0,
        feature_cap: int = 256,
        max_classes: int = MAX_CLASSES,
        *,
        features: FeatureHasher | Mapping[str, Any] | None = None,
        **feature_settings: Any,
    ) -> None:
        self.alpha = positive("alpha", alpha)
        self.true_threshold = float(true_threshold)
        if not np.isfinite(self.true_threshold):
            raise ValueError(f"true_threshold must be a finite number, got {true_threshold!r}")
        super().__init__(feature_cap, max_classes, features, feature_settings, self.alpha)

    def params(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "true_threshold": self.true_threshold, **super().params()}

    def _schedule(self, hashes, values, ops, op_rows, targets) -> np.ndarray:
        # 1 there, -1 held but not there (the feature is seen all the same), 0 not held
        there = np.where(values > self.true_threshold, 1.0, np.where(values != 0.0, -1.0, 0.0))
        return super()._schedule(hashes, there, ops, op_rows, targets)
