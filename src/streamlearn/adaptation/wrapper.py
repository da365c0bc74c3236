"""A learner that watches its own errors with a drift detector and adapts when it fires.

Each event is predicted, learned, and its error (0/1 misclassification for a classifier,
absolute error for a regressor) goes to the detector; on drift the policy acts and the
drift is recorded. The batch path gives exactly the one-event results: it learns a batch,
finds the first drift in it, and if there is one, rolls back to learn only up to there,
acts, and goes on from the next event.

>>> from streamlearn.adaptation import Boost, adaptive
>>> from streamlearn.datasets import elec2
>>> from streamlearn.drift import DDM
>>> from streamlearn.models import LogisticRegression
>>> model = adaptive(LogisticRegression(bits=16), DDM(), Boost(factor=4, hold=500))
>>> for x, y in elec2.stream(limit=20_000):
...     model.learn_one(x, y)
>>> [d["action"] for d in model.drifts][:2]
['boost', 'boost']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

import numpy as np

from streamlearn.adaptation.policies import (
    RATES,
    Background,
    Policy,
    keep_ftrl_weights,
    make_policy,
)
from streamlearn.adaptation.served_rows import LearnersRows
from streamlearn.base import (
    Classifier,
    Regressor,
    ReportsDrift,
    State,
    register,
)
from streamlearn.base.losses import log_losses
from streamlearn.base.state import learner_kinds, nest, nested_part
from streamlearn.drift import DETECTORS, DRIFT, WARNING, DriftDetector
from streamlearn.features.columns import as_columns, n_rows, rows
from streamlearn.models.evented import event_schedule
from streamlearn.models.linear import LinearModel
from streamlearn.models.linear.optimizers import ALPHA, FTRL_CODE

SIGNALS = ("error", "brier", "log_loss")


class _Adaptive(LearnersRows, ReportsDrift):
    """What both kinds share; ``learner`` is a linear learner of the project."""

    def __init__(
        self,
        learner: LinearModel | Mapping[str, Any],
        detector: DriftDetector | Mapping[str, Any],
        policy: Policy | Mapping[str, Any] | str = "reset",
        signal: str = "error",
    ) -> None:
        if signal not in SIGNALS:
            raise ValueError(f"signal must be one of {SIGNALS}, got {signal!r}")
        if signal != "error" and not isinstance(self, Classifier):
            raise ValueError(f"signal {signal!r} needs a probability: regressors use 'error'")
        self.signal = signal
        self.learner = _build(learner, learner_kinds(), LinearModel).clone()
        self.detector = _build(detector, DETECTORS, DriftDetector).clone()
        self.policy = make_policy(dict(policy) if isinstance(policy, Mapping) else policy)
        self.policy.check(self.learner)
        self._base_rates = self.learner._hyper[list(RATES)].copy()
        self.n_seen = 0
        self.since_drift = 10**12  # no drift yet: base rates
        self.drifts: list[dict[str, Any]] = []
        self.background: LinearModel | None = None  # the Background policy's candidate
        self._errors_since = [0.0, 0.0]  # foreground's, background's errors since it began

    # ------------------------------------------------------------------ contract

    def display_name(self) -> str:
        """The learner, its detector and what a drift does: ``LogisticRegression + ADWIN
        (reset)``."""
        detector = type(self.detector).__name__
        return f"{self.learner.display_name()} + {detector} ({self.policy.name})"

    def params(self) -> dict[str, Any]:
        return {
            "learner": {"kind": type(self.learner).__name__, "params": self.learner.params()},
            "detector": {"kind": type(self.detector).__name__, "params": self.detector.params()},
            "policy": self.policy.params(),
            "signal": self.signal,
        }

    def state(self) -> State:
        arrays: dict[str, np.ndarray] = {"detector": self.detector.state()[1]}
        metas = {}
        for prefix, model in (("learner", self.learner), ("background", self.background)):
            if model is not None:
                inner = model.state()
                arrays |= nest({prefix: inner.arrays})
                metas[prefix] = inner.meta
        meta = {
            "models": metas,
            "n_seen": self.n_seen,
            "since_drift": self.since_drift,
            "drifts": self.drifts,
            "errors_since": self._errors_since,
        }
        return State(type(self).__name__, self.params(), arrays, meta)

    @classmethod
    def from_state(cls, state: State) -> Self:
        model = cls(**state.params)
        kind = type(model.learner)
        restored = {}
        for prefix, meta in state.meta["models"].items():
            inner = nested_part(state.arrays, prefix)
            restored[prefix] = kind.from_state(
                State(kind.__name__, model.learner.params(), inner, meta)
            )
        model.learner = restored["learner"]
        model.background = restored.get("background")
        model.detector = type(model.detector).from_state(
            model.detector.params(), state.arrays["detector"]
        )
        model.n_seen = int(state.meta["n_seen"])
        model.since_drift = int(state.meta["since_drift"])
        model.drifts = list(state.meta["drifts"])
        model._errors_since = [float(v) for v in state.meta["errors_since"]]
        model._set_rates()
        return model

    @property
    def task(self) -> str:
        return self.learner.task

    # ------------------------------------------------------------------ one event
    def learn_one(self, x: Mapping[str, Any], y: Any) -> None:
        target = np.array([float(y)])
        error = self._errors(np.array([self.learner._raw_one(x)]), target)
        self.learner.learn_one(x, y)
        if self.background is not None:
            self._compare(error, self._errors(np.array([self.background._raw_one(x)]), target))
            self.background.learn_one(x, y)
        self._after(int(self.detector.update_many(error)[0]))

    def _compare(self, errors: np.ndarray, background_errors: np.ndarray) -> None:
        """Both models' errors since the background one started."""
        self._errors_since[0] += float(errors.sum())
        self._errors_since[1] += float(background_errors.sum())

    def _after(self, signal: int, events: int = 1) -> None:
        """Count ``events`` learned events; act on the detector's signal for the last."""
        index = self.n_seen + events - 1
        self.n_seen += events
        self.since_drift += events
        if signal == DRIFT:
            action = self.policy.name
            if isinstance(self.policy, Background):
                action = self._swap()
            else:
                self.learner = self.policy.on_drift(self.learner)
            self.since_drift = 0
            self.drifts.append(
                {
                    "index": index,
                    "detector": type(self.detector).__name__,
                    "statistic": _finite(self.detector.statistic),
                    "action": action,
                }
            )
        elif signal == WARNING and self._starts_background():
            self.background = self.learner.clone()
            self._errors_since = [0.0, 0.0]
        self._set_rates(keep_weights=True)

    def _starts_background(self) -> bool:
        return isinstance(self.policy, Background) and self.background is None

    def _swap(self) -> str:
        """At drift: the background model replaces the foreground one if it made fewer
        errors on the events both saw."""
        background, self.background = self.background, None
        if background is not None and self._errors_since[1] < self._errors_since[0]:
            self.learner = background
            return "swap"
        return "keep"

    def _set_rates(self, keep_weights: bool = False) -> None:
        """The rates for ``since_drift``. ``keep_weights``: the rates change now, on a live
        model (an FTRL learner then rescales z so that its weights stay); a restored model's
        z already matches the rates of its time."""
        rates = self._base_rates * self.policy.multiplier(self.since_drift)
        learner = self.learner
        alpha = rates[RATES.index(ALPHA)]
        if keep_weights and learner.optimizer.code == FTRL_CODE and alpha != learner._hyper[ALPHA]:
            keep_ftrl_weights(learner, alpha)
        learner._hyper[list(RATES)] = rates

    # ------------------------------------------------------------------ batches
    def _errors(self, predictions: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """What the detector watches, one value per event."""
        if self.signal == "brier":
            return (predictions - targets) ** 2
        if self.signal == "log_loss":
            return log_losses(targets, predictions)
        return self._misses(predictions, targets)

    @staticmethod
    def _misses(predictions: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """The plain error: 0/1 for a classifier, absolute for a regressor."""
        raise NotImplementedError

    def predict_learn_many(self, X: Any, y: Any) -> np.ndarray:
        columns = as_columns(X)
        n = n_rows(columns)
        targets = self.learner._targets_many(y, n)
        out = np.empty(n)
        start = 0
        while start < n:
            change = self.policy.next_change(self.since_drift)
            stop = n if change is None else min(n, start + change)
            start += self._learn_segment(columns, targets, start, stop, out)
        return out

    def _learn_segment(self, columns, targets, start: int, stop: int, out) -> int:
        """Learn events start:stop at constant rates, up to and including the first event
        the wrapper must act on (a drift, or a warning that starts a background model);
        returns how many events were learned."""
        models = [m for m in (self.learner, self.background) if m is not None]
        before = [m.state() for m in models]
        outputs = self._learn_rows(models, columns, targets, start, stop)
        errors = [self._errors(p, targets[start:stop]) for p in outputs]
        trial = type(self.detector).from_state(*self.detector.state())
        signals = trial.update_many(errors[0])
        acts = signals == DRIFT
        if self._starts_background():
            acts |= signals == WARNING
        end = int(np.argmax(acts)) + 1 if acts.any() else len(signals)
        if end < len(signals):  # roll back, then learn only up to the event to act on
            models = [type(m).from_state(state) for m, state in zip(models, before, strict=True)]
            self.learner = models[0]
            self.background = models[1] if len(models) > 1 else None
            self._set_rates()
            self._learn_rows(models, columns, targets, start, start + end)
        out[start : start + end] = outputs[0][:end]
        if self.background is not None:
            self._compare(errors[0][:end], errors[1][:end])
        self.detector.update_many(errors[0][:end])
        self._after(int(signals[end - 1]), events=end)
        return end

    @staticmethod
    def _learn_rows(models, columns, targets, start: int, stop: int) -> list[np.ndarray]:
        part = {name: rows(col, start, stop) for name, col in columns.items()}
        return [m.predict_learn_many(part, targets[start:stop]) for m in models]

    def learn_many(self, X: Any, y: Any) -> None:
        self.predict_learn_many(X, y)

    # ------------------------------------------------------------------ serving (runner)
    def run_ops(self, hashes, values, ops, op_rows, targets) -> np.ndarray:
        """A schedule of served rows and delayed labels (see ``LinearModel.run_ops``), with
        the detector watching every learned label; on a drift the policy acts right after
        that label, exactly as event by event. When the policy brings a fresh featurizer
        (a reset), the rows served after that point were encoded by the old one: the run
        stops there and returns the outputs of the operations done, so that the caller
        serves the rest again."""
        if self.by_event:
            return event_schedule(self, hashes, values, ops, op_rows, targets)
        ops = np.asarray(ops, np.int8)
        out = np.empty(len(ops))
        start = 0
        while start < len(ops):
            learn_at = start + np.flatnonzero(ops[start:] != 0)
            change = self.policy.next_change(self.since_drift)
            stop = len(ops)
            if change is not None and change < len(learn_at):
                stop = int(learn_at[change - 1]) + 1  # rates change after this label
            features = self.learner.features
            start += self._ops_segment(hashes, values, ops, op_rows, targets, start, stop, out)
            if self.learner.features is not features:
                return out[:start]
        return out

    def _ops_segment(self, hashes, values, ops, op_rows, targets, start, stop, out) -> int:
        """Run ops start:stop at constant rates, up to the first label the detector flags;
        returns how many ops ran."""
        before = self.learner.state()
        part = slice(start, stop)
        outputs = self.learner.run_ops(hashes, values, ops[part], op_rows[part], targets[part])
        learned = np.flatnonzero(ops[part] != 0)
        errors = self._errors(outputs[learned], np.asarray(targets[part])[learned])
        trial = type(self.detector).from_state(*self.detector.state())
        signals = trial.update_many(errors)
        end, n_learned = stop - start, len(learned)
        if (signals == DRIFT).any():
            n_learned = int(np.argmax(signals == DRIFT)) + 1
            end = int(learned[n_learned - 1]) + 1
            self.learner = type(self.learner).from_state(before)
            self._set_rates()
            cut = slice(start, start + end)
            self.learner.run_ops(hashes, values, ops[cut], op_rows[cut], targets[cut])
        out[start : start + end] = outputs[:end]
        self.detector.update_many(errors[:n_learned])
        self._after(int(signals[n_learned - 1]) if n_learned else 0, events=n_learned)
        return end


@register
class AdaptiveClassifier(_Adaptive, Classifier):
    """A binary classifier with drift adaptation. The detector sees 0/1 errors, or with
    ``signal="brier"`` / ``"log_loss"`` the squared error / log loss of the probability, which
    move when a drift changes the odds without flipping many decisions (rare clicks, say).

    Parameters
    ----------
    learner
        A linear learner of the project (or its ``{"kind", "params"}`` spec).
    detector
        A drift detector (:mod:`streamlearn.drift`) fed one value per learned event.
    policy
        What to do on drift: :class:`Reset`, :class:`Boost`, :class:`Shrink`,
        :class:`Background`, or a name.
    signal
        ``"error"`` (0/1), ``"brier"`` or ``"log_loss"``.

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.drift import ADWIN
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> from streamlearn.models import LogisticRegression
    >>> detector = ADWIN(direction="up")  # a learner's errors: only rises matter
    >>> model = AdaptiveClassifier(LogisticRegression(bits=16), detector, "reset", "log_loss")
    >>> report = progressive_val_score_one(model, elec2.stream(limit=10000))
    >>> round(report.metrics["accuracy"], 3), len(model.drifts)
    (0.875, 13)
    """

    def predict_proba_one(self, x: Mapping[str, Any]) -> dict[bool, float]:
        return self.learner.predict_proba_one(x)

    def predict_proba_many(self, X: Any) -> np.ndarray:
        return self.learner.predict_proba_many(X)

    @staticmethod
    def _misses(predictions, targets):
        return ((predictions >= 0.5) != (targets >= 0.5)).astype(np.float64)


@register
class AdaptiveRegressor(_Adaptive, Regressor):
    """A regressor with drift adaptation; the detector sees absolute errors.

    Parameters
    ----------
    learner
        A linear learner of the project (or its ``{"kind", "params"}`` spec).
    detector
        A drift detector (:mod:`streamlearn.drift`) fed one value per learned event.
    policy
        What to do on drift: :class:`Reset`, :class:`Boost`, :class:`Shrink`,
        :class:`Background`, or a name.
    signal
        ``"error"``: the absolute error; ``"brier"``: the squared error.

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.drift import PageHinkley
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> from streamlearn.models import LinearRegression
    >>> model = AdaptiveRegressor(LinearRegression(bits=16), PageHinkley(), "reset")
    >>> report = progressive_val_score_one(model, elec2.demand(limit=10000))
    >>> round(report.metrics["mae"], 4), len(model.drifts)
    (0.0854, 1)
    """

    def predict_one(self, x: Mapping[str, Any]) -> float:
        return self.learner.predict_one(x)

    def predict_many(self, X: Any) -> np.ndarray:
        return self.learner.predict_many(X)

    @staticmethod
    def _misses(predictions, targets):
        return np.abs(predictions - targets)


def adaptive(
    learner: LinearModel,
    detector: DriftDetector,
    policy: Policy | str = "reset",
    signal: str = "error",
):
    """Wrap ``learner`` (binary classifier or regressor) with a detector and a policy; the
    detector sees each event's ``signal``: ``error`` (0/1, or absolute for a regressor),
    ``brier`` (squared error of the probability) or ``log_loss`` (classifiers only)."""
    if not isinstance(learner, Classifier | Regressor):
        raise ValueError(f"drift adaptation for {learner.task} learners is not there yet")
    cls = AdaptiveClassifier if isinstance(learner, Classifier) else AdaptiveRegressor
    return cls(learner, detector, policy, signal)


def watched(
    learner: LinearModel, detector: str, policy: Policy | str = "reset", signal: str | None = None
):
    """:func:`adaptive` with a detector named as in :data:`~streamlearn.drift.DETECTORS`
    (what configs and the command line give). On a learner's errors only rises matter, so
    ADWIN is told to ignore improvements; the signal defaults to the log loss for a binary
    classifier and the plain error otherwise."""
    if detector not in DETECTORS:
        raise ValueError(f"unknown detector {detector!r}; choose one of {sorted(DETECTORS)}")
    options: dict[str, Any] = {"direction": "up"} if detector == "ADWIN" else {}
    signal = signal or ("log_loss" if learner.task == "binary" else "error")
    return adaptive(learner, DETECTORS[detector](**options), policy, signal)


def _finite(value: float) -> float | None:
    """A JSON-safe number (None for NaN or ±inf)."""
    return float(value) if np.isfinite(value) else None


def _build(spec: Any, kinds: Mapping[str, type], base: type):
    if isinstance(spec, base):
        return spec
    if isinstance(spec, Mapping) and spec.get("kind") in kinds:
        built = kinds[spec["kind"]](**spec.get("params", {}))
        if isinstance(built, base):
            return built
    raise ValueError(f"expected a {base.__name__} or its description, got {spec!r}")
