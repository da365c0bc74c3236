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
    """Binary logistic regression: labels ``True``/``False`` (or ``1``/``0``)."""

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
