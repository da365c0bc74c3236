"""Performance-weighted ensembles: members' predictions averaged with Hedge weights from
their recent losses.

Each member predicts every event (before learning it); its loss on the event joins an
exponentially discounted sum L_i ← γ·L_i + loss_i; the next event's weights are
w_i ∝ exp(-η·L_i) (Freund & Schapire's Hedge over a discounted horizon of ~1/(1-γ)
events). Classifiers mix probabilities (log loss), regressors predictions (squared
error). Any of the project's learners can be members — the same learner at several
learning rates is the classic use.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Self

import numba as nb
import numpy as np

from streamlearn.base import Classifier, Learner, Regressor, State, register
from streamlearn.base.losses import PROBABILITY_CLIP
from streamlearn.base.state import learner_kinds, nest, nested_part
from streamlearn.features.columns import as_columns, n_rows
from streamlearn.models.evented import EventByEvent

EPS = PROBABILITY_CLIP


@nb.njit(inline="always")
def _mix(row, losses, eta, discount, target, classify, learn, weights):
    """One event: the weighted prediction from the current losses, then (``learn``) the
    members' losses on this event join the discounted sums."""
    best = losses.min()
    total = 0.0
    for i in range(losses.shape[0]):
        weights[i] = math.exp(-eta * (losses[i] - best))
        total += weights[i]
    mixed = 0.0
    for i in range(losses.shape[0]):
        mixed += weights[i] / total * row[i]
    if learn:
        for i in range(losses.shape[0]):
            if classify:
                p = min(max(row[i], EPS), 1.0 - EPS)
                loss = -math.log(p) if target >= 0.5 else -math.log(1.0 - p)
            else:
                loss = (row[i] - target) ** 2
            losses[i] = discount * losses[i] + loss
    return mixed


@nb.njit(nogil=True, cache=True)
def mix_many(predictions, targets, losses, eta, discount, classify, learn, out):
    """Events in order (rows of ``predictions``: each member's prediction)."""
    weights = np.empty(predictions.shape[1])
    for e in range(predictions.shape[0]):
        out[e] = _mix(
            predictions[e],
            losses,
            eta,
            discount,
            targets[e] if learn else 0.0,
            classify,
            learn,
            weights,
        )


class _Hedge(EventByEvent, Learner):
    """What both ensembles share (see the module doc); the runner's schedules run event by
    event."""

    classify = False

    def __init__(
        self, members: Sequence[Learner], eta: float = 1.0, discount: float = 0.999
    ) -> None:
        members = [as_learner(m) for m in members]
        if len(members) < 2:
            raise ValueError("an ensemble needs at least two members")
        task = "binary" if self.classify else "regression"
        if any(m.task != task for m in members):
            raise ValueError(f"every member must be a {task} learner")
        if not (eta > 0 and 0 < discount <= 1):
            raise ValueError("need eta > 0 and 0 < discount <= 1")
        self.members, self.eta, self.discount = members, float(eta), float(discount)
        self.losses = np.zeros(len(members))

    @property
    def weights(self) -> list[float]:
        """The members' weights for the next event."""
        w = np.exp(-self.eta * (self.losses - self.losses.min()))
        return (w / w.sum()).tolist()

    def params(self) -> dict[str, Any]:
        members = [{"kind": type(m).__name__, "params": m.params()} for m in self.members]
        return {"members": members, "eta": self.eta, "discount": self.discount}

    def state(self) -> State:
        arrays: dict[str, np.ndarray] = {"losses": self.losses.copy()}
        metas = []
        for i, member in enumerate(self.members):
            inner = member.state()
            arrays |= nest({f"member{i}": inner.arrays})
            metas.append(inner.meta)
        return State(type(self).__name__, self.params(), arrays, {"members": metas})

    @classmethod
    def from_state(cls, state: State) -> Self:
        if state.kind != cls.__name__:
            raise ValueError(f"state of a {state.kind} cannot make a {cls.__name__}")
        model = cls(**state.params)
        for i, (spec, meta) in enumerate(
            zip(state.params["members"], state.meta["members"], strict=True)
        ):
            arrays = nested_part(state.arrays, f"member{i}")
            model.members[i] = State(spec["kind"], spec["params"], arrays, meta).to_learner()
        losses = np.asarray(state.arrays["losses"], np.float64)
        if losses.shape != model.losses.shape or not np.isfinite(losses).all():
            raise ValueError("the members' losses do not fit")
        model.losses = losses.copy()
        return model

    # ------------------------------------------------------------------ predictions
    def _member_one(self, member: Learner, x: Mapping[str, Any]) -> float:
        return member.predict_proba_one(x)[True] if self.classify else member.predict_one(x)

    def _member_many(self, member: Learner, X: Any) -> np.ndarray:
        if self.classify:
            return np.asarray(member.predict_proba_many(X), np.float64)
        return np.asarray(member.predict_many(X), np.float64)

    def _combine(self, predictions: np.ndarray, targets: np.ndarray, learn: bool) -> np.ndarray:
        out = np.empty(len(predictions))
        mix_many(
            np.ascontiguousarray(predictions),
            targets,
            self.losses,
            self.eta,
            self.discount,
            self.classify,
            learn,
            out,
        )
        return out

    def _score_one(self, x: Mapping[str, Any]) -> float:
        row = np.array([[self._member_one(m, x) for m in self.members]])
        return float(self._combine(row, np.zeros(1), learn=False)[0])

    def learn_one(self, x: Mapping[str, Any], y: Any) -> None:
        target = _target(self.members[0], y)  # refused before anything changes
        row = np.array([[self._member_one(m, x) for m in self.members]])
        for member in self.members:
            member.learn_one(x, y)
        self._combine(row, np.array([target]), learn=True)

    def learn_many(self, X: Any, y: Any) -> None:
        self.predict_learn_many(X, y)

    def predict_learn_many(self, X: Any, y: Any) -> np.ndarray:
        columns = as_columns(X)
        targets = self.members[0]._targets_many(y, n_rows(columns))
        predictions = np.column_stack([m.predict_learn_many(columns, y) for m in self.members])
        return self._combine(predictions, targets, learn=True)

    def _predict_many(self, X: Any) -> np.ndarray:
        columns = as_columns(X)
        predictions = np.column_stack([self._member_many(m, columns) for m in self.members])
        return self._combine(predictions, np.zeros(len(predictions)), learn=False)


