"""A linear model and an adaptive random forest side by side: both learn every event, and
each event is answered by a mix of the two that follows their recent progressive losses.

Each member predicts every event before learning it; its loss on the event joins a faded
sum L ← (1 - 1/window)·L + loss (log loss for classes, squared error for numbers). The
next event's answer mixes the members' with weights exp(-eta·L) (a classifier mixes its
members' probabilities); without ``eta`` (the regressor's default: squared errors have
no common scale) the member with the lower L answers alone, the linear model on a tie.
On sparse, high-dimensional streams (clicks) the linear model carries the answer; on
streams of thresholds and interactions the forest takes over once it has learned enough;
when a drift upsets one, the other answers.

>>> from streamlearn.models import AutoClassifier
>>> model = AutoClassifier(window=200)
>>> for i in range(3000):
...     x = {"a": (i * 7919) % 100 / 100, "b": (i * 104729) % 100 / 100}
...     model.learn_one(x, (x["a"] > 0.5) != (x["b"] > 0.5))  # no line separates it
>>> model.serving
'forest'
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
from streamlearn.models.tree import (
    AdaptiveRandomForestClassifier,
    AdaptiveRandomForestRegressor,
)
from streamlearn.models.tree.base import positive

BINARY, MULTICLASS, REGRESSION = 0, 1, 2
MEMBERS = ("linear", "forest")
_HUGE = 1e300


@nb.njit(cache=True)
def serve_many(predictions, targets, losses, decay, eta, kind, learn, out):
    """Events in order: each answered by the members' predictions mixed with weights
    exp(-eta·L) (``eta`` 0: the member with the lower L alone) into ``out``; then, with
    ``learn``, each member's loss on it joins its faded sum L. ``predictions[e, i]``:
    member i's prediction (a probability of True, a row of class probabilities, or a
    value); targets are labels, class ids or values."""
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
                p = (
                    predictions[e, i, int(targets[e])]
                    if kind == MULTICLASS
                    else (predictions[e, i, 0] if targets[e] >= 0.5 else 1.0 - predictions[e, i, 0])
                )
                loss = -math.log(min(max(p, PROBABILITY_CLIP), 1.0))
            losses[i] = min(decay * losses[i] + loss, _HUGE)


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


class _Auto(EventByEvent, Learner):
    """What the three auto learners share (see the module doc): two members and their
    faded losses."""

    kind = BINARY
    make_linear: type[Learner]
    make_forest: type[Learner]
    forest_task = Task.MULTICLASS  # a forest classifies two classes as any number

    def __init__(
        self,
        window: float = 200,
        eta: float | None = 0.1,
        seed: int = 0,
        linear: Learner | Mapping[str, Any] | None = None,
        forest: Learner | Mapping[str, Any] | None = None,
    ) -> None:
        self.window = positive("window", window)
        if self.window < 1:
            raise ValueError(f"window must be at least 1 event, got {window!r}")
        self.eta = None if eta is None else positive("eta", eta)
        self.seed = int(seed)
        self.linear = self.make_linear() if linear is None else as_learner(linear)
        self.forest = self.make_forest(seed=self.seed) if forest is None else as_learner(forest)
        tasks = (self.task, self.forest_task)
        for name, member, task in zip(MEMBERS, self.members, tasks, strict=True):
            if member.task != task:
                raise ValueError(f"{name}: a {task} learner, not a {member.task} one")
        self.losses = np.zeros(len(MEMBERS))

    @property
    def members(self) -> list[Learner]:
        return [self.linear, self.forest]

    @property
    def weights(self) -> dict[str, float]:
        """Each member's weight in the next event's answer."""
        weights = np.zeros(len(MEMBERS))
        _weights(self.losses, self.eta or 0.0, weights)
        return dict(zip(MEMBERS, weights.tolist(), strict=True))

    @property
    def serving(self) -> str:
        """The member that weighs most in the next event's answer."""
        return MEMBERS[int(np.argmin(self.losses))]

    def params(self) -> dict[str, Any]:
        specs = {n: {"kind": type(m).__name__, "params": m.params()} for n, m in self._named()}
        return {"window": self.window, "eta": self.eta, "seed": self.seed, **specs}

    def _named(self) -> list[tuple[str, Learner]]:
        return list(zip(MEMBERS, self.members, strict=True))

    def state(self) -> State:
        arrays: dict[str, np.ndarray] = {"losses": self.losses.copy()}
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
        model = cls(**state.params)
        for name in MEMBERS:
            spec = state.params[name]
            part = nested_part(state.arrays, name)
            member = State(spec["kind"], spec["params"], part, state.meta[name]).to_learner()
            setattr(model, name, member)
        losses = np.asarray(state.arrays["losses"], np.float64)
        if losses.shape != model.losses.shape or not np.isfinite(losses).all():
            raise ValueError("auto state: the members' losses do not fit")
        model.losses = losses.copy()
        model._load_meta(state.meta)
        return model

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

    def _serve(self, answers: np.ndarray, targets: np.ndarray, learn: bool) -> np.ndarray:
        out = np.zeros((answers.shape[0], answers.shape[2]))
        decay = 1.0 - 1.0 / self.window
        eta = self.eta or 0.0
        serve_many(answers, targets, self.losses, decay, eta, self.kind, learn, out)
        return out

    def _score_one(self, x: Mapping[str, Any]) -> np.ndarray:
        return self._serve(self._answers_one(x), np.zeros(1), learn=False)[0]

    def learn_one(self, x: Mapping[str, Any], y: Any) -> None:
        targets = self._targets([y], 1)  # refused before anything changes
        answers = self._answers_one(x)
        for member in self.members:
            member.learn_one(x, y)
        self._serve(answers, targets, learn=True)

    def learn_many(self, X: Any, y: Any) -> None:
        self.predict_learn_many(X, y)

    def _run_many(self, X: Any, y: Any, learn: bool) -> np.ndarray:
        columns = as_columns(X)
        n = n_rows(columns)
        targets = self._targets(y, n) if learn else np.zeros(n)
        return self._serve(self._answers_many(columns, y, learn), targets, learn)


