"""Bayesian online linear regression: an exact Gaussian posterior, updated one event at a
time, with predictive uncertainty.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Self

import numpy as np

from streamlearn.base import (
    Regressor,
    ReportsUncertainty,
    ServedByCopies,
    ServesRows,
    State,
    register,
)
from streamlearn.base.records import Rows, Schedule
from streamlearn.base.state import restore_arrays
from streamlearn.features.columns import as_columns, n_rows
from streamlearn.features.hasher import FeatureHasher
from streamlearn.models.bayes.kernel import (
    Coordinates,
    DiagonalPosterior,
    FullPosterior,
    run_diagonal,
    run_diagonal_ops,
    run_full,
    run_full_ops,
)
from streamlearn.models.hashed import HashedModel
from streamlearn.models.linear.base import regression_target, target_array

COVARIANCES = ("full", "diagonal")


@dataclass(frozen=True)
class Gaussian:
    """A predictive distribution.

    Parameters
    ----------
    mean
        The predicted value.
    variance
        Its predictive variance (noise and the weights' uncertainty).

    Example
    -------
    >>> from streamlearn.models import BayesianLinearRegression
    >>> model = BayesianLinearRegression(bits=8)
    >>> for k in range(50):
    ...     model.learn_one({"x": k / 10}, 2 * k / 10 + 1)
    >>> belief = model.predict_dist_one({"x": 1.0})
    >>> round(belief.mean, 2), round(belief.variance, 2)
    (3.46, 1.61)
    """

    mean: float
    variance: float

    @property
    def std(self) -> float:
        return math.sqrt(self.variance)

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """The central interval holding ``level`` of the probability."""
        half = NormalDist().inv_cdf(0.5 + level / 2) * self.std
        return self.mean - half, self.mean + half


@register
class BayesianLinearRegression(
    HashedModel, Regressor, ServesRows, ServedByCopies, ReportsUncertainty
):
    """Linear regression with a Gaussian prior N(0, I/alpha) on the weights and Gaussian
    noise of precision ``beta``; the posterior is updated exactly, one event at a time.

    Parameters
    ----------
    alpha
        Prior precision of each weight (the intercept included).
    beta
        Noise precision: 1 / the variance of y around the regression line.
    forgetting
        1 keeps every event (the exact posterior); below 1 the past is discounted by this
        factor per event, so that the model follows drift (0.999: a memory of ~1000 events).
    covariance
        ``full``: the exact posterior, O(d²) per event, over at most ``capacity`` distinct
        features (later new ones count as unseen: prior mean and variance; see
        :attr:`n_features`). ``diagonal``: a diagonal approximation over ``2**bits`` hashed
        coordinates, O(features per event), for high-dimensional sparse input.
    capacity
        Distinct features the full covariance holds.
    features
        The featurizer: a :class:`~streamlearn.features.FeatureHasher`, or its settings as a
        dict. Numbers are standardized online (z-scores clipped at ±5) by default, which
        keeps the posterior well-conditioned whatever the raw scales; with
        ``standardize=False`` it is the textbook posterior on the raw features (an event
        whose scales would exhaust float64's precision is then not learned, see
        :attr:`n_skipped`).
    **feature_settings
        The featurizer's settings one by one instead (``bits=18``, ``interactions=[...]``, …).

    Example
    -------
    New South Wales electricity demand from the period, prices and Victoria's demand (Elec2):

    >>> from streamlearn.datasets import elec2
    >>> model = BayesianLinearRegression(alpha=1.0, beta=50.0)
    >>> inside = 0
    >>> for i, (x, _) in enumerate(elec2.stream(limit=5000)):
    ...     y = x.pop("feat_3")  # nswdemand
    ...     low, high = model.predict_dist_one(x).interval(0.9)
    ...     inside += i >= 1000 and low <= y <= high
    ...     model.learn_one(x, y)
    >>> round(inside / 4000, 2)  # the 90% intervals hold about 90% of what comes next
    0.9
    """

    def __init__(
        self,
        alpha: float = 1.0,
        beta: float = 1.0,
        forgetting: float = 1.0,
        covariance: str = "full",
        capacity: int = 256,
        features: FeatureHasher | Mapping[str, Any] | None = None,
        **feature_settings: Any,
    ) -> None:
        if not (alpha > 0 and beta > 0 and math.isfinite(alpha) and math.isfinite(beta)):
            raise ValueError("alpha and beta must be finite and > 0")
        if not 0 < forgetting <= 1:
            raise ValueError(f"forgetting must be in (0, 1], got {forgetting}")
        if covariance not in COVARIANCES:
            raise ValueError(f"covariance must be one of {COVARIANCES}, got {covariance!r}")
        if not 1 <= capacity <= 8192:
            raise ValueError(f"capacity must be in [1, 8192], got {capacity}")
        super().__init__(features, feature_settings)
        self.alpha, self.beta, self.forgetting = float(alpha), float(beta), float(forgetting)
        self.covariance, self.capacity = covariance, int(capacity)
        self._hyper = np.array([self.alpha, 1.0 / self.beta, self.forgetting])
        if covariance == "full":
            dims = self.capacity + 1
            self.mean = np.zeros(dims)
            self.cov = np.eye(dims) / self.alpha
            self.keys, self.coords, self.used = Coordinates.empty(self.capacity)
        else:
            dims = self.features.size + 1
            self.mean = np.zeros(dims)
            self.cov = np.full(dims, 1.0 / self.alpha)  # the variances
            self.last = np.zeros(dims, np.int64)
            self.clock = np.zeros(1, np.int64)

    # ------------------------------------------------------------------ contract
    def params(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "beta": self.beta,
            "forgetting": self.forgetting,
            "covariance": self.covariance,
            "capacity": self.capacity,
            "features": self.features.params(),
        }

    def _arrays(self) -> dict[str, np.ndarray]:
        names = (
            ("mean", "cov", "keys", "coords", "used")
            if self.covariance == "full"
            else ("mean", "cov", "last", "clock")
        )
        return {name: getattr(self, name) for name in names}

    def state(self) -> State:
        arrays, meta = self.features.state()
        arrays |= {name: array.copy() for name, array in self._arrays().items()}
        return State(type(self).__name__, self.params(), arrays, meta)

    @classmethod
    def from_state(cls, state: State) -> Self:
        if state.kind != cls.__name__:
            raise ValueError(f"state of a {state.kind} cannot make a {cls.__name__}")
        model = cls(**state.params)
        restore_arrays(model, model._arrays(), state.arrays)
        model.features.load_state(state.arrays, state.meta)
        return model

    @property
    def n_skipped(self) -> int:
        """Events not learned because their scales would have broken the full posterior."""
        return int(self.used[1]) if self.covariance == "full" else 0

    @property
    def n_features(self) -> int:
        """Distinct features the full covariance has a coordinate for."""
        return int(self.used[0]) if self.covariance == "full" else self.features.size

    # ------------------------------------------------------------------ kernels
    def _posterior(self) -> FullPosterior | DiagonalPosterior:
        if self.covariance == "full":
            return FullPosterior(
                self.mean, self.cov, Coordinates(self.keys, self.coords, self.used)
            )
        return DiagonalPosterior(self.mean, self.cov, self.last, self.clock)

    def _call(self, hashes, values, targets, learn, out, out_var) -> None:
        run = run_full if self.covariance == "full" else run_diagonal
        run(Rows(hashes, values), targets, self._posterior(), self._hyper, learn, out, out_var)

    def _one(self, x: Mapping[str, Any], target: float, learn: bool) -> tuple[float, float]:
        event = self._encode(x)
        out, out_var = np.empty(1), np.empty(1)
        self._call(
            event.hashes[None, :], event.values[None, :], np.array([target]), learn, out, out_var
        )
        if learn:
            self.features.learn_one(event)
            self._cached = None
        return float(out[0]), float(out_var[0])

    def _run(self, hashes, values, targets, out, learn: bool) -> None:
        self._call(hashes, values, targets, learn, out, np.empty(len(out)))

    # ------------------------------------------------------------------ one event
    def learn_one(self, x: Mapping[str, Any], y: Any) -> None:
        self._one(x, self._target_one(y), learn=True)

    def predict_one(self, x: Mapping[str, Any]) -> float:
        return self._one(x, 0.0, learn=False)[0]

    def predict_dist_one(self, x: Mapping[str, Any]) -> Gaussian:
        """The predictive distribution of y: N(x'mean, 1/beta + x'cov x)."""
        return Gaussian(*self._one(x, 0.0, learn=False))

    # ------------------------------------------------------------------ batches
    def predict_many(self, X: Any) -> np.ndarray:
        return self._run_many(X, None, learn=False)

    def predict_dist_many(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Predictive means and variances of a batch."""
        columns = as_columns(X)
        n = n_rows(columns)
        means, variances = np.empty(n), np.empty(n)
        for start, stop, hashes, values in self._encoded_chunks(columns, n, learn=False):
            self._call(hashes, values, np.empty(0), False, means[start:stop], variances[start:stop])
        return means, variances

    def run_ops(self, hashes, values, ops, op_rows, targets) -> np.ndarray:
        """A runner schedule of served rows and delayed labels, in order."""
        out = np.empty(len(ops))
        checked = np.where(np.asarray(ops) == 0, 0.0, np.asarray(targets, dtype=np.float64))
        if not np.isfinite(checked).all():
            raise ValueError("a target to learn is missing or not finite")
        ops, op_rows = np.asarray(ops, np.int8), np.asarray(op_rows, np.int64)
        run = run_full_ops if self.covariance == "full" else run_diagonal_ops
        schedule = Schedule(ops, op_rows, checked)
        run(Rows(hashes, values), schedule, self._posterior(), self._hyper, out)
        return out

    # ------------------------------------------------------------------ targets
    def _target_one(self, y: Any) -> float:
        return regression_target(y)

    def _targets_many(self, y: Any, n: int) -> np.ndarray:
        return target_array(y, n)
