"""Per-coordinate optimizers for the linear learners: SGD, AdaGrad and FTRL-Proximal.

Each is a small, JSON-able description; the update itself runs in the compiled kernel.

>>> from streamlearn.models.linear.optimizers import FTRL, make_optimizer
>>> make_optimizer({"name": "ftrl", "alpha": 0.2}) == FTRL(alpha=0.2)
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

import numpy as np

from streamlearn.base.specs import from_spec

SGD_CODE, ADAGRAD_CODE, FTRL_CODE = 0, 1, 2
# Positions in the hyper-parameter vector the kernel reads.
LR, L1, L2, ALPHA, BETA, EPS, POWER_T, INTERCEPT_LR, SCALE_TARGET, ROOT_N_CAP = range(10)


@dataclass(frozen=True)
class Optimizer:
    """An optimizer of a linear model's weights (see :class:`SGD`, :class:`AdaGrad`,
    :class:`FTRL`): its settings, and its ``code`` in the compiled kernels. Its subclasses
    document their parameters.

    Example
    -------
    >>> [type(o).__name__ for o in (SGD(lr=0.1), AdaGrad(), FTRL())]
    ['SGD', 'AdaGrad', 'FTRL']
    >>> isinstance(FTRL(), Optimizer), FTRL().name
    (True, 'ftrl')
    """

    name: ClassVar[str] = ""
    code: ClassVar[int] = -1

    def hyper(self) -> np.ndarray:
        raise NotImplementedError

    def params(self) -> dict[str, Any]:
        return {"name": self.name, **asdict(self)}

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int | float) or not np.isfinite(value) or value < 0:
                raise ValueError(
                    f"{self.name}: {f.name} must be a finite number >= 0, got {value!r}"
                )


@dataclass(frozen=True)
class SGD(Optimizer):
    """Plain stochastic gradient descent: ``lr / (1 + t) ** power_t``, L1 by soft-thresholding.

    Parameters
    ----------
    lr
        The base learning rate.
    power_t
        How fast the rate decays with the events seen (0: a constant rate).
    l1, l2
        Regularization strengths.

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> from streamlearn.models import LogisticRegression
    >>> model = LogisticRegression(SGD(lr=0.05), bits=16)
    >>> report = progressive_val_score_one(model, elec2.stream(limit=5000))
    >>> round(report.metrics["accuracy"], 3)
    0.855
    """

    lr: float = 0.03
    power_t: float = 0.0
    l1: float = 0.0
    l2: float = 0.0
    name: ClassVar[str] = "sgd"
    code: ClassVar[int] = SGD_CODE

    def hyper(self) -> np.ndarray:
        return _hyper(lr=self.lr, l1=self.l1, l2=self.l2, power_t=self.power_t)


@dataclass(frozen=True)
class AdaGrad(Optimizer):
    """AdaGrad: a per-coordinate rate ``lr / sqrt(sum of squared gradients)``.

    Parameters
    ----------
    lr
        The base learning rate.
    eps
        Added to the root of the sum, so that the first steps are bounded.
    l1, l2
        Regularization strengths.

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> from streamlearn.models import LogisticRegression
    >>> model = LogisticRegression(AdaGrad(lr=0.1), bits=16)
    >>> report = progressive_val_score_one(model, elec2.stream(limit=5000))
    >>> round(report.metrics["accuracy"], 3)
    0.846
    """

    lr: float = 0.1
    eps: float = 1e-6
    l1: float = 0.0
    l2: float = 0.0
    name: ClassVar[str] = "adagrad"
    code: ClassVar[int] = ADAGRAD_CODE

    def hyper(self) -> np.ndarray:
        return _hyper(lr=self.lr, l1=self.l1, l2=self.l2, eps=self.eps)


@dataclass(frozen=True)
class FTRL(Optimizer):
    """FTRL-Proximal (McMahan et al., 2013) with per-coordinate rates, L1 and L2.

    ``alpha`` and ``beta`` set the per-coordinate rate ``alpha / (beta + sqrt(n_i))``; L1
    makes weights exactly zero, so the model stays sparse. ``rate_floor`` > 0 stops a
    coordinate's rate from decaying below it (``n_i`` stops growing), so a feature seen on
    every event keeps tracking drift as constant-rate SGD would. The defaults were chosen on
    the binary streams of ``bench/bench_defaults.py``.

    Parameters
    ----------
    alpha, beta
        The per-coordinate rate ``alpha / (beta + sqrt(n_i))``.
    l1, l2
        Regularization strengths (L1 makes weights exactly zero).
    rate_floor
        The lowest rate a coordinate may decay to (0: no floor).

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> from streamlearn.models import LogisticRegression
    >>> model = LogisticRegression(FTRL(alpha=0.4), bits=16)
    >>> report = progressive_val_score_one(model, elec2.stream(limit=5000))
    >>> round(report.metrics["accuracy"], 3)
    0.851
    """

    alpha: float = 0.4
    beta: float = 1.0
    l1: float = 0.5
    l2: float = 2.0
    rate_floor: float = 0.0
    name: ClassVar[str] = "ftrl"
    code: ClassVar[int] = FTRL_CODE

    def hyper(self) -> np.ndarray:
        hyper = _hyper(alpha=self.alpha, beta=self.beta, l1=self.l1, l2=self.l2)
        if self.rate_floor > 0:
            # rate = alpha / (beta + sqrt(n)) >= floor  ⟺  sqrt(n) <= alpha / floor - beta
            hyper[ROOT_N_CAP] = max(self.alpha / self.rate_floor - self.beta, 0.0)
        return hyper

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.alpha <= 0:
            raise ValueError("ftrl: alpha must be > 0")


OPTIMIZERS: dict[str, type[Optimizer]] = {cls.name: cls for cls in (SGD, AdaGrad, FTRL)}


def _hyper(lr=0.0, l1=0.0, l2=0.0, alpha=1.0, beta=0.0, eps=0.0, power_t=0.0) -> np.ndarray:
    return np.array([lr, l1, l2, alpha, beta, eps, power_t, 0.0, 0.0, np.inf], dtype=np.float64)


def make_optimizer(spec: Optimizer | dict[str, Any] | str) -> Optimizer:
    """An optimizer from itself, its name (``"ftrl"``) or its ``params()`` dict."""
    return from_spec(spec, OPTIMIZERS, Optimizer, "optimizer")
