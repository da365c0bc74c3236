"""What the linear learners share: hashed features, a weight table and the compiled loop."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np
import pyarrow as pa

from streamlearn.base import ServedByCopies, ServesRows, State
from streamlearn.base.records import Rows, Schedule
from streamlearn.features.event_hashing import EncodedEvent
from streamlearn.features.hasher import FeatureHasher
from streamlearn.models.hashed import HashedModel
from streamlearn.models.linear.kernel import (
    LinearWeights,
    count_zero_weights,
    effective_weights,
    one_event_kernels,
    run_linear,
    run_linear_ops,
)
from streamlearn.models.linear.optimizers import (
    FTRL,
    INTERCEPT_LR,
    Optimizer,
    make_optimizer,
)


class LinearModel(HashedModel, ServesRows, ServedByCopies):
    """A linear model on hashed features, trained one event at a time.

    Parameters
    ----------
    optimizer
        An optimizer (:class:`SGD`, :class:`AdaGrad`, :class:`FTRL`), its name or its params.
    features
        The featurizer: a :class:`~streamlearn.features.FeatureHasher`, or its settings as a
        dict. Numbers are standardized online by default: one learning rate then suits every
        column.
    intercept_lr
        The intercept's constant learning rate (plain SGD, no regularization): it keeps
        following the base rate when that drifts, as per-coordinate rates slow down.
    **feature_settings
        The featurizer's settings one by one instead (``bits=18``, ``interactions=[...]``,
        ``categorical=[...]``, …).

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score
    >>> from streamlearn.models import LogisticRegression
    >>> from streamlearn.streams.files import FileSource
    >>> batches = ((b.features, b.target) for b in FileSource(elec2.path(), "target"))
    >>> report = progressive_val_score(LogisticRegression(bits=16), batches)
    >>> isinstance(LogisticRegression(), LinearModel), round(report.metrics["accuracy"], 3)
    (True, 0.823)
    """

    loss: ClassVar[int]
    default_optimizer: ClassVar[Optimizer] = FTRL()

    def __init__(
        self,
        optimizer: Optimizer | dict[str, Any] | str | None = None,
        *,
        features: FeatureHasher | Mapping[str, Any] | None = None,
        intercept_lr: float = 0.02,
        **feature_settings: Any,
    ) -> None:
        super().__init__(features, feature_settings)
        self.optimizer = make_optimizer(optimizer or self.default_optimizer)
        if not (np.isfinite(intercept_lr) and intercept_lr >= 0):
            raise ValueError(f"intercept_lr must be a finite number >= 0, got {intercept_lr!r}")
        self.intercept_lr = float(intercept_lr)
        self._hyper = self.optimizer.hyper()
        self._hyper[INTERCEPT_LR] = self.intercept_lr
        self.intercept = np.zeros(1)
        self.target_stats = np.zeros(3)  # count, mean, M2 of learned targets (regression)
        self.table = np.zeros((self.features.size, 2))
        self.counters = np.zeros(1, np.int64)
        # Packed events (the common case): one compiled call does the scaling, the crosses,
        # the step and the folding of the numbers.
        kernels = one_event_kernels(self.optimizer.code, self.loss)
        self._run_one, self._predict_packed, self._learn_packed = kernels

    # ------------------------------------------------------------------ contract
    def params(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer.params(),
            "features": self.features.params(),
            "intercept_lr": self.intercept_lr,
        }

    def state(self) -> State:
        arrays, meta = self.features.state()
        arrays |= {
            "table": self.table.copy(),
            "intercept": self.intercept.copy(),
            "target_stats": self.target_stats.copy(),
            "counters": self.counters.copy(),
        }
        return State(type(self).__name__, self.params(), arrays, meta)

    @classmethod
    def from_state(cls, state: State) -> Self:
        if state.kind != cls.__name__:
            raise ValueError(f"state of a {state.kind} cannot make a {cls.__name__}")
        model = cls(**state.params)
        table = np.asarray(state.arrays["table"], dtype=np.float64)
        if table.shape != model.table.shape:
            raise ValueError(f"weight table shape {table.shape} != expected {model.table.shape}")
        intercept = np.asarray(state.arrays["intercept"], dtype=np.float64)
        if intercept.ndim != 1 or len(intercept) < len(model.intercept):
            raise ValueError(f"intercept shape {intercept.shape} does not fit {cls.__name__}")
        if not (np.isfinite(table).all() and np.isfinite(intercept).all()):
            raise ValueError("weight table holds non-finite values")
        model.table = table.copy()
        model.intercept = intercept.copy()
        target_stats = np.asarray(state.arrays["target_stats"], dtype=np.float64)
        if target_stats.shape != (3,) or not np.isfinite(target_stats).all():
            raise ValueError("target statistics must be 3 finite numbers")
        model.target_stats = target_stats.copy()
        model.counters = np.asarray(state.arrays["counters"], dtype=np.int64).copy()
        model.features.load_state(state.arrays, state.meta)
        model._load_meta(state.meta)
        return model

    def _load_meta(self, meta: Mapping[str, Any]) -> None:
        """Restore what a subclass keeps in the state's JSON part."""

    @property
    def n_learned(self) -> int:
        """How many events the model has learned."""
        return int(self.counters[0])

    def weights(self) -> np.ndarray:
        """The weight of every hashed coordinate (derived from FTRL's state where needed)."""
        out = np.empty(len(self.table))
        effective_weights(self.table, self.optimizer.code, self._hyper, out)
        return out

    @property
    def sparsity(self) -> float:
        """Fraction of weights that are exactly zero."""
        zeros = count_zero_weights(self.table, self.optimizer.code, self._hyper)
        return zeros / len(self.table)

    def described(self) -> dict[str, Any]:
        return {"sparsity": round(float(self.sparsity), 6)}

    # ------------------------------------------------------------------ one event
    def _weights(self) -> LinearWeights:
        return LinearWeights(self.table, self.intercept, self.target_stats, self.counters)

    def _one_event(self, event: EncodedEvent, target: float, learn: bool) -> float:
        return self._run_one(
            event.hashes,
            event.values,
            target,
            self.table,
            self.intercept,
            self.target_stats,
            self.counters,
            self._hyper,
            learn,
        )

    def _raw_one(self, x: Mapping[str, Any]) -> float:
        event = self._encode(x, pack=True)
        if type(event) is tuple:
            data, layout = event
            return self._predict_packed(
                data,
                layout.plan,
                layout.scaler.stats,
                self.table,
                self.intercept,
                self.target_stats,
                self._hyper,
            )
        return self._one_event(event, 0.0, learn=False)

    def learn_one(self, x: Mapping[str, Any], y: Any) -> None:
        target = self._target_one(y)
        event = self._encode(x, pack=True)
        self._cached = None
        if type(event) is tuple:
            data, layout = event
            if layout.unscaled:
                layout.add_statistics()
            self._learn_packed(
                data,
                layout.plan,
                layout.scaler.stats,
                target,
                self.table,
                self.intercept,
                self.target_stats,
                self.counters,
                self._hyper,
            )
            return
        self._one_event(event, target, learn=True)
        self.features.learn_one(event)

    def _run(self, hashes, values, targets, out, learn: bool) -> None:
        rows, code = Rows(hashes, values), self.optimizer.code
        run_linear(rows, targets, self._weights(), code, self.loss, self._hyper, learn, out)

    # ------------------------------------------------------------------ serving
    def run_ops(
        self,
        hashes: np.ndarray,
        values: np.ndarray,
        ops: np.ndarray,
        op_rows: np.ndarray,
        targets: np.ndarray,
    ) -> np.ndarray:
        """Run a schedule of served rows and delayed labels in order (see
        :func:`~streamlearn.models.linear.kernel.run_linear_ops`); targets are already
        numbers (0/1 for a classifier). Returns each operation's prediction."""
        out = np.empty(len(ops))
        checked = np.where(np.asarray(ops) == 0, 0.0, np.asarray(targets, dtype=np.float64))
        if not np.isfinite(checked).all():
            raise ValueError("a target to learn is missing or not finite")
        schedule = Schedule(np.asarray(ops, np.int8), np.asarray(op_rows, np.int64), checked)
        rows, code = Rows(hashes, values), self.optimizer.code
        run_linear_ops(rows, schedule, self._weights(), code, self.loss, self._hyper, out)
        return out

    # ------------------------------------------------------------------ targets
    def _target_one(self, y: Any) -> float:
        raise NotImplementedError


def regression_target(y: Any) -> float:
    """One regression target as a float; anything but a finite number is refused."""
    if type(y) is float and -math.inf < y < math.inf:  # the common case, first
        return y
    if isinstance(y, bool | np.bool_) or not isinstance(y, int | float | np.number):
        raise ValueError(f"a regression target must be a number, got {y!r}")
    if not math.isfinite(float(y)):
        raise ValueError(f"a regression target must be finite, got {y!r}")
    return float(y)


def target_array(y: Any, n: int) -> np.ndarray:
    """Targets of a batch as float64, checked for length."""
    if isinstance(y, pa.ChunkedArray):
        y = y.combine_chunks()
    if isinstance(y, pa.Array):
        y = y.to_numpy(zero_copy_only=False)
    try:
        targets = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("targets must be numbers or bools") from None
    if targets.shape != (n,):
        raise ValueError(f"expected {n} targets, got shape {targets.shape}")
    if not np.isfinite(targets).all():
        bad = int(np.flatnonzero(~np.isfinite(targets))[0])
        raise ValueError(f"target {bad} is missing or not finite; drop such events first")
    return targets
