"""An engagement ranker: several online models (click, like, dwell…) on one shared
featurization, a weighted score, and ``rank(candidates)``.

Each event's features (the user's context with the candidate's) are hashed once; every task
has its own linear head (logistic for 0/1 tasks, linear for amounts) on those rows. An event
may carry labels for some tasks only (a like is known only after a click): the others just
predict. The ranking score is Σ weight_task · prediction_task. Feedback comes later, per
task, by impression id: the runner (a lane with a finite ``ttl``: the feedback window)
holds each served impression, collects its feedback, and learns it when the window closes,
with ``defaults`` for tasks that got none (no click within the window is a 0); see
:meth:`EngagementRanker.run_ops`. :class:`FeedbackBuffer` does the same in process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np

from streamlearn.base import (
    LEARN,
    PREDICT,
    PREDICT_LEARN,
    Learner,
    Mixable,
    MultiTask,
    ServedByCopies,
    ServesRows,
    State,
    Task,
    register,
)
from streamlearn.base.state import nest, nested_part
from streamlearn.features.columns import as_columns, n_rows
from streamlearn.features.hasher import FeatureHasher
from streamlearn.models.hashed import HashedModel
from streamlearn.models.linear import LinearRegression, LogisticRegression

HEADS = {"binary": LogisticRegression, "regression": LinearRegression}


@register
class EngagementRanker(HashedModel, ServesRows, ServedByCopies, MultiTask, Mixable):
    """Multi-task online ranking.

    Parameters
    ----------
    tasks
        Task name → ``binary`` or ``regression``.
    weights
        Task name → its weight in the ranking score (default 1 each).
    defaults
        Task name → its label when an impression's feedback window closes without feedback
        for it (``{"click": 0}``: no click is a 0); other tasks then stay unknown.
    optimizer
        The heads' optimizer (see :class:`~streamlearn.models.LogisticRegression`).
    features
        The featurization the heads share: a :class:`~streamlearn.features.FeatureHasher`,
        or its settings as a dict.
    **feature_settings
        The featurizer's settings one by one instead (``bits=18``, ``interactions=[...]``, …).

    Example
    -------
    >>> from streamlearn.datasets import synth
    >>> events, labels = synth.timeline(20_000, seed=1)
    >>> ranker = EngagementRanker({"click": "binary", "like": "binary", "dwell": "regression"},
    ...                           weights={"click": 1.0, "like": 2.0, "dwell": 0.1})
    >>> _ = ranker.predict_learn_many(events, labels)
    >>> context = {"user": "u3", "hour": 20}
    >>> candidates = [{"post": f"p{i}", "topic": f"t{i % 8}", "author": f"a{i % 5}"}
    ...               for i in range(10)]
    >>> ranked = ranker.rank(context, candidates)
    >>> len(ranked), ranked[0][1] >= ranked[-1][1]
    (10, True)
    """

    task = Task.RANKING

    def __init__(
        self,
        tasks: Mapping[str, str],
        weights: Mapping[str, float] | None = None,
        defaults: Mapping[str, float] | None = None,
        optimizer: str | dict[str, Any] = "ftrl",
        features: FeatureHasher | Mapping[str, Any] | None = None,
        **feature_settings: Any,
    ) -> None:
        if not tasks or any(kind not in HEADS for kind in tasks.values()):
            raise ValueError(f"tasks: name → one of {sorted(HEADS)}")
        super().__init__(features, feature_settings)
        self.tasks = dict(tasks)
        self.weights = {name: float((weights or {}).get(name, 1.0)) for name in self.tasks}
        unknown = set(weights or {}) - set(self.tasks)
        if unknown:
            raise ValueError(f"weights for unknown tasks: {sorted(unknown)}")
        self.defaults = {name: float(v) for name, v in (defaults or {}).items()}
        if set(self.defaults) - set(self.tasks):
            raise ValueError(
                f"defaults for unknown tasks: {sorted(set(self.defaults) - set(self.tasks))}"
            )
        self.optimizer = optimizer
        self.heads: dict[str, Learner] = {
            name: HEADS[kind](optimizer, bits=self.features.bits)
            for name, kind in self.tasks.items()
        }

    def params(self) -> dict[str, Any]:
        return {
            "tasks": dict(self.tasks),
            "weights": dict(self.weights),
            "defaults": dict(self.defaults),
            "optimizer": self.optimizer,
            "features": self.features.params(),
        }

    # ------------------------------------------------------------------ state
    def state(self) -> State:
        arrays, meta = self.features.state()
        for name, head in self.heads.items():
            inner = head.state()
            # The heads share the ranker's featurizer: their own scalers are not kept.
            kept = {k: v for k, v in inner.arrays.items() if not k.startswith("scaler")}
            arrays |= nest({name: kept})
        return State(type(self).__name__, self.params(), arrays, meta)

    @classmethod
    def from_state(cls, state: State) -> Self:
        if state.kind != cls.__name__:
            raise ValueError(f"state of a {state.kind} cannot make a {cls.__name__}")
        model = cls(**state.params)
        model.features.load_state(state.arrays, state.meta)
        for name, head in model.heads.items():
            fresh = head.state()
            arrays = dict(fresh.arrays) | nested_part(state.arrays, name)
            model.heads[name] = type(head).from_state(
                State(fresh.kind, fresh.params, arrays, fresh.meta)
            )
        return model

    @property
    def mixable_arrays(self) -> list[str]:
        """What parameter mixing averages across workers: every head's weights."""
        return [f"{name}/{array}" for name in self.heads for array in ("table", "intercept")]

    # ------------------------------------------------------------------ labels
    def _labels(self, y: Any, n: int) -> dict[str, np.ndarray]:
        """Each task's labels (NaN: not known for that event)."""
        if isinstance(y, Mapping):
            unknown = set(y) - set(self.tasks)
            if unknown:
                raise ValueError(f"labels for unknown tasks: {sorted(unknown)}")
            out = {}
            for name in self.tasks:
                values = y.get(name)
                column = np.full(n, np.nan) if values is None else _floats(values, n, name)
                if (
                    self.tasks[name] == "binary"
                    and not np.isin(column[np.isfinite(column)], (0.0, 1.0)).all()
                ):
                    raise ValueError(f"task {name!r} is binary: labels must be 0/1")
                out[name] = column
            return out
        rows = list(y)
        if len(rows) != n:
            raise ValueError(f"expected {n} label dicts, got {len(rows)}")
        for row in rows:
            if isinstance(row, Mapping) and set(row) - set(self.tasks):
                raise ValueError(f"labels for unknown tasks: {sorted(set(row) - set(self.tasks))}")
        return self._labels(
            {
                name: [r.get(name) if isinstance(r, Mapping) else _bad(r) for r in rows]
                for name in self.tasks
            },
            n,
        )

    # ------------------------------------------------------------------ the loop
    def _step(self, hashes, values, labels: dict[str, np.ndarray] | None) -> dict:
        n = len(hashes)
        out = {}
        for name, head in self.heads.items():
            targets = labels[name] if labels is not None else np.full(n, np.nan)
            known = np.isfinite(targets)
            ops = np.where(known, PREDICT_LEARN, PREDICT).astype(np.int8)
            out[name] = head.run_ops(
                hashes, values, ops, np.arange(n), np.where(known, targets, 0.0)
            )
        return out

    def predict_learn_all(self, X: Any, y: Any) -> dict[str, np.ndarray]:
        """Each event's prediction for every task (before learning it), then its known
        labels learned, in order."""
        columns = as_columns(X)
        n = n_rows(columns)
        labels = self._labels(y, n)
        self._cached = None
        out = {name: np.empty(n) for name in self.tasks}
        for start, stop, hashes, values in self._encoded_chunks(columns, n, learn=True):
            part = self._step(hashes, values, {k: v[start:stop] for k, v in labels.items()})
            for name in self.tasks:
                out[name][start:stop] = part[name]
        return out

    def predict_all(self, X: Any) -> dict[str, np.ndarray]:
        """Every task's prediction for each event (nothing learned)."""
        columns = as_columns(X)
        n = n_rows(columns)
        out = {name: np.empty(n) for name in self.tasks}
        for start, stop, hashes, values in self._encoded_chunks(columns, n, learn=False):
            for name, head in self.heads.items():
                part = out[name][start:stop]
                head._run(hashes, values, part, part, False)
        return out

    def score(self, predictions: Mapping[str, np.ndarray]) -> np.ndarray:
        return sum(self.weights[name] * predictions[name] for name in self.tasks)

    # ------------------------------------------------------------------ the contract
    def learn_one(self, x: Mapping[str, Any], y: Mapping[str, Any]) -> None:
        labels = self._labels([y], 1)  # refused before anything changes
        event = self._encode(x)
        self._step(event.hashes[None, :], event.values[None, :], labels)
        self.features.learn_one(event)
        self._cached = None

    def predict_one(self, x: Mapping[str, Any]) -> float:
        event = self._encode(x)
        predictions = self._step(event.hashes[None, :], event.values[None, :], None)
        return float(self.score(predictions)[0])

    def learn_many(self, X: Any, y: Any) -> None:
        self.predict_learn_all(X, y)

    def predict_many(self, X: Any) -> np.ndarray:
        """The ranking score of each event."""
        return self.score(self.predict_all(X))

    def predict_learn_many(self, X: Any, y: Any) -> np.ndarray:
        return self.score(self.predict_learn_all(X, y))

    # ------------------------------------------------------------------ the runner
    def window_labels(self, feedback: Sequence[Mapping[str, float]]) -> np.ndarray:
        """The labels an impression is learned with when its feedback window closes: one
        row per impression, one column per task (in ``tasks`` order); a task without
        feedback takes its default, or stays unknown (NaN)."""
        table = np.full((len(feedback), len(self.tasks)), np.nan)
        for column, name in enumerate(self.tasks):
            fallback = self.defaults.get(name, np.nan)
            table[:, column] = [got.get(name, fallback) for got in feedback]
        return table

    def engagement(self, labels: np.ndarray) -> np.ndarray:
        """What the score estimates, as it happened: Σ weight · label over the known labels
        of each row of :meth:`window_labels` (an unknown one counts 0)."""
        weights = np.array([self.weights[name] for name in self.tasks])
        return np.nan_to_num(labels, nan=0.0) @ weights

    def run_ops(
        self,
        hashes: np.ndarray,
        values: np.ndarray,
        ops: np.ndarray,
        op_rows: np.ndarray,
        targets: np.ndarray,
    ) -> np.ndarray:
        """A runner schedule (see :meth:`LinearModel.run_ops`) whose targets are rows of
        :meth:`window_labels`: each head predicts every served row and learns the rows whose
        label it knows. Returns each operation's score (before its learning)."""
        ops = np.asarray(ops, np.int8)
        targets = np.asarray(targets, np.float64)
        if targets.ndim == 1 and not (ops != PREDICT).any():  # a schedule that only predicts
            targets = np.full((len(ops), len(self.tasks)), np.nan)
        targets = targets.reshape(len(ops), len(self.tasks))
        out = np.zeros(len(ops))
        for column, (name, head) in enumerate(self.heads.items()):
            target = np.where(ops == PREDICT, np.nan, targets[:, column])
            known = np.isfinite(target)
            head_ops = np.where(known, ops, PREDICT).astype(np.int8)
            runs = (ops != LEARN) | known  # a learn-only step with no label: nothing to do
            part = head.run_ops(
                hashes, values, head_ops[runs], op_rows[runs], np.where(known, target, 0.0)[runs]
            )
            out[runs] += self.weights[name] * part
        return out

    def rank(
        self, context: Mapping[str, Any], candidates: Sequence[Mapping[str, Any]]
    ) -> list[tuple[int, float]]:
        """Candidates (context merged into each) by score, best first: (index, score)."""
        if not candidates:
            return []
        events = [dict(context) | dict(c) for c in candidates]
        names = sorted({k for e in events for k in e})
        scores = self.predict_many({k: [e.get(k) for e in events] for k in names})
        order = np.argsort(-scores, kind="stable")
        return [(int(i), float(scores[i])) for i in order]


