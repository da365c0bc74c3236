"""The learner a task gets by default, and by optimizer name (what ``--model`` picks).

>>> from streamlearn.models.factory import make_learner
>>> make_learner("binary", "sgd").optimizer.name
'sgd'
"""

from __future__ import annotations

from typing import Any

from streamlearn.base import Learner
from streamlearn.models.linear import (
    FTRL,
    SGD,
    AdaGrad,
    LinearRegression,
    LogisticRegression,
    SoftmaxRegression,
)
from streamlearn.models.linear.optimizers import Optimizer

DEFAULT_OPTIMIZER = "ftrl"

# Defaults chosen on the streams of bench/bench_defaults.py (real and generated): binary
# takes FTRL's own defaults; per-class weights want no L1; regression learns z-scores.
_OPTIMIZERS: dict[str, dict[str, Optimizer]] = {
    "binary": {"ftrl": FTRL(), "sgd": SGD(), "adagrad": AdaGrad()},
    "multiclass": {"ftrl": FTRL(l1=0.0, l2=1.0), "sgd": SGD(), "adagrad": AdaGrad(lr=0.3)},
    "regression": {
        "ftrl": FTRL(alpha=0.3, l1=0.0, l2=1.0),
        "sgd": SGD(lr=0.01),
        "adagrad": AdaGrad(lr=0.3),
    },
}
MODEL_NAMES = tuple(_OPTIMIZERS["binary"])


def make_learner(task: str, model: str = DEFAULT_OPTIMIZER, **features: Any) -> Learner:
    """A linear learner for ``task`` (binary, multiclass, regression) and optimizer name."""
    if task not in _OPTIMIZERS:
        raise ValueError(f"unknown task {task!r}; expected one of {sorted(_OPTIMIZERS)}")
    if model not in _OPTIMIZERS[task]:
        raise ValueError(f"unknown model {model!r}; expected one of {list(MODEL_NAMES)}")
    cls = {
        "binary": LogisticRegression,
        "multiclass": SoftmaxRegression,
        "regression": LinearRegression,
    }[task]
    return cls(optimizer=_OPTIMIZERS[task][model], **features)