@register
class AutoClassifier(_Auto, Classifier):
    """Logistic regression and an adaptive random forest for a binary target; each event
    is answered by the one whose recent log loss is lower.

    Parameters
    ----------
    window
        About how many recent events the losses remember (each event's loss fades by
        ``1 - 1/window`` per event).
    eta
        How sharply the mix follows the losses; ``None``: the better member alone.
    seed
        Seeds the forest.
    linear, forest
        The members, or ``{"kind", "params"}`` specs (defaults: ``LogisticRegression()``
        and ``AdaptiveRandomForestClassifier(seed=seed)``).

    Example
    -------
    Elec2, whether the price goes up, progressively validated:

    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> report = progressive_val_score_one(AutoClassifier(seed=42), elec2.stream(limit=5000))
    >>> round(report.metrics["accuracy"], 3)
    0.862
    """

    make_linear = LogisticRegression
    make_forest = AdaptiveRandomForestClassifier

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
        forest = self.forest.predict_proba_one(x).get(True, 0.0)
        return np.array([[[linear], [forest]]])

    def _answers_many(self, columns: Any, y: Any, learn: bool) -> np.ndarray:
        if learn:
            labels = target_array(y, n_rows(columns)) == 1.0
            linear = self.linear.predict_learn_many(columns, labels)
            proba = self.forest.predict_learn_many(columns, labels)
        else:
            linear = self.linear.predict_proba_many(columns)
            proba = self.forest.predict_proba_many(columns)
        classes = self.forest.classes
        forest = proba[:, classes.index(True)] if True in classes else np.zeros(len(linear))
        return np.stack([linear, forest], axis=1)[:, :, None]


@register
class AutoMulticlass(_Auto, MulticlassClassifier):
    """Softmax regression and an adaptive random forest for classes (labels str, int or
    bool, new ones at any time); each event is answered by the one whose recent log loss
    is lower.

    Parameters
    ----------
    window, eta, seed
        As in :class:`AutoClassifier`.
    max_classes
        At most this many classes.
    linear, forest
        The members, or ``{"kind", "params"}`` specs (defaults: ``SoftmaxRegression()`` and
        ``AdaptiveRandomForestClassifier(seed=seed)``).

    Example
    -------
    Elec2 as three classes (a demand peak, else the price's move), progressively:

    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> report = progressive_val_score_one(AutoMulticlass(seed=42), elec2.moves(limit=5000))
    >>> round(report.metrics["accuracy"], 3)
    0.787
    """

    kind = MULTICLASS
    make_linear = SoftmaxRegression
    make_forest = AdaptiveRandomForestClassifier

    def __init__(
        self,
        window: float = 200,
        eta: float | None = 0.1,
        seed: int = 0,
        max_classes: int = MAX_CLASSES,
        linear: Learner | Mapping[str, Any] | None = None,
        forest: Learner | Mapping[str, Any] | None = None,
    ) -> None:
        self.max_classes = int(max_classes)
        self.index = ClassIndex(limit=self.max_classes)
        if forest is None:
            forest = AdaptiveRandomForestClassifier(seed=int(seed), max_classes=self.max_classes)
        if linear is None:
            linear = SoftmaxRegression(max_classes=self.max_classes)
        super().__init__(window, eta, seed, linear, forest)

    def params(self) -> dict[str, Any]:
        return super().params() | {"max_classes": self.max_classes}

    @property
    def classes(self) -> list:
        return list(self.index.labels)

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
    """Linear regression and an adaptive random forest for a number; each event is
    answered by the one whose recent squared error is lower.

    Parameters
    ----------
    window, eta, seed
        As in :class:`AutoClassifier` (by default the member with the lower squared
        error over about 1000 events answers alone).
    linear, forest
        The members, or ``{"kind", "params"}`` specs (defaults: ``LinearRegression()`` and
        ``AdaptiveRandomForestRegressor(seed=seed)``).

    Example
    -------
    The demand of the Elec2 stream from its other columns, progressively validated:

    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> report = progressive_val_score_one(AutoRegressor(seed=42), elec2.demand(limit=5000))
    >>> round(report.metrics["mae"], 4)
    0.0521
    """

    kind = REGRESSION
    forest_task = Task.REGRESSION
    make_linear = LinearRegression
    make_forest = AdaptiveRandomForestRegressor

    def __init__(
        self,
        window: float = 1000,
        eta: float | None = None,
        seed: int = 0,
        linear: Learner | Mapping[str, Any] | None = None,
        forest: Learner | Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(window, eta, seed, linear, forest)

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
