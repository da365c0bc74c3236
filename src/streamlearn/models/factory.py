"""The learner a task gets by default, and by optimizer name (what ``--model`` picks).

>>> from streamlearn.models.factory import make_learner
>>> make_learner("binary", "sgd").optimizer.name
'sgd'
"""

from __future__ import annotations

from typing import Any

from streamlearn.base import Learner
from streamlearn.models.linear import (
    SGD,
    AdaGrad,
    LinearModel,
    LinearRegression,
    LogisticRegression,
    SoftmaxRegression,
)
from streamlearn.models.linear.optimizers import Optimizer

DEFAULT_OPTIMIZER = "ftrl"

# Defaults chosen on the streams of bench/bench_defaults.py (real and generated); "ftrl" is
# each learner's own default.
_CLASSES: dict[str, type[LinearModel]] = {
    "binary": LogisticRegression,
    "multiclass": SoftmaxRegression,
    "regression": LinearRegression,
}
_OPTIMIZERS: dict[str, dict[str, Optimizer]] = {
    "binary": {"sgd": SGD(), "adagrad": AdaGrad()},
    "multiclass": {"sgd": SGD(), "adagrad": AdaGrad(lr=0.3)},
    "regression": {"sgd": SGD(lr=0.01), "adagrad": AdaGrad(lr=0.3)},
}
MODEL_NAMES = ("ftrl", "sgd", "adagrad")


def make_learner(task: str, model: str = DEFAULT_OPTIMIZER, **features: Any) -> Learner:
    """A linear learner for ``task`` (binary, multiclass, regression) and optimizer name."""
    if task not in _CLASSES:
        raise ValueError(f"unknown task {task!r}; expected one of {sorted(_CLASSES)}")
    if model not in MODEL_NAMES:
        raise ValueError(f"unknown model {model!r}; expected one of {list(MODEL_NAMES)}")
    cls = _CLASSES[task]
    return cls(optimizer=_OPTIMIZERS[task].get(model, cls.default_optimizer), **features)
