"""A linear model and three non-linear learners side by side — an adaptive random forest,
an Aggregated Mondrian Forest and nearest neighbours — all learning every event; each
event is answered by what has done best on the recent ones.

Every member predicts every event before learning it. A classifier pools its members'
class probabilities in a weighted geometric mean (a logarithmic opinion pool) whose
weights follow the gradient of the pool's log loss, one step per event (``pool_rate``), so
the members that help get the weight and a member that only adds noise loses it. Then the
linear model and the pool each keep a faded log loss L ← (1 - 1/window)·L + loss, and the
answer mixes the two with weights exp(-eta·L). On sparse, high-dimensional streams (clicks)
the linear model carries the answer; on streams of thresholds, interactions and local
structure the pool takes over once its members have learned enough; when a drift upsets
one, the other answers. A regressor serves, alone, the member whose faded squared error is
lowest (squared errors have no common scale to mix by).

>>> from streamlearn.models import AutoClassifier
>>> model = AutoClassifier(window=200)
>>> for i in range(3000):
...     x = {"a": (i * 7919) % 100 / 100, "b": (i * 104729) % 100 / 100}
...     model.learn_one(x, (x["a"] > 0.5) != (x["b"] > 0.5))  # no line separates it
>>> model.serving
'pool'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Self

import numba as nb
import numpy as np

from streamlearn.base import (
    Classifier,
    ClassIndex,
    Learner,
    MulticlassClassifier,
    Regressor,
    State,
    Task,
    register,
)
from streamlearn.base.classes import MAX_CLASSES
from streamlearn.base.losses import PROBABILITY_CLIP
from streamlearn.base.state import nest, nested_part
from streamlearn.features.columns import as_columns, n_rows
from streamlearn.models.ensemble import as_learner
from streamlearn.models.evented import EventByEvent
from streamlearn.models.linear import LinearRegression, LogisticRegression, SoftmaxRegression
from streamlearn.models.linear.base import regression_target, target_array
from streamlearn.models.neighbors import KNNClassifier, KNNRegressor
from streamlearn.models.tree import (
    AdaptiveRandomForestClassifier,
    AdaptiveRandomForestRegressor,
    AMFClassifier,
    AMFRegressor,
)
from streamlearn.models.tree.base import positive

BINARY, MULTICLASS, REGRESSION = 0, 1, 2
Member = Learner | Mapping[str, Any] | None  # a learner, a {kind, params} spec, or the default
MEMBERS = ("linear", "forest", "mondrian", "neighbors")
ANSWERS = ("linear", "pool")  # what a classifier's answer mixes
# The share of each member's probabilities spread evenly over the known classes, so that
# one member's certainty that the truth is impossible cannot veto the pool.
SMOOTHING = 0.02
_HUGE = 1e300


@nb.njit(cache=True)
def serve_many(predictions, targets, losses, decay, eta, kind, learn, out):
    """Events in order: each answered by the predictions mixed with weights
    exp(-eta·L) (``eta`` 0: the one with the lower L alone) into ``out``; then, with
    ``learn``, each one's loss on it joins its faded sum L. ``predictions[e, i]``: the
    i-th prediction (a probability of True, a row of class probabilities, or a value);
    targets are labels, class ids or values."""
    weights = np.zeros(predictions.shape[1])
    for e in range(predictions.shape[0]):
        _weights(losses, eta, weights)
        out[e, :] = 0.0
        for i in range(predictions.shape[1]):
            out[e, :] += weights[i] * predictions[e, i, :]
        if not learn:
            continue
        for i in range(predictions.shape[1]):
            if kind == REGRESSION:
                loss = (predictions[e, i, 0] - targets[e]) ** 2
            else:
                loss = -math.log(_probability_of(predictions[e, i], targets[e], kind))
            losses[i] = min(decay * losses[i] + loss, _HUGE)


@nb.njit(inline="always")
def _probability_of(prediction, target, kind):
    """The probability a prediction gives the target, clipped above zero."""
    if kind == MULTICLASS:
        p = prediction[int(target)]
    else:
        p = prediction[0] if target >= 0.5 else 1.0 - prediction[0]
    return min(max(p, PROBABILITY_CLIP), 1.0)


@nb.njit(inline="always")
def _weights(losses, eta, weights):
    best = 0
    for i in range(1, len(losses)):
        if losses[i] < losses[best]:
            best = i
    total = 0.0
    for i in range(len(losses)):
        if eta > 0.0:
            weights[i] = math.exp(-eta * (losses[i] - losses[best]))
        else:
            weights[i] = 1.0 if i == best else 0.0
        total += weights[i]
    for i in range(len(losses)):
        weights[i] /= total


@nb.njit(cache=True)
def pool_many(answers, targets, known, weights, rate, kind, learn, out):
    """Events in order: the members' class probabilities ``answers[e, i]`` (binary: the
    probability of True) pooled in a weighted geometric mean over the ``known[e]`` classes
    known when event e is answered, into ``out[e]``; then, with ``learn``, each member's
    weight takes a gradient step of size ``rate`` down the pool's log loss on the event,
    kept at zero or above."""
    n_members = answers.shape[1]
    width = 2 if kind == BINARY else answers.shape[2]
    logs = np.zeros((n_members, width))
    pooled = np.zeros(width)
    for e in range(answers.shape[0]):
        k = known[e]
        for i in range(n_members):
            for c in range(k):
                if kind == BINARY:
                    p = answers[e, i, 0] if c == 1 else 1.0 - answers[e, i, 0]
                else:
                    p = answers[e, i, c]
                logs[i, c] = math.log((1.0 - SMOOTHING) * min(max(p, 0.0), 1.0) + SMOOTHING / k)
        _geometric_mean(logs, weights, k, pooled)
        out[e, :] = 0.0
        if kind == BINARY:
            out[e, 0] = pooled[1]
        else:
            out[e, :k] = pooled[:k]
        if not learn:
            continue
        y = int(targets[e])
        if y >= k:
            continue  # a class no member knew
        for i in range(n_members):
            expected = 0.0
            for c in range(k):
                expected += pooled[c] * logs[i, c]
            weights[i] = max(weights[i] + rate * (logs[i, y] - expected), 0.0)


@nb.njit(inline="always")
def _geometric_mean(logs, weights, k, pooled):
    """exp(Σ_i w_i·log p_i(c)) over the first k classes, normalised."""
    top = -np.inf
    for c in range(k):
        pooled[c] = 0.0
        for i in range(logs.shape[0]):
            pooled[c] += weights[i] * logs[i, c]
        top = max(top, pooled[c])
    total = 0.0
    for c in range(k):
        pooled[c] = math.exp(pooled[c] - top)
        total += pooled[c]
    for c in range(k):
        pooled[c] /= total


class _Auto(EventByEvent, Learner):
    """What the three auto learners share (see the module doc): the members and their
    faded losses."""

    kind = BINARY
    member_task = Task.MULTICLASS  # a forest classifies two classes as any number

    def __init__(
        self,
        window: float,
        eta: float | None,
        seed: int,
        members: Mapping[str, Member],
    ) -> None:
        self.window = positive("window", window)
        if self.window < 1:
            raise ValueError(f"window must be at least 1 event, got {window!r}")
        self.eta = None if eta is None else positive("eta", eta)
        self.seed = int(seed)
        for name in MEMBERS:
            given = members.get(name)
            member = self._default(name) if given is None else as_learner(given)
            task = self.task if name == "linear" else self.member_task
            if member.task != task:
                raise ValueError(f"{name}: a {task} learner, not a {member.task} one")
            setattr(self, name, member)
        self.losses = np.zeros(len(self._answer_names()))

    @property
    def members(self) -> list[Learner]:
        return [getattr(self, name) for name in MEMBERS]

    def _default(self, name: str) -> Learner:
        """Member ``name`` by default, seeded by the seed."""
        raise NotImplementedError

    def _answer_names(self) -> tuple[str, ...]:
        """What the faded losses are kept for, in order."""
        return MEMBERS

    @property
    def weights(self) -> dict[str, float]:
        """The weight of each of :meth:`_answer_names` in the next event's answer."""
        weights = np.zeros(len(self.losses))
        _weights(self.losses, self.eta or 0.0, weights)
        return dict(zip(self._answer_names(), weights.tolist(), strict=True))

    @property
    def serving(self) -> str:
        """What weighs most in the next event's answer."""
        return self._answer_names()[int(np.argmin(self.losses))]

    def params(self) -> dict[str, Any]:
        specs = {n: {"kind": type(m).__name__, "params": m.params()} for n, m in self._named()}
        return {"window": self.window, "eta": self.eta, "seed": self.seed, **specs}

    def _named(self) -> list[tuple[str, Learner]]:
        return list(zip(MEMBERS, self.members, strict=True))

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"losses": self.losses.copy()}

    def state(self) -> State:
        arrays = self._arrays()
        metas = {}
        for name, member in self._named():
            inner = member.state()
            arrays |= nest({name: inner.arrays})
            metas[name] = inner.meta
        return State(type(self).__name__, self.params(), arrays, self._meta() | metas)

    @classmethod
    def from_state(cls, state: State) -> Self:
        if state.kind != cls.__name__:
            raise ValueError(f"state of a {state.kind} cannot make a {cls.__name__}")
        missing = [name for name in MEMBERS if name not in state.params]
        if missing:
            raise ValueError(f"auto state: no member {', '.join(missing)} (an older auto model)")
        model = cls(**state.params)
        for name in MEMBERS:
            spec = state.params[name]
            part = nested_part(state.arrays, name)
            member = State(spec["kind"], spec["params"], part, state.meta[name]).to_learner()
            setattr(model, name, member)
        model._load_arrays(state.arrays)
        model._load_meta(state.meta)
        return model

    def _load_arrays(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.losses = _fitting(arrays["losses"], self.losses, "losses")

    def _meta(self) -> dict[str, Any]:
        return {}

    def _load_meta(self, meta: Mapping[str, Any]) -> None:
        """Restore what :meth:`_meta` gave."""

    # ------------------------------------------------------------------ members' answers
    def _answers_one(self, x: Mapping[str, Any]) -> np.ndarray:
        """Each member's prediction for one event: shape (1, members, width)."""
        raise NotImplementedError

    def _answers_many(self, columns: Any, y: Any, learn: bool) -> np.ndarray:
        """Each member's predictions for a batch (learning it, with ``learn``)."""
        raise NotImplementedError

    def _targets(self, y: Any, n: int) -> np.ndarray:
        raise NotImplementedError

    def _serve(
        self, answers: np.ndarray, targets: np.ndarray, learn: bool, before: int
    ) -> np.ndarray:
        """The answers to a batch; ``before``: the classes known before its labels."""
        out = np.zeros((answers.shape[0], answers.shape[2]))
        decay = 1.0 - 1.0 / self.window
        eta = self.eta or 0.0
        serve_many(answers, targets, self.losses, decay, eta, self.kind, learn, out)
        return out

    def _n_known(self) -> int:
        """How many classes are known (a regressor: none to count)."""
        return 2

    def _score_one(self, x: Mapping[str, Any]) -> np.ndarray:
        answers = self._answers_one(x)
        return self._serve(answers, np.zeros(1), learn=False, before=self._n_known())[0]

    def learn_one(self, x: Mapping[str, Any], y: Any) -> None:
        before = self._n_known()
        targets = self._targets([y], 1)  # refused before anything changes
        answers = self._answers_one(x)
        for member in self.members:
            member.learn_one(x, y)
        self._serve(answers, targets, learn=True, before=before)

    def learn_many(self, X: Any, y: Any) -> None:
        self.predict_learn_many(X, y)

    def _run_many(self, X: Any, y: Any, learn: bool) -> np.ndarray:
        columns = as_columns(X)
        n = n_rows(columns)
        before = self._n_known()
        targets = self._targets(y, n) if learn else np.zeros(n)
        return self._serve(self._answers_many(columns, y, learn), targets, learn, before)


def _fitting(given: Any, current: np.ndarray, name: str) -> np.ndarray:
    """A restored array of ``current``'s shape, finite, or a clear error."""
    array = np.asarray(given, np.float64)
    if array.shape != current.shape or not np.isfinite(array).all():
        raise ValueError(f"auto state: the {name} do not fit")
    return array.copy()


class _Pooled(_Auto):
    """A classifier: its non-linear members pooled (see the module doc), and the answer a
    mix of the linear model and the pool."""

    def __init__(
        self,
        window: float,
        eta: float | None,
        seed: int,
        pool_rate: float,
        members: Mapping[str, Member],
    ) -> None:
        super().__init__(window, eta, seed, members)
        self.pool_rate = positive("pool_rate", pool_rate)
        self.pool = np.full(len(MEMBERS), 1.0 / len(MEMBERS))

    def _answer_names(self) -> tuple[str, ...]:
        return ANSWERS

    @property
    def pool_weights(self) -> dict[str, float]:
        """Each member's exponent in the pool's geometric mean."""
        return dict(zip(MEMBERS, self.pool.tolist(), strict=True))

    def params(self) -> dict[str, Any]:
        return super().params() | {"pool_rate": self.pool_rate}

    def _arrays(self) -> dict[str, np.ndarray]:
        return super()._arrays() | {"pool": self.pool.copy()}

    def _load_arrays(self, arrays: Mapping[str, np.ndarray]) -> None:
        super()._load_arrays(arrays)
        self.pool = _fitting(arrays["pool"], self.pool, "pool weights")

    def _serve(
        self, answers: np.ndarray, targets: np.ndarray, learn: bool, before: int
    ) -> np.ndarray:
        known = self._known(targets, before, learn)
        pooled = np.zeros((answers.shape[0], answers.shape[2]))
        pool_many(answers, targets, known, self.pool, self.pool_rate, self.kind, learn, pooled)
        top = np.stack([answers[:, 0], pooled], axis=1)
        return super()._serve(top, targets, learn, before)

    def _known(self, targets: np.ndarray, before: int, learn: bool) -> np.ndarray:
        """How many classes are known when each event is answered: ``before``, and each
        new label's class from the next event on (ids come in the order labels do)."""
        known = np.full(len(targets), before, np.int64)
        if learn and self.kind == MULTICLASS and len(targets) > 1:
            seen = np.maximum.accumulate(targets[:-1].astype(np.int64)) + 1
            known[1:] = np.maximum(seen, before)
        return known


def _classifier(name: str, seed: int, max_classes: int) -> Learner:
    """A classifier's non-linear member ``name`` by default."""
    if name == "forest":
        return AdaptiveRandomForestClassifier(seed=seed, max_classes=max_classes)
    if name == "mondrian":
        return AMFClassifier(seed=seed, max_classes=max_classes)
    return KNNClassifier(max_classes=max_classes)


@register
class AutoClassifier(_Pooled, Classifier):
    """Logistic regression, an adaptive random forest, an Aggregated Mondrian Forest and
    nearest neighbours for a binary target; each event is answered by the linear model, the
    pool of all four, or a mix, as their recent log losses say (see the module doc).

    Parameters
    ----------
    window
        About how many recent events the losses remember (each event's loss fades by
        ``1 - 1/window`` per event).
    eta
        How sharply the mix of the linear model and the pool follows their losses;
        ``None``: the better alone.
    seed
        Seeds the forests.
    pool_rate
        The step of the pool's weights down the gradient of its log loss, per event.
    linear, forest, mondrian, neighbors
        The members, or ``{"kind", "params"}`` specs (defaults: ``LogisticRegression()``,
        ``AdaptiveRandomForestClassifier(seed=seed)``, ``AMFClassifier(seed=seed)`` and
        ``KNNClassifier()``).

    Example
    -------
    Elec2, whether the price goes up, progressively validated:

    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> report = progressive_val_score_one(AutoClassifier(seed=42), elec2.stream(limit=5000))
    >>> round(report.metrics["accuracy"], 3)
    0.872
    """

    def __init__(
        self,
        window: float = 1000,
        eta: float | None = 0.1,
        seed: int = 0,
        pool_rate: float = 0.05,
        linear: Member = None,
        forest: Member = None,
        mondrian: Member = None,
        neighbors: Member = None,
    ) -> None:
        members = {"linear": linear, "forest": forest, "mondrian": mondrian}
        super().__init__(window, eta, seed, pool_rate, members | {"neighbors": neighbors})

    def _default(self, name: str) -> Learner:
        if name == "linear":
            return LogisticRegression()
        return _classifier(name, self.seed, MAX_CLASSES)

    def predict_proba_one(self, x: Mapping[str, Any]) -> dict[bool, float]:
        p = float(self._score_one(x)[0])
        return {False: 1.0 - p, True: p}

    def predict_proba_many(self, X: Any) -> np.ndarray:
        return self._run_many(X, None, learn=False)[:, 0]

    def predict_learn_many(self, X: Any, y: Any) -> np.ndarray:
        return self._run_many(X, y, learn=True)[:, 0]

    def _targets(self, y: Any, n: int) -> np.ndarray:
        targets = target_array(y, n)
        if not np.isin(targets, (0.0, 1.0)).all():
            raise ValueError("binary labels must be True/False or 1/0")
        return targets

    def _answers_one(self, x: Mapping[str, Any]) -> np.ndarray:
        linear = self.linear.predict_proba_one(x)[True]
        others = [m.predict_proba_one(x).get(True, 0.0) for m in self.members[1:]]
        return np.array([[[linear], *[[p] for p in others]]])

    def _answers_many(self, columns: Any, y: Any, learn: bool) -> np.ndarray:
        labels = target_array(y, n_rows(columns)) == 1.0 if learn else None
        linear = (
            self.linear.predict_learn_many(columns, labels)
            if learn
            else self.linear.predict_proba_many(columns)
        )
        answers = [linear]
        for member in self.members[1:]:
            if learn:
                proba = member.predict_learn_many(columns, labels)
            else:
                proba = member.predict_proba_many(columns)
            classes = member.classes
            answers.append(proba[:, classes.index(True)] if True in classes else 0 * linear)
        return np.stack(answers, axis=1)[:, :, None]


@register
class AutoMulticlass(_Pooled, MulticlassClassifier):
    """Softmax regression, an adaptive random forest, an Aggregated Mondrian Forest and
    nearest neighbours for classes (labels str, int or bool, new ones at any time); each
    event is answered by the linear model, the pool of all four, or a mix, as their recent
    log losses say (see the module doc).

    Parameters
    ----------
    window, eta, seed, pool_rate
        As in :class:`AutoClassifier`.
    max_classes
        At most this many classes.
    linear, forest, mondrian, neighbors
        The members, or ``{"kind", "params"}`` specs (defaults: ``SoftmaxRegression()``,
        ``AdaptiveRandomForestClassifier(seed=seed)``, ``AMFClassifier(seed=seed)`` and
        ``KNNClassifier()``, each with ``max_classes``).

    Example
    -------
    Elec2 as three classes (a demand peak, else the price's move), progressively:

    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> report = progressive_val_score_one(AutoMulticlass(seed=42), elec2.moves(limit=5000))
    >>> round(report.metrics["accuracy"], 3)
    0.804
    """

    kind = MULTICLASS

    def __init__(
        self,
        window: float = 1000,
        eta: float | None = 0.1,
        seed: int = 0,
        pool_rate: float = 0.05,
        max_classes: int = MAX_CLASSES,
        linear: Member = None,
        forest: Member = None,
        mondrian: Member = None,
        neighbors: Member = None,
    ) -> None:
        self.max_classes = int(max_classes)
        self.index = ClassIndex(limit=self.max_classes)
        members = {"linear": linear, "forest": forest, "mondrian": mondrian}
        super().__init__(window, eta, seed, pool_rate, members | {"neighbors": neighbors})

    def _default(self, name: str) -> Learner:
        if name == "linear":
            return SoftmaxRegression(max_classes=self.max_classes)
        return _classifier(name, self.seed, self.max_classes)

    def params(self) -> dict[str, Any]:
        return super().params() | {"max_classes": self.max_classes}

    @property
    def classes(self) -> list:
        return list(self.index.labels)

    def _n_known(self) -> int:
        return len(self.index)

    def _meta(self) -> dict[str, Any]:
        return {"classes": self.classes}

    def _load_meta(self, meta: Mapping[str, Any]) -> None:
        self.index = ClassIndex(list(meta.get("classes", [])), self.max_classes)

    def predict_proba_one(self, x: Mapping[str, Any]) -> dict[Any, float]:
        proba = self._score_one(x)
        return {label: float(p) for label, p in zip(self.index.labels, proba, strict=False)}

    def predict_proba_many(self, X: Any) -> np.ndarray:
        return self._run_many(X, None, learn=False)

    def predict_learn_many(self, X: Any, y: Any) -> np.ndarray:
        return self._run_many(X, y, learn=True)

    def _targets(self, y: Any, n: int) -> np.ndarray:
        labels = self.index.checked(y)
        if len(labels) != n:
            raise ValueError(f"expected {n} targets, got {len(labels)}")
        return self.index.ids(labels).astype(np.float64)

    def _aligned(self, proba: np.ndarray, classes: list) -> np.ndarray:
        """A member's probabilities in this model's class order."""
        out = np.zeros((len(proba), len(self.index)))
        for j, label in enumerate(classes[: proba.shape[1]]):
            out[:, self.index.id_of(label)] = proba[:, j]
        return out

    def _answers_one(self, x: Mapping[str, Any]) -> np.ndarray:
        rows = []
        for member in self.members:
            proba = member.predict_proba_one(x)
            rows.append([proba.get(label, 0.0) for label in self.index.labels])
        return np.array([rows]).reshape(1, len(rows), len(self.index))

    def _answers_many(self, columns: Any, y: Any, learn: bool) -> np.ndarray:
        answers = []
        for member in self.members:
            if learn:
                proba = member.predict_learn_many(columns, y)
            else:
                proba = member.predict_proba_many(columns)
            answers.append(self._aligned(np.asarray(proba), member.classes))
        return np.stack(answers, axis=1)


@register
class AutoRegressor(_Auto, Regressor):
    """Linear regression, an adaptive random forest, an Aggregated Mondrian Forest (on
    standardized numbers) and nearest neighbours for a number; each event is answered by
    the member whose recent squared error is lowest.

    Parameters
    ----------
    window, eta, seed
        As in :class:`AutoClassifier` (by default the member with the lowest squared
        error over about 1000 events answers alone; with ``eta``, the members' mix).
    linear, forest, mondrian, neighbors
        The members, or ``{"kind", "params"}`` specs (defaults: ``LinearRegression()``,
        ``AdaptiveRandomForestRegressor(seed=seed)``,
        ``AMFRegressor(seed=seed, standardize=True)`` and ``KNNRegressor()``).

    Example
    -------
    The demand of the Elec2 stream from its other columns, progressively validated:

    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> report = progressive_val_score_one(AutoRegressor(seed=42), elec2.demand(limit=5000))
    >>> round(report.metrics["mae"], 4)
    0.052
    """

    kind = REGRESSION
    member_task = Task.REGRESSION

    def __init__(
        self,
        window: float = 1000,
        eta: float | None = None,
        seed: int = 0,
        linear: Member = None,
        forest: Member = None,
        mondrian: Member = None,
        neighbors: Member = None,
    ) -> None:
        members = {"linear": linear, "forest": forest, "mondrian": mondrian}
        super().__init__(window, eta, seed, members | {"neighbors": neighbors})

    def _default(self, name: str) -> Learner:
        if name == "linear":
            return LinearRegression()
        if name == "forest":
            return AdaptiveRandomForestRegressor(seed=self.seed)
        if name == "mondrian":
            return AMFRegressor(seed=self.seed, standardize=True)
        return KNNRegressor()

    def predict_one(self, x: Mapping[str, Any]) -> float:
        return float(self._score_one(x)[0])

    def predict_many(self, X: Any) -> np.ndarray:
        return self._run_many(X, None, learn=False)[:, 0]

    def predict_learn_many(self, X: Any, y: Any) -> np.ndarray:
        return self._run_many(X, y, learn=True)[:, 0]

    def _targets(self, y: Any, n: int) -> np.ndarray:
        if isinstance(y, list) and len(y) == 1:
            return np.array([regression_target(y[0])])
        targets = target_array(y, n)
        if not np.isfinite(targets).all():
            raise ValueError("regression targets must be finite numbers")
        return targets

    def _answers_one(self, x: Mapping[str, Any]) -> np.ndarray:
        return np.array([[[m.predict_one(x)] for m in self.members]])

    def _answers_many(self, columns: Any, y: Any, learn: bool) -> np.ndarray:
        if learn:
            targets = target_array(y, n_rows(columns))
            answers = [m.predict_learn_many(columns, targets) for m in self.members]
        else:
            answers = [m.predict_many(columns) for m in self.members]
        return np.stack(answers, axis=1)[:, :, None]
