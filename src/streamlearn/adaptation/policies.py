"""What to do when drift is detected, for the linear learners.

- :class:`Reset`: start over with a fresh model (weights and online scaling).
- :class:`Boost`: multiply the learning rates by ``factor`` for ``hold`` events, then step back
  to the base rates over ``ramp`` events (in ``steps`` equal steps). For FTRL, whose weights
  scale with its rate, z is rescaled at each change so that the weights do not jump.
- :class:`Shrink`: (FTRL, AdaGrad) multiply the per-coordinate accumulated gradient norms by
  ``factor`` < 1, so per-coordinate rates rise again; the current weights do not move.
- :class:`Background`: a fresh model starts learning at a warning; at drift it replaces the
  current one if it made fewer errors since.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np

from streamlearn.base.specs import from_spec
from streamlearn.models.linear import LinearModel
from streamlearn.models.linear.optimizers import (
    ADAGRAD_CODE,
    ALPHA,
    BETA,
    FTRL_CODE,
    INTERCEPT_LR,
    L1,
    L2,
    LR,
)


@dataclass(frozen=True)
class Policy:
    """What a drift-adaptive learner does when its detector fires (see :class:`Reset`,
    :class:`Boost`, :class:`Shrink`, :class:`Background`).

    Example
    -------
    >>> from streamlearn.adaptation.policies import Boost, make_policy
    >>> isinstance(make_policy("boost"), Policy), Boost(factor=4, hold=500).name
    (True, 'boost')
    """

    name: ClassVar[str] = ""

    def params(self) -> dict[str, Any]:
        return {"name": self.name, **asdict(self)}

    def check(self, learner: LinearModel) -> None:
        """Refuse a learner this policy cannot act on."""

    def on_drift(self, learner: LinearModel) -> LinearModel:
        """Act on drift; returns the learner to continue with."""
        return learner

    def multiplier(self, since_drift: int) -> float:
        """The learning-rate multiplier ``since_drift`` events after the last drift."""
        return 1.0

    def next_change(self, since_drift: int) -> int | None:
        """Events until the multiplier changes next (None: never)."""
        return None


@dataclass(frozen=True)
class Reset(Policy):
    """On drift, start again: fresh weights and a fresh featurizer (the online scaling
    restarts too). Takes no parameters.

    Example
    -------
    >>> from streamlearn.adaptation import adaptive
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.drift import ADWIN
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> from streamlearn.models import LogisticRegression
    >>> detector, policy = ADWIN(direction="up"), Reset()
    >>> model = adaptive(LogisticRegression(bits=16), detector, policy, "log_loss")
    >>> report = progressive_val_score_one(model, elec2.stream(limit=10000))
    >>> round(report.metrics["accuracy"], 3), len(model.drifts)
    (0.875, 13)
    """

    name: ClassVar[str] = "reset"

    def on_drift(self, learner: LinearModel) -> LinearModel:
        # Fresh weights and a fresh featurizer: the online scaling restarts too, which on
        # drifting inputs (Elec2) is half the gain.
        return learner.clone()


@dataclass(frozen=True)
class Boost(Policy):
    """On drift, multiply the learning rates for a while, then bring them back in steps; the
    weights stay.

    Parameters
    ----------
    factor
        The multiplier right after a drift.
    hold
        Events for which the full factor holds.
    ramp, steps
        Over ``ramp`` more events the multiplier returns to 1 in ``steps`` equal steps.

    Example
    -------
    >>> from streamlearn.adaptation import adaptive
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.drift import ADWIN
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> from streamlearn.models import LogisticRegression
    >>> detector, policy = ADWIN(direction="up"), Boost()
    >>> model = adaptive(LogisticRegression(bits=16), detector, policy, "log_loss")
    >>> report = progressive_val_score_one(model, elec2.stream(limit=10000))
    >>> round(report.metrics["accuracy"], 3), len(model.drifts)
    (0.872, 10)
    """

    factor: float = 4.0
    hold: int = 2000
    ramp: int = 2000
    steps: int = 4
    name: ClassVar[str] = "boost"

    def __post_init__(self) -> None:
        if self.factor <= 0 or self.hold < 0 or self.ramp < 0 or self.steps < 1:
            raise ValueError(f"boost: factor > 0, hold, ramp >= 0 and steps >= 1, got {self}")

    def _bounds(self) -> list[int]:
        """Event counts (since drift) where the multiplier changes."""
        step = self.ramp / self.steps
        return [self.hold + math.ceil(k * step) for k in range(self.steps)] + [
            self.hold + self.ramp
        ]

    def multiplier(self, since_drift: int) -> float:
        bounds = self._bounds()
        if since_drift < bounds[0]:
            return self.factor
        for k in range(self.steps):
            if since_drift < bounds[k + 1]:
                return self.factor + (1.0 - self.factor) * (k + 1) / self.steps
        return 1.0

    def next_change(self, since_drift: int) -> int | None:
        later = [b - since_drift for b in self._bounds() if b > since_drift]
        return min(later) if later else None


@dataclass(frozen=True)
class Shrink(Policy):
    """On drift, shrink the per-coordinate accumulators of FTRL or AdaGrad, so that every
    rate grows while every weight stays where it is.

    Parameters
    ----------
    factor
        The scale of the square roots of the accumulators, in (0, 1).

    Example
    -------
    >>> from streamlearn.adaptation import adaptive
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.drift import ADWIN
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> from streamlearn.models import LogisticRegression
    >>> detector, policy = ADWIN(direction="up"), Shrink(0.5)
    >>> model = adaptive(LogisticRegression(bits=16), detector, policy, "log_loss")
    >>> report = progressive_val_score_one(model, elec2.stream(limit=10000))
    >>> round(report.metrics["accuracy"], 3), len(model.drifts)
    (0.853, 15)
    """

    factor: float = 0.1
    name: ClassVar[str] = "shrink"

    def __post_init__(self) -> None:
        if not 0 < self.factor < 1:
            raise ValueError(f"shrink: factor must be in (0, 1), got {self.factor}")

    def check(self, learner: LinearModel) -> None:
        if learner.optimizer.code not in (FTRL_CODE, ADAGRAD_CODE):
            raise ValueError("shrink needs an FTRL or AdaGrad learner")

    def on_drift(self, learner: LinearModel) -> LinearModel:
        if learner.optimizer.code == ADAGRAD_CODE:
            learner.table[:, 1] *= self.factor**2  # rate ∝ 1 / sqrt(sum of g²)
            return learner
        keep_ftrl_weights(learner, learner._hyper[ALPHA], root_scale=self.factor)
        return learner


@dataclass(frozen=True)
class Background(Policy):
    """At a warning, start a fresh model beside the current one; at drift, keep the one that
    made fewer errors since (the wrapper runs both). Needs a detector that warns (DDM, EDDM,
    the windowed error rate, PSI). Takes no parameters.

    Example
    -------
    >>> from streamlearn.adaptation import adaptive
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.drift import DDM
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> from streamlearn.models import LogisticRegression
    >>> detector, policy = DDM(), Background()
    >>> model = adaptive(LogisticRegression(bits=16), detector, policy, "error")
    >>> report = progressive_val_score_one(model, elec2.stream(limit=10000))
    >>> round(report.metrics["accuracy"], 3), len(model.drifts)
    (0.87, 33)
    """

    name: ClassVar[str] = "background"


def keep_ftrl_weights(learner: LinearModel, alpha: float, root_scale: float = 1.0) -> None:
    """Give an FTRL learner a new ``alpha`` (and scale its sqrt(n) by ``root_scale``) while
    every weight stays where it is: z is rescaled to match. Rates change, the model does not.
    """
    table, hp = learner.table, learner._hyper
    z, root_n = table[:, 0], table[:, 1]
    old = (hp[BETA] + root_n) / hp[ALPHA] + hp[L2]
    new = (hp[BETA] + root_scale * root_n) / alpha + hp[L2]
    active = np.abs(z) > hp[L1]
    sign = np.sign(z[active])
    z[active] = sign * hp[L1] + (z[active] - sign * hp[L1]) * (new[active] / old[active])
    root_n *= root_scale
    hp[ALPHA] = alpha


POLICIES: dict[str, type[Policy]] = {cls.name: cls for cls in (Reset, Boost, Shrink, Background)}
RATES = (LR, ALPHA, INTERCEPT_LR)  # the hyper-parameters a boost multiplies


def make_policy(spec: Policy | dict[str, Any] | str) -> Policy:
    """A policy from itself, its name (``"reset"``) or its ``params()`` dict."""
    return from_spec(spec, POLICIES, Policy, "policy")
