"""What a lane keeps: its model, its place in the stream, its label join and labels in
flight, its metrics and counters, and how all of that goes into a checkpoint and comes back.
How a lane steps through a batch is :class:`~streamlearn.runner.lane.Lane`'s."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from typing import Any

import numpy as np

from streamlearn.base import Learner, MulticlassClassifier, ServesRows, Task, task_names
from streamlearn.base.accounting import COUNTERS
from streamlearn.base.losses import per_event_losses
from streamlearn.base.state import nest, nested_part
from streamlearn.evaluate import default_metrics
from streamlearn.evaluate.metrics import Metric
from streamlearn.runner.feedback import ClosedIds, EarlyLabels, TaskFeedback
from streamlearn.runner.join import JoinStore, JoinStoreMismatch, MemoryJoinStore, Rows
from streamlearn.runner.schedule import Operations
from streamlearn.streams.batch import (
    MAX_ABS_LABEL,
    EventBatch,
    binary_labels,
    bounded_labels,
    shown,
)
from streamlearn.streams.files import Reject

EXPIRY_POLICIES = ("drop", "default")
UNSAVED = "unsaved"  # the version of a model no registry holds


def check_servable(model: Learner) -> None:
    """Refuse a model the lanes cannot run."""
    if not isinstance(model, ServesRows):
        raise ValueError(f"{type(model).__name__} cannot run with delayed labels yet")


def check_lane(model: Learner, delay: float, ttl: float, expiry: str) -> None:
    """Refuse a lane that cannot run: a model the lanes cannot serve, a multi-task model
    without a finite feedback window, an unknown expiry policy, a negative delay."""
    check_servable(model)
    if task_names(model) and not math.isfinite(ttl):
        raise ValueError(
            "a multi-task model learns each event when its feedback window "
            "closes: give the window as a finite ttl (labels.ttl)"
        )
    if expiry not in EXPIRY_POLICIES:
        raise ValueError(f"expiry must be one of {EXPIRY_POLICIES}, got {expiry!r}")
    if expiry == "default" and isinstance(model, MulticlassClassifier):
        raise ValueError("a multiclass model learns no default class: use expiry = 'drop'")
    if not (delay >= 0 and ttl > 0):
        raise ValueError("need delay >= 0 and ttl > 0")


class Recent:
    """The last ``size`` labels a lane learned: rows as served, targets and the loss of the
    prediction each was served with (for rollback and promotion tests).

    Parameters
    ----------
    size
        How many of the newest labels are kept.
    keeps_rows
        Keep their rows even where that costs an encoding of its own (labels that come
        with their events): the rollback test scores earlier versions on them.

    Example
    -------
    >>> recent = Recent(3, keeps_rows=False)
    >>> recent.add(None, np.array([1.0, 0.0]), np.array([0.1, 0.7]))
    >>> recent.add(None, np.array([1.0, 1.0]), np.array([0.2, 0.3]))
    >>> recent.targets.tolist(), recent.losses.tolist()  # the newest three
    ([0.0, 1.0, 1.0], [0.7, 0.2, 0.3])
    """

    def __init__(self, size: int, keeps_rows: bool = True) -> None:
        self.size, self.keeps_rows = size, keeps_rows
        self.rows: list[Rows] | None = []  # None: not kept for every label (see add)
        self.targets = np.zeros(0)
        self.losses = np.zeros(0)

    def add(self, rows: Rows | None, targets: np.ndarray, losses: np.ndarray) -> None:
        """Labels learned, with their rows (None: not kept, and the older rows no longer
        match the labels kept)."""
        if rows is None:
            self.rows = None
        else:
            self._add_rows(rows)
        self.targets = np.concatenate([self.targets, targets])[-self.size :]
        self.losses = np.concatenate([self.losses, losses])[-self.size :]

    def _add_rows(self, rows: Rows) -> None:
        self.rows = [rows] if self.rows is None else [*self.rows, rows]
        kept, total = [], 0
        for part in reversed(self.rows):
            kept.append(part)
            total += len(part)
            if total >= self.size:
                break
        self.rows = kept[::-1]

    def stacked_rows(self) -> Rows:
        if self.rows is None or sum(len(r) for r in self.rows) < len(self.targets):
            raise ValueError("the recent labels' rows were not kept (see keeps_rows)")
        rows = Rows.stack(self.rows)
        return rows.take(np.arange(len(rows) - len(self.targets), len(rows)))


class LaneState:
    """A lane's state (see the module doc).

    Parameters
    ----------
    model
        The lane's learner (:class:`~streamlearn.base.ServesRows`).
    delay, ttl, expiry, default_label
        The run's label delay, how long an event waits for its label, what happens when
        it does not come (``drop``, or learn ``default_label``): as for
        :class:`~streamlearn.runner.Runner`.
    join
        Where served events wait for their labels (default: in memory).
    metrics
        The progressive metrics (default: the task's, see
        :func:`~streamlearn.evaluate.default_metrics`).
    window
        Events in the rolling metrics.
    recent, recent_rows
        Labels kept for the rollback and promotion tests, and whether their rows are kept
        (the rollback test needs them).
    curves
        Metrics over time (see :class:`~streamlearn.evaluate.curve.Curve`), fed as the
        metrics are.
    label_bounds
        The lowest and highest number label (not a binary or class label) taken; any other
        is a dead letter.
    name
        What logs, metrics and checkpoints call the lane (it keeps its name when promoted).

    Example
    -------
    >>> from streamlearn.models import LogisticRegression
    >>> from streamlearn.runner.lane import Lane
    >>> lane = Lane(LogisticRegression(bits=8), ttl=60.0, name="ftrl")
    >>> isinstance(lane, LaneState), lane.name, lane.ttl, lane.counters["served"]
    (True, 'ftrl', 60.0, 0)
    """

    def __init__(
        self,
        model: Learner,
        *,
        delay: float = 0.0,
        ttl: float = math.inf,
        expiry: str = "drop",
        default_label: float = 0.0,
        join: JoinStore | None = None,
        metrics: list[Metric] | None = None,
        window: int | None = 1000,
        recent: int = 2000,
        recent_rows: bool = True,
        curves: Sequence[Any] = (),
        label_bounds: tuple[float, float] = (-MAX_ABS_LABEL, MAX_ABS_LABEL),
        name: str = "champion",
    ) -> None:
        check_lane(model, delay, ttl, expiry)
        self.name = name
        low, high = (float(b) for b in label_bounds)
        if not low < high:
            raise ValueError(
                f"label_bounds must be (low, high) with low < high, got {label_bounds}"
            )
        self.label_bounds = (low, high)
        self.model = model
        self.delay, self.ttl, self.expiry, self.default_label = delay, ttl, expiry, default_label
        self.join = join if join is not None else MemoryJoinStore()
        # Rewards and a ranker's score (expected engagement) are scored as regressions.
        scored_as = model.task.scored_as
        self.metrics = metrics if metrics is not None else default_metrics(scored_as, window)
        self.recent = Recent(recent, recent_rows)
        self.curves = list(curves)
        self.pending = Operations.empty()
        self.early = EarlyLabels(ttl)
        self.closed = ClosedIds(ttl)  # to tell a late label from an unknown id
        self.feedback = TaskFeedback(ttl)  # a multi-task model's
        self.counters = dict.fromkeys(COUNTERS, 0)
        self.refused: list[Reject] = []  # labels turned away, for the dead letters
        self.offset = 0
        self.last_key = -math.inf
        self.version = UNSAVED  # the version of the model serving: see runner/versions.py

    def _coded(self, batch: EventBatch) -> EventBatch:
        """Labels as the numbers schedules carry: a multiclass model's as class ids, any
        other model's as numbers. A label of neither kind is rejected (a dead letter)."""
        low, high = self.label_bounds
        coded, kind = partial(bounded_labels, low=low, high=high), f"number in [{low:g}, {high:g}]"
        if isinstance(self.model, MulticlassClassifier):
            limit = self.model.index.limit
            coded, kind = self.model.class_codes, f"class label (of at most {limit} classes)"
        elif self.model.task == Task.BINARY:
            coded, kind = binary_labels, "binary label (0/1 or a bool)"
        labels, refused = coded(batch.labels)
        self.counters["rejected"] += int(refused.sum())
        for i in np.flatnonzero(refused).tolist():
            why = f"label {shown(batch.labels[i])} is not a {kind}"
            self.refused.append(Reject(int(batch.offsets[i]), why))
        feedback = batch.feedback_labels
        if batch.has_feedback:  # a bad one is NaN: counted as rejected when it is run
            feedback, refused = coded(np.asarray(feedback))
            kinds = np.full(len(feedback), kind, dtype=object)
            if self.tasks and batch.feedback_tasks is not None:
                binary = self._binary_tasks(batch.feedback_tasks)
                feedback[binary], refused[binary] = binary_labels(batch.feedback_labels[binary])
                kinds[binary] = "binary label (0/1 or a bool)"
            for i in np.flatnonzero(~np.isfinite(feedback)).tolist():
                label, event = batch.feedback_labels[i], batch.feedback_ids[i]
                problem = f"is not a {kinds[i]}" if refused[i] else "has no value"
                self.refused.append(Reject(-1, f"label {shown(label)} of {event!r} {problem}"))
        return replace(batch, labels=labels, feedback_labels=feedback)

    def _binary_tasks(self, tasks: np.ndarray) -> np.ndarray:
        """Which pieces of feedback are for one of a multi-task model's binary tasks."""
        binary = [name for name, kind in self.model.tasks.items() if kind == "binary"]
        return np.isin(np.asarray(tasks, dtype=object), np.array(binary, dtype=object))

    @property
    def tasks(self) -> tuple[str, ...]:
        return task_names(self.model)

    @property
    def learns_at_expiry(self) -> bool:
        """Under the ``default`` policy (and for a multi-task model: its window closed) an
        expired event is learned, with the default label (or the feedback that came)."""
        return self.expiry == "default" or bool(self.tasks)

    def _scored(self, targets, scored, rows: Rows | None, row_of: np.ndarray) -> None:
        """Labels score the predictions their events were served with (rows ``row_of``,
        if kept)."""
        for metric in (*self.metrics, *self.curves):
            metric.update_many(targets, scored)
        tail = slice(-self.recent.size, None)  # only the newest labels are kept
        self.recent.add(
            rows.take(row_of[tail]) if rows is not None else None,
            targets[tail],
            per_event_losses(self.model.task, targets[tail], scored[tail]),
        )

    # ------------------------------------------------------------------ state
    def metric_values(self) -> dict[str, float]:
        return {m.label: float(m.get()) for m in self.metrics if math.isfinite(m.get())}

    def arrays(self) -> dict[str, np.ndarray]:
        """What a checkpoint needs besides the model: waiting entries, labels in flight,
        metrics."""
        parts = {
            "join": self.join.checkpoint_arrays(self.offset),
            "pending": self.pending.arrays(),
            "early": self.early.arrays(),
            "closed": self.closed.arrays(),
            "collected": self.feedback.arrays(),
        }
        parts |= {f"metric{i}": metric.state() for i, metric in enumerate(self.metrics)}
        return nest(parts)

    def meta(self) -> dict[str, Any]:
        """The lane's place in the stream (call after :meth:`arrays`: the join store's count
        of waiting entries is taken once it has made itself consistent with the checkpoint)."""
        return {
            "name": self.name,
            "offset": self.offset,
            "last_key": self.last_key,
            "counters": self.counters,
            "waiting": len(self.join),
        }

    def restore(self, model: Learner, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        """Continue from a checkpoint's :meth:`arrays` and :meth:`meta`."""
        check_servable(model)
        self.model = model
        self.offset, self.last_key = int(meta["offset"]), float(meta["last_key"])
        self.name = str(meta.get("name", self.name))
        self.join.restore(nested_part(arrays, "join"), self.offset)
        self._check_waiting(int(meta.get("waiting", len(self.join))))
        pending = nested_part(arrays, "pending")
        self.pending = Operations.from_arrays(pending) if pending else Operations.empty()
        self.early.restore(nested_part(arrays, "early"))
        self.closed.restore(nested_part(arrays, "closed"))
        self.feedback.restore(nested_part(arrays, "collected"))
        for i, metric in enumerate(self.metrics):
            metric.load(nested_part(arrays, f"metric{i}"))
        self.counters = {k: int(meta["counters"].get(k, 0)) for k in COUNTERS}

    def _check_waiting(self, expected: int) -> None:
        """The join store must hold what the checkpoint says was waiting: a durable store's
        file deleted, emptied or swapped for another would lose labels silently."""
        found = len(self.join)
        if found != expected:
            raise JoinStoreMismatch(
                f"the join store ({self.join}) holds {found} entries waiting for labels at "
                f"offset {self.offset}, the checkpoint says {expected}: its file was deleted, "
                "replaced or damaged; put the right one back, or start a fresh registry"
            )

    def close(self) -> None:
        self.join.close()