@register
class HedgeClassifier(_Hedge, Classifier):
    """A Hedge-weighted ensemble of binary classifiers (weights from discounted log loss).

    Parameters
    ----------
    members
        The classifiers (learners, or ``{"kind", "params"}`` specs).
    eta
        How sharply weights follow losses.
    discount
        γ: each event's loss counts γ^k after k more events.

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.models import LogisticRegression, SGD
    >>> import pyarrow.csv as pacsv
    >>> table = pacsv.read_csv(elec2.path())
    >>> members = [LogisticRegression(SGD(lr=lr), bits=12) for lr in (0.001, 0.05, 0.5)]
    >>> ensemble = HedgeClassifier(members, eta=2.0, discount=0.999)
    >>> p = ensemble.predict_learn_many(table.drop(["target"]), table["target"])
    >>> [round(w, 2) for w in ensemble.weights]  # the fast learner carries this drifting stream
    [0.0, 0.0, 1.0]
    """

    classify = True

    def predict_proba_one(self, x: Mapping[str, Any]) -> dict[bool, float]:
        p = self._score_one(x)
        return {False: 1.0 - p, True: p}

    def predict_proba_many(self, X: Any) -> np.ndarray:
        return self._predict_many(X)

    def _target_one(self, y: Any) -> float:
        return _target(self.members[0], y)


@register
class HedgeRegressor(_Hedge, Regressor):
    """A Hedge-weighted ensemble of regressors (weights from discounted squared error).

    Parameters
    ----------
    members, eta, discount
        As for :class:`HedgeClassifier` (the members are regressors).

    Example
    -------
    >>> from streamlearn.datasets import synth
    >>> from streamlearn.evaluate.metrics import MAE
    >>> from streamlearn.models import LinearRegression, SGD
    >>> table = synth.tabular_stream(20_000, columns="numeric", task="regression", seed=1)
    >>> members = [LinearRegression(SGD(lr=lr), bits=12) for lr in (0.001, 0.01, 0.1)]
    >>> ensemble = HedgeRegressor(members, eta=0.5)
    >>> predicted = ensemble.predict_learn_many(table.drop(["target"]), table["target"])
    >>> mae = MAE()
    >>> mae.update_many(table["target"].to_numpy(), predicted)
    >>> round(mae.get(), 3), [round(w, 2) for w in ensemble.weights]
    (1.392, [1.0, 0.0, 0.0])
    """

    def predict_one(self, x: Mapping[str, Any]) -> float:
        return self._score_one(x)

    def predict_many(self, X: Any) -> np.ndarray:
        return self._predict_many(X)


def _target(member: Learner, y: Any) -> float:
    """A label as its members take it (checked the way the first member checks it)."""
    check = getattr(member, "_target_one", None)
    return float(check(y)) if check is not None else float(y)


def as_learner(member: Any) -> Learner:
    """A learner, or the one a ``{kind, params}`` spec describes."""
    if isinstance(member, Learner):
        return member
    if isinstance(member, Mapping) and member.get("kind") in learner_kinds():
        return learner_kinds()[member["kind"]](**member.get("params", {}))
    raise ValueError(f"a member must be a learner or a {{kind, params}} spec, got {member!r}")
