"""Linear regression on hashed features (squared loss), trained online.

>>> from streamlearn.models.linear import LinearRegression
>>> model = LinearRegression(optimizer="adagrad", bits=10)
>>> for i in range(3000):
...     x = {"a": (i % 7) / 7, "b": (i % 5) / 5}
...     model.learn_one(x, 3 * x["a"] - 2 * x["b"] + 1)
>>> round(model.predict_one({"a": 0.5, "b": 0.5}), 1)
1.5
"""

from __future__ import annotations

from typing import Any

import numpy as np

from streamlearn.base import Regressor, register
from streamlearn.models.linear.base import LinearModel, regression_target, target_array
from streamlearn.models.linear.kernel import SQUARED_LOSS
from streamlearn.models.linear.optimizers import FTRL, SCALE_TARGET


@register
class LinearRegression(LinearModel, Regressor):
    """Least-squares linear regression on hashed features with SGD, AdaGrad or FTRL.

    Parameters
    ----------
    optimizer
        :class:`FTRL` (the default), :class:`AdaGrad` or :class:`SGD`; or its name or params.
    bits, seed, categorical, namespaces, interactions, standardize, missing
        Feature hashing, as in :class:`~streamlearn.features.FeatureHasher`: a weight table
        of ``2**bits`` rows; columns named in ``categorical`` are hashed as categories even
        when they hold numbers; ``interactions`` lists column pairs to cross (or ``"all"``);
        numbers are standardized online unless ``standardize=False``; with ``missing``, a
        known column's absence is a feature of its own.
    intercept_lr
        The intercept's constant learning rate (plain SGD, no regularization).
    scale_target
        Learn the running z-score of the target and predict back in the target's units
        (the default): learning rates then do not depend on the target's scale.

    Example
    -------
    The demand of the Elec2 stream from its other columns:

    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> report = progressive_val_score_one(LinearRegression(bits=16), elec2.demand(limit=5000))
    >>> round(report.metrics["mae"], 4), round(report.metrics["r2"], 3)
    (0.0944, 0.482)
    """

    loss = SQUARED_LOSS
    default_optimizer = FTRL(alpha=0.3, l1=0.0, l2=1.0)

    def __init__(self, *args: Any, scale_target: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.scale_target = bool(scale_target)
        self._hyper[SCALE_TARGET] = float(self.scale_target)

    def params(self) -> dict[str, Any]:
        return super().params() | {"scale_target": self.scale_target}

    def predict_one(self, x: dict) -> float:
        return self._raw_one(x)

    def predict_many(self, X: Any) -> np.ndarray:
        return self._run_many(X, None, learn=False)

    def _target_one(self, y: Any) -> float:
        return regression_target(y)

    def _targets_many(self, y: Any, n: int) -> np.ndarray:
        return target_array(y, n)
