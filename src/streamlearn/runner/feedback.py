"""Labels that do not come with their event: labels that came before it (two topics read
side by side), and a multi-task model's feedback per task, collected while its event waits
and learned when the event's window closes; and where in the stream a drift was detected.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from streamlearn.base import MultiTask
from streamlearn.runner.schedule import LABEL, Operations
from streamlearn.streams import EventBatch


class EarlyLabels:
    """Labels by id for events not served yet: each waits up to ``ttl`` for its event, which
    then arrives with it; a label whose wait is over is late.

    Parameters
    ----------
    ttl
        How long a label waits for its event.

    Example
    -------
    >>> import numpy as np
    >>> early = EarlyLabels(ttl=10.0)
    >>> early.hold(np.array(["a"], object), np.array([1.0]), now=0.0)
    >>> len(early), early.arrays()["values"].tolist()
    (1, [[1.0, 10.0]])
    """

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.held: dict[Any, tuple[float, float]] = {}  # id → (label, wait until key)

    def __len__(self) -> int:
        return len(self.held)

    def hold(self, ids: np.ndarray, labels: np.ndarray, now: float) -> None:
        for event_id, label in zip(ids.tolist(), labels.tolist(), strict=True):
            self.held[event_id] = (label, now + self.ttl)

    def hold_same_batch(self, batch: EventBatch) -> EventBatch:
        """A label by id for an event of this very batch (it came after the event, within
        one micro-batch) is that event's label: held, so the event claims it; feedback is
        otherwise learned before the batch's events, which would miss it. Returns the batch
        without those labels (ids name one event each)."""
        if not (batch.has_feedback and len(batch)):
            return batch
        events = set(batch.ids.tolist())
        labels = np.asarray(batch.feedback_labels, np.float64)
        mine = np.array([i in events for i in batch.feedback_ids.tolist()]) & np.isfinite(labels)
        if not mine.any():
            return batch
        self.hold(batch.feedback_ids[mine], labels[mine], batch.keys[-1])
        return batch.without_feedback(mine)

    def claim(self, batch: EventBatch, delays: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """The batch's labels and delays, with early labels claimed by their events (delay
        0); and how many early labels waited in vain (dropped: their id is unknown)."""
        labels = batch.labels
        if not self.held:
            return labels, delays, 0
        labels, delays = labels.copy(), delays.copy()
        for i, event_id in enumerate(batch.ids.tolist()):
            held = self.held.pop(event_id, None)
            if held is not None and not np.isfinite(labels[i]):
                labels[i], delays[i] = held[0], 0.0
        horizon = batch.keys[-1] if len(batch) else (batch.clock or -math.inf)
        horizon = math.inf if batch.drain else horizon  # the stream ended: no event comes
        gone = [k for k, (_, until) in self.held.items() if until < horizon]
        for event_id in gone:
            del self.held[event_id]
        return labels, delays, len(gone)

    def arrays(self) -> dict[str, np.ndarray]:
        held = list(self.held.items())
        values = np.array([v for _, v in held], np.float64).reshape(-1, 2)
        return id_arrays([k for k, _ in held]) | {"values": values}

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        values = arrays.get("values", [])
        self.held = {
            k: (float(v[0]), float(v[1])) for k, v in zip(ids_back(arrays), values, strict=True)
        }


class ClosedIds:
    """Ids of events whose wait ended (a label learned, or the TTL) within the last ``ttl``:
    a label for one of them is *late*; a label whose id no event had, even after waiting
    ``ttl`` for it, is *unknown*. At most ``limit`` ids are kept (the oldest go first), so
    memory stays bounded whatever the stream does.

    Parameters
    ----------
    ttl
        How long an id is remembered after its wait ended (the lane's TTL).
    limit
        The most ids remembered.

    Example
    -------
    >>> import numpy as np
    >>> closed = ClosedIds(ttl=10.0)
    >>> closed.close(np.array(["a", "b"], object), np.array([1.0, 2.0]))
    >>> closed.forget(horizon=11.5)  # a's memory ends at 11
    >>> closed.known(np.array(["a", "b", "c"], object)).tolist()
    [False, True, False]
    """

    def __init__(self, ttl: float, limit: int = 1_000_000) -> None:
        self.ttl, self.limit = ttl, limit
        self.until: dict[Any, float] = {}  # id → remembered until (oldest first)

    def __len__(self) -> int:
        return len(self.until)

    def close(self, ids: np.ndarray, keys: np.ndarray) -> None:
        """The events ``ids`` ended their wait at ``keys`` (in stream order)."""
        if not len(ids):
            return
        ids_list = ids.tolist()
        for event_id in ids_list:  # a closed id closes again: it moves to the end
            self.until.pop(event_id, None)
        untils = (np.asarray(keys, np.float64) + self.ttl).tolist()
        self.until.update(zip(ids_list, untils, strict=True))
        while len(self.until) > self.limit:
            del self.until[next(iter(self.until))]

    def forget(self, horizon: float) -> None:
        """Drop the ids remembered until before ``horizon``."""
        while self.until:
            first = next(iter(self.until))
            if self.until[first] >= horizon:
                return
            del self.until[first]

    def known(self, ids: np.ndarray) -> np.ndarray:
        """Which of ``ids`` are remembered."""
        return np.array([i in self.until for i in ids.tolist()], bool)

    def arrays(self) -> dict[str, np.ndarray]:
        return id_arrays(list(self.until)) | {
            "until": np.array(list(self.until.values()), np.float64)
        }

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        until = np.asarray(arrays.get("until", []), np.float64).tolist()
        self.until = dict(zip(ids_back(arrays), until, strict=True))


class TaskFeedback:
    """A multi-task model's feedback (:class:`~streamlearn.base.MultiTask`): each event's
    labels per task wait with it until its window (``ttl`` after the feedback came) closes;
    then the event is learned with what came.

    Parameters
    ----------
    ttl
        The feedback window: how long after its event's first feedback more may come.

    Example
    -------
    >>> feedback = TaskFeedback(ttl=60.0)
    >>> feedback.ttl, feedback.collected
    (60.0, {})
    """

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.collected: dict[Any, tuple[float, dict[str, float]]] = {}  # id → (until, labels)
        self.engagement: dict[Any, float] = {}  # id → what came, for the events learned now
        self.silent = 0  # of the windows closed now, those that got no feedback at all

    def collect(
        self, batch: EventBatch, tasks: tuple[str, ...], horizon: float
    ) -> tuple[EventBatch, int]:
        """Keep the batch's feedback (a finite number for a known task; anything else is
        rejected). In-row labels mean nothing to a multi-task model. Returns the batch
        without either, and how many pieces were rejected."""
        rejected = 0
        if batch.has_feedback:
            given = batch.feedback_tasks
            given = [None] * len(batch.feedback_ids) if given is None else given.tolist()
            labels = np.asarray(batch.feedback_labels, np.float64).tolist()
            for event_id, task, label in zip(
                batch.feedback_ids.tolist(), given, labels, strict=True
            ):
                if task not in tasks or not math.isfinite(label):
                    rejected += 1
                    continue
                self.collected.setdefault(event_id, (horizon + self.ttl, {}))[1][task] = label
        nothing = np.full(len(batch), np.nan)
        batch = replace(
            batch, labels=nothing, feedback_ids=None, feedback_labels=None, feedback_tasks=None
        )
        return batch, rejected

    def drop_stale(self, horizon: float) -> np.ndarray:
        """An event's window closes at most ttl after any of its feedback came: feedback
        still here once every window closing before ``horizon`` was learned had no event
        waiting (an unknown id, or its window had closed). Returns the ids of that feedback."""
        stale = [k for k, (until, _) in self.collected.items() if until < horizon]
        for event_id in stale:
            del self.collected[event_id]
        return np.array(stale, dtype=object)

    def window_targets(self, model: MultiTask, ids: np.ndarray, learns: np.ndarray) -> np.ndarray:
        """The labels of each step: for an event learned at its window's close, the feedback
        collected for it (taken); NaN rows for the rest."""
        targets = np.full((len(ids), len(model.tasks)), np.nan)
        picked = np.flatnonzero(learns)
        feedback = [self.collected.pop(i, (0.0, {}))[1] for i in ids[picked].tolist()]
        self.silent = sum(not got for got in feedback)
        targets[picked] = model.window_labels(feedback)
        scores = model.engagement(targets[picked]).tolist()
        self.engagement = dict(zip(ids[picked].tolist(), scores, strict=True))
        return targets

    def arrays(self) -> dict[str, np.ndarray]:
        """The feedback still waiting: one row per (event, task)."""
        rows = [
            (k, task, until, value)
            for k, (until, got) in self.collected.items()
            for task, value in got.items()
        ]
        return id_arrays([r[0] for r in rows]) | {
            "tasks": np.array([r[1] for r in rows], dtype=str),
            "values": np.array([r[2:] for r in rows], np.float64).reshape(-1, 2),
        }

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.collected = {}
        rows = zip(ids_back(arrays), arrays.get("tasks", []), arrays.get("values", []), strict=True)
        for event_id, task, (until, value) in rows:
            got = self.collected.setdefault(event_id, (float(until), {}))[1]
            got[str(task)] = float(value)


def without_task_feedback(batch: EventBatch) -> tuple[EventBatch, int]:
    """Feedback for a task means nothing to a one-task model: the batch without it, and how
    many pieces were rejected."""
    if batch.feedback_tasks is None or not batch.has_feedback:
        return batch, 0
    tasked = np.array([t is not None for t in batch.feedback_tasks.tolist()], bool)
    if not tasked.any():
        return batch, 0
    return batch.without_feedback(tasked), int(tasked.sum())


def id_arrays(ids: list) -> dict[str, np.ndarray]:
    """Event ids (text or integers) as arrays for a checkpoint: their text, and which were
    integers (so that they come back as the same keys)."""
    return {
        "ids": np.array([str(i) for i in ids], dtype=str),
        "int_ids": np.array([isinstance(i, int | np.integer) for i in ids], bool),
    }


def ids_back(arrays: dict[str, np.ndarray]) -> list:
    ids = arrays.get("ids", [])
    ints = arrays.get("int_ids", np.zeros(len(ids), bool))  # older checkpoints: text
    return [int(i) if is_int else str(i) for i, is_int in zip(ids, ints, strict=True)]


def step_places(
    is_serve: np.ndarray,
    index: np.ndarray,
    due: Operations,
    due_offsets: np.ndarray,
    batch: EventBatch,
) -> tuple[np.ndarray, np.ndarray]:
    """The offset and key (time) of each step of a merged order: a serve's event, or the
    event a due label (or expiry) is for, at the key it arrived (a label by id arrived
    before the batch's first event; ``due_offsets``: the offset of each due operation's
    event)."""
    offsets, keys = np.empty(len(index), np.int64), np.empty(len(index))
    serves, dues = index[is_serve], index[~is_serve]
    offsets[is_serve], keys[is_serve] = batch.offsets[serves], batch.keys[serves]
    arrived = batch.keys[0] if len(batch) else (batch.clock if batch.clock is not None else -np.inf)
    offsets[~is_serve] = due_offsets[dues]
    keys[~is_serve] = np.where(np.isfinite(due.keys[dues]), due.keys[dues], arrived)
    return offsets, keys


def stamp_drifts(
    records: list[dict[str, Any]],
    seen: int,
    learned_steps: np.ndarray,
    offsets: np.ndarray,
    keys: np.ndarray,
) -> None:
    """Drift records made in one call get where and when: the label that tipped the detector
    (its ``index`` counts the labels learned, ``seen`` of them before the call), its event's
    offset, the key (time) at which the label arrived, and the wall-clock time."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    for record in records:
        position = int(record["index"]) - seen
        if 0 <= position < len(learned_steps):
            step = int(learned_steps[position])
            record.update(offset=int(offsets[step]), time=float(keys[step]), detected_at=now)


def feedback_operations(batch: EventBatch) -> tuple[Operations, int]:
    """The batch's labels for earlier events, by id, as operations before its events; and
    how many were dropped (a label that is not a finite number)."""
    labels = np.asarray(batch.feedback_labels, np.float64)
    good = np.isfinite(labels)
    n = int(good.sum())
    operations = Operations(
        np.full(n, -math.inf),
        np.full(n, LABEL, np.int8),
        np.full(n, -1, np.int64),
        batch.feedback_ids[good],
        labels[good],
    )
    return operations, int((~good).sum())