class FeedbackBuffer:
    """Served impressions wait here for their feedback; when an impression's window closes
    it is learned with what came (a task with no feedback: ``defaults``, by default the
    ranker's, or unknown). The runner does the same for a ranker whose ``labels.ttl`` is the
    window.

    Parameters
    ----------
    ranker
        The ranker that learns each impression when its window closes.
    window
        How long an impression waits for its feedback (in the units of its times).
    defaults
        A task's label when no feedback for it came (default: the ranker's).

    Example
    -------
    >>> ranker = EngagementRanker({"click": "binary", "dwell": "regression"}, bits=12)
    >>> buffer = FeedbackBuffer(ranker, window=60.0)
    >>> buffer.served("e1", {"user": "u1", "post": "p1"}, now=0.0)
    >>> buffer.served("e2", {"user": "u2", "post": "p2"}, now=30.0)
    >>> buffer.feedback("e1", "click", 1.0), buffer.feedback("e9", "click", 1.0)
    (True, False)
    >>> buffer.flush(now=61.0), len(buffer.waiting)  # e1's window has closed
    (1, 1)
    >>> len(ranker.rank({"user": "u1"}, [{"post": "p1"}, {"post": "p2"}]))
    2
    """

    def __init__(
        self, ranker: EngagementRanker, window: float, defaults: Mapping[str, float] | None = None
    ) -> None:
        self.ranker, self.window = ranker, window
        self.defaults = dict(ranker.defaults if defaults is None else defaults)
        self.waiting: dict[Any, tuple[float, dict, dict]] = {}

    def served(self, event_id: Any, features: Mapping[str, Any], now: float) -> None:
        self.waiting[event_id] = (now + self.window, dict(features), {})

    def feedback(self, event_id: Any, task: str, value: float) -> bool:
        """Record feedback; False if the impression is unknown or its window closed."""
        entry = self.waiting.get(event_id)
        if entry is None:
            return False
        if task not in self.ranker.tasks:
            raise ValueError(f"unknown task {task!r}")
        entry[2][task] = float(value)
        return True

    def flush(self, now: float) -> int:
        """Learn every impression whose window has closed; returns how many."""
        due = sorted(
            (deadline, key) for key, (deadline, _, _) in self.waiting.items() if deadline <= now
        )
        if not due:
            return 0
        events, labels = [], []
        for _, key in due:
            _, features, got = self.waiting.pop(key)
            events.append(features)
            labels.append(self.defaults | got)
        names = sorted({k for e in events for k in e})
        self.ranker.learn_many({k: [e.get(k) for e in events] for k in names}, labels)
        return len(due)


def _floats(values: Any, n: int, name: str) -> np.ndarray:
    column = np.array([np.nan if v is None else v for v in values], dtype=object)
    try:
        array = column.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"labels of task {name!r} must be numbers") from None
    if array.shape != (n,):
        raise ValueError(f"expected {n} labels for {name!r}")
    if np.isinf(array).any():
        raise ValueError(f"labels of task {name!r} must be finite")
    return array


def _bad(row: Any) -> Any:
    raise ValueError(f"each event's labels are a dict task → label, got {row!r}")
