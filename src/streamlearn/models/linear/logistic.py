"""Logistic regression on hashed features (binary classification), trained online.

>>> from streamlearn.datasets import elec2
>>> from streamlearn.models.linear import LogisticRegression
>>> model = LogisticRegression(optimizer="ftrl", bits=16)
>>> correct = 0
>>> for x, y in elec2.stream(limit=2000):
...     correct += model.predict_one(x) == y
...     model.learn_one(x, y)
>>> correct / 2000 > 0.6
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from streamlearn.base import Classifier, register
from streamlearn.models.linear.base import LinearModel, target_array
from streamlearn.models.linear.kernel import LOG_LOSS
from streamlearn.models.linear.optimizers import FTRL


@register
class LogisticRegression(LinearModel, Classifier):
    """Binary logistic regression on hashed features, learned one event at a time: labels
    ``True``/``False`` (or ``1``/``0``).

    Parameters
    ----------
    optimizer
        :class:`FTRL` (the default, with a rate floor so that features seen on every event
        keep tracking drift), :class:`AdaGrad` or :class:`SGD`; or its name or params.
    bits, seed, categorical, namespaces, interactions, standardize, missing
        Feature hashing, as in :class:`~streamlearn.features.FeatureHasher`: a weight table
        of ``2**bits`` rows; columns named in ``categorical`` are hashed as categories even
        when they hold numbers; ``interactions`` lists column pairs to cross (or ``"all"``);
        numbers are standardized online unless ``standardize=False``; with ``missing``, a
        known column's absence is a feature of its own.
    intercept_lr
        The intercept's constant learning rate (plain SGD, no regularization).

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> report = progressive_val_score_one(LogisticRegression(bits=16), elec2.stream(limit=5000))
    >>> round(report.metrics["accuracy"], 3), round(report.metrics["log_loss"], 3)
    (0.851, 0.341)
    """

    loss = LOG_LOSS
    # A rate floor keeps features seen on every event tracking drift (bench_defaults.py).
    default_optimizer = FTRL(rate_floor=0.008)

    def predict_proba_one(self, x: dict) -> dict[bool, float]:
        p = self._raw_one(x)
        return {False: 1.0 - p, True: p}

    def predict_proba_many(self, X: Any) -> np.ndarray:
        return self._run_many(X, None, learn=False)

    def _target_one(self, y: Any) -> float:
        if y is True or y is False or (type(y) is int and (y == 0 or y == 1)):  # common first
            return float(y)
        if isinstance(y, bool | np.bool_) or (
            isinstance(y, int | float | np.number) and y in (0, 1)
        ):
            return float(y)
        raise ValueError(f"a binary label must be True/False or 1/0, got {y!r}")

    def _targets_many(self, y: Any, n: int) -> np.ndarray:
        targets = target_array(y, n)
        if not np.isin(targets, (0.0, 1.0)).all():
            raise ValueError("binary labels must be True/False or 1/0")
        return targets
