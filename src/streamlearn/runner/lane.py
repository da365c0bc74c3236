"""A lane: one model on the stream, with its own label join, schedule and metrics.

The runner feeds every lane the same micro-batches: the champion's lane serves, the
challengers' lanes learn and are scored in shadow. A lane turns a batch and the labels due
before its last event into one compiled schedule (see :mod:`streamlearn.runner.schedule`),
so its model ends exactly where event-by-event processing would leave it.

A multi-task model (one with ``tasks``, such as
:class:`~streamlearn.models.EngagementRanker`) gets its feedback per task, by id
(``feedback_tasks``): the lane collects it while the event waits in the join, and learns
the event when its feedback window (the TTL) closes, with everything that came
(``window_labels``). Feedback is collected at the grain of a micro-batch.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from streamlearn.base import (
    LEARN,
    PREDICT,
    PREDICT_LEARN,
    Learner,
    MulticlassClassifier,
    ReportsDrift,
    ServesRows,
    drift_records,
    task_names,
)
from streamlearn.base.losses import per_event_losses
from streamlearn.base.state import nest, nested_part
from streamlearn.evaluate import default_metrics
from streamlearn.evaluate.metrics import Metric
from streamlearn.runner.join import JoinStore, MemoryJoinStore, Rows
from streamlearn.runner.schedule import (
    EXPIRE,
    LABEL,
    LATE,
    Operations,
    label_operations,
    merged_order,
)
from streamlearn.streams.batch import EventBatch

EXPIRY_POLICIES = ("drop", "default")
COUNTERS = ("served", "learned", "expired", "late", "unlabeled", "rejected")


def check_servable(model: Learner) -> None:
    """Refuse a model the lanes cannot run."""
    if not isinstance(model, ServesRows):
        raise ValueError(f"{type(model).__name__} cannot run with delayed labels yet")
    if isinstance(model, MulticlassClassifier):
        raise ValueError("the runner takes binary and regression learners for now")


class Recent:
    """The last ``size`` labels a lane learned: rows as served, targets and the loss of the
    prediction each was served with (for rollback and promotion tests)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.rows: list[Rows] = []
        self.targets = np.zeros(0)
        self.losses = np.zeros(0)

    def add(self, rows: Rows, targets: np.ndarray, losses: np.ndarray) -> None:
        self.rows.append(rows)
        self.targets = np.concatenate([self.targets, targets])[-self.size :]
        self.losses = np.concatenate([self.losses, losses])[-self.size :]
        kept, total = [], 0
        for part in reversed(self.rows):
            kept.append(part)
            total += len(part)
            if total >= self.size:
                break
        self.rows = kept[::-1]

    def stacked_rows(self) -> Rows:
        rows = Rows.stack(self.rows)
        return rows.take(np.arange(len(rows) - len(self.targets), len(rows)))


class Lane:
    """One model's way through the stream (see the module doc)."""

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
    ) -> None:
        check_servable(model)
        if task_names(model) and not math.isfinite(ttl):
            raise ValueError(
                "a multi-task model learns each event when its feedback window "
                "closes: give the window as a finite ttl (labels.ttl)"
            )
        if expiry not in EXPIRY_POLICIES:
            raise ValueError(f"expiry must be one of {EXPIRY_POLICIES}, got {expiry!r}")
        if not (delay >= 0 and ttl > 0):
            raise ValueError("need delay >= 0 and ttl > 0")
        self.model = model
        self.delay, self.ttl, self.expiry, self.default_label = delay, ttl, expiry, default_label
        self.join = join if join is not None else MemoryJoinStore()
        # Rewards and a ranker's score (expected engagement) are scored as regressions.
        scored_as = model.task.scored_as
        self.metrics = metrics if metrics is not None else default_metrics(scored_as, window)
        self.recent = Recent(recent)
        self.pending = Operations.empty()
        self.early: dict[Any, tuple[float, float]] = {}  # id → (label, wait until key)
        self.collected: dict[Any, tuple[float, dict[str, float]]] = {}  # id → (until, labels)
        self._engagement: dict[Any, float] = {}  # id → what came, for the events learned now
        self.counters = dict.fromkeys(COUNTERS, 0)
        self.offset = 0
        self.last_key = -math.inf
        self.version = ""

    def step(self, batch: EventBatch) -> np.ndarray:
        """Serve one micro-batch and learn every label due before its last event; returns
        the predictions served."""
        delays = batch.delays if batch.delays is not None else np.full(len(batch), self.delay)
        batch = self._collect_task_feedback(batch) if self.tasks else self._untasked(batch)
        batch = self._hold_same_batch_feedback(batch)
        labels, delays = self._claim_early(batch, delays)
        new = label_operations(batch.keys, labels, batch.offsets, batch.ids, delays, self.ttl)
        waiting = self.pending + new
        cutoff = batch.keys[-1] if len(batch) else math.inf if batch.drain else batch.clock
        cutoff = -math.inf if cutoff is None else cutoff
        due_now = waiting.keys < cutoff
        due, self.pending = waiting.select(due_now), waiting.select(~due_now)
        if batch.has_feedback:
            due = self._feedback(batch) + due
        served_rows = (
            Rows(*self.model.serve_many(_with_a_column(batch)))
            if len(batch)
            else Rows(np.zeros((0, 0), np.uint32), np.zeros((0, 0)))
        )
        row_of, served_of, rows, taken = self._gather(batch, due, served_rows)
        is_serve, index = merged_order(batch.keys, batch.offsets, due)
        ops, op_rows, targets, step_of_op = self._kernel_ops(is_serve, index, due, row_of)
        reports_drift = isinstance(self.model, ReportsDrift)
        seen, known = (self.model.n_seen, len(self.model.drifts)) if reports_drift else (0, 0)
        out = self.model.run_ops(rows.hashes, rows.values, ops, op_rows, targets)
        if reports_drift:
            self._stamp_drifts(
                seen, known, ops[: len(out)], step_of_op, is_serve, index, due, batch, taken
            )
        # A model that replaced its featurizer (a reset) stops early: the events served after
        # that point are served again, by the new model, as they would be one by one.
        steps = len(is_serve) if len(out) == len(ops) else int(step_of_op[len(out) - 1]) + 1
        served = int(is_serve[:steps].sum())
        predictions = np.empty(served)
        serves = ops[: len(out)] != LEARN
        predictions[op_rows[: len(out)][serves]] = out[serves]
        in_batch = (row_of >= 0) & (row_of < served)
        served_of[in_batch] = predictions[row_of[in_batch]]
        self._count(is_serve[:steps], index[:steps], due, row_of)
        self._score(index[:steps][~is_serve[:steps]], due, row_of, served_of, rows)
        if steps < len(is_serve):
            self._put_back(is_serve[steps:], index[steps:], due, taken, batch, served)
        self._keep_waiting(batch.slice(0, served), served_rows.take(np.arange(served)), predictions)
        if self.tasks:
            self._drop_stale_feedback(cutoff)
        self.counters["served"] += served
        self.counters["unlabeled"] += int((~np.isin(batch.offsets[:served], new.offsets)).sum())
        if served:
            self.offset = int(batch.offsets[served - 1])
            self.last_key = float(batch.keys[served - 1])
        if served < len(batch):
            return np.concatenate([predictions, self.step(batch.slice(served, len(batch)))])
        return predictions

    def _stamp_drifts(self, seen, known, ops, step_of_op, is_serve, index, due, batch, taken):
        """Drift records made in this call get where and when: the label that tipped the
        detector, its event's offset, the key (time) at which the label arrived, and the
        wall-clock time."""
        learned_at = np.flatnonzero(ops != PREDICT)
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        for record in drift_records(self.model)[known:]:
            position = int(record["index"]) - seen
            if not 0 <= position < len(learned_at):
                continue
            step = int(step_of_op[learned_at[position]])
            if is_serve[step]:  # a serve fused with its own label
                offset, key = batch.offsets[index[step]], batch.keys[index[step]]
            else:
                offset, key = due.offsets[index[step]], due.keys[index[step]]
            record.update(offset=int(offset), time=float(key), detected_at=now)

    def _put_back(self, is_serve, index, due, taken, batch: EventBatch, served: int) -> None:
        """Undo the part of a schedule that did not run: its label operations wait again
        (those of events still to serve are made anew when they are), and the store gets
        back the entries taken for them."""
        undone = due.select(np.isin(np.arange(len(due)), index[~is_serve]))
        unserved = batch.offsets[served:]
        waiting = undone + self.pending
        self.pending = waiting.select(~np.isin(waiting.offsets, unserved))
        if taken is None:
            return
        back = np.isin(taken.served_offsets, undone.offsets)
        if back.any():
            picked = np.flatnonzero(back)
            for version in dict.fromkeys(taken.versions[i] for i in picked):
                mine = [i for i in picked if taken.versions[i] == version]
                self.join.put(
                    taken.ids[mine],
                    taken.rows.take(np.array(mine)),
                    taken.predictions[mine],
                    taken.deadlines[mine],
                    taken.served_offsets[mine],
                    version,
                )

    def drain(self) -> None:
        """The end of a replayed stream: every label still in flight arrives (and every
        entry still waiting reaches its deadline), in order."""
        if len(self.pending):
            self.step(EventBatch.empty(drain=True))

    @property
    def tasks(self) -> tuple[str, ...]:
        return task_names(self.model)

    def _untasked(self, batch: EventBatch) -> EventBatch:
        """Feedback for a task means nothing to a one-task model: rejected."""
        if batch.feedback_tasks is None or not batch.has_feedback:
            return batch
        tasked = np.array([t is not None for t in batch.feedback_tasks.tolist()], bool)
        if not tasked.any():
            return batch
        self.counters["rejected"] += int(tasked.sum())
        return replace(
            batch,
            feedback_ids=batch.feedback_ids[~tasked],
            feedback_labels=np.asarray(batch.feedback_labels)[~tasked],
            feedback_tasks=None,
        )

    def _collect_task_feedback(self, batch: EventBatch) -> EventBatch:
        """A multi-task model's feedback waits with its event until the window closes (a
        finite number for a known task; anything else is rejected). In-row labels mean
        nothing to it. Returns the batch without either."""
        horizon = batch.keys[-1] if len(batch) else (batch.clock or self.last_key)
        if batch.has_feedback:
            tasks = batch.feedback_tasks
            tasks = [None] * len(batch.feedback_ids) if tasks is None else tasks.tolist()
            labels = np.asarray(batch.feedback_labels, np.float64).tolist()
            for event_id, task, label in zip(
                batch.feedback_ids.tolist(), tasks, labels, strict=True
            ):
                if task not in self.tasks or not math.isfinite(label):
                    self.counters["rejected"] += 1
                    continue
                self.collected.setdefault(event_id, (horizon + self.ttl, {}))[1][task] = label
        nothing = np.full(len(batch), np.nan)
        return replace(
            batch, labels=nothing, feedback_ids=None, feedback_labels=None, feedback_tasks=None
        )

    def _drop_stale_feedback(self, horizon: float) -> None:
        """An event's window closes at most ttl after any of its feedback came: feedback
        still here once every window closing before ``horizon`` was learned had no event
        waiting (an unknown id, or its window had closed): late."""
        stale = [k for k, (until, _) in self.collected.items() if until < horizon]
        for event_id in stale:
            del self.collected[event_id]
        self.counters["late"] += len(stale)

    def _hold_early(self, ids: np.ndarray, labels: np.ndarray, now: float) -> None:
        """Labels that came before their event (two topics read side by side) wait for it,
        up to the TTL from ``now``; the event then arrives with its label."""
        for event_id, label in zip(ids.tolist(), labels.tolist(), strict=True):
            self.early[event_id] = (label, now + self.ttl)

    def _hold_same_batch_feedback(self, batch: EventBatch) -> EventBatch:
        """A label by id for an event of this very batch (it came after the event, within
        one micro-batch) is that event's label: held as early, so the event claims it;
        feedback is otherwise learned before the batch's events, which would miss it.
        Returns the batch without those labels (ids name one event each)."""
        if not (batch.has_feedback and len(batch)):
            return batch
        events = set(batch.ids.tolist())
        labels = np.asarray(batch.feedback_labels, np.float64)
        ids = batch.feedback_ids.tolist()
        mine = np.array([i in events for i in ids]) & np.isfinite(labels)
        if not mine.any():
            return batch
        self._hold_early(batch.feedback_ids[mine], labels[mine], batch.keys[-1])
        return replace(batch, feedback_ids=batch.feedback_ids[~mine], feedback_labels=labels[~mine])

    def _claim_early(self, batch: EventBatch, delays: np.ndarray) -> tuple[np.ndarray, ...]:
        """Events whose label came early get it now (delay 0); early labels whose wait is
        over are dropped as late."""
        labels = batch.labels
        if self.early:
            labels, delays = labels.copy(), delays.copy()
            for i, event_id in enumerate(batch.ids.tolist()):
                held = self.early.pop(event_id, None)
                if held is not None and not np.isfinite(labels[i]):
                    labels[i], delays[i] = held[0], 0.0
            horizon = batch.keys[-1] if len(batch) else (batch.clock or -math.inf)
            gone = [k for k, (_, until) in self.early.items() if until < horizon]
            for event_id in gone:
                del self.early[event_id]
            self.counters["late"] += len(gone)
        return labels, delays

    def _feedback(self, batch: EventBatch) -> Operations:
        """Labels for earlier events, by id, as operations before this batch's events; a
        label that is not a finite number is counted and dropped."""
        labels = np.asarray(batch.feedback_labels, np.float64)
        good = np.isfinite(labels)
        self.counters["rejected"] += int((~good).sum())
        n = int(good.sum())
        return Operations(
            np.full(n, -math.inf),
            np.full(n, LABEL, np.int8),
            np.full(n, -1, np.int64),
            batch.feedback_ids[good],
            labels[good],
        )

    def _gather(self, batch: EventBatch, due: Operations, served_rows: Rows):
        """Rows for the due operations: this batch's own, or taken from the join store.
        Returns (row of each due operation, -1 if none; its served prediction where known
        now; all rows stacked; what was taken from the store)."""
        position = np.searchsorted(batch.offsets, due.offsets)
        in_batch = np.zeros(len(due), bool)
        if len(batch):
            clipped = np.minimum(position, len(batch) - 1)
            in_batch = (position < len(batch)) & (batch.offsets[clipped] == due.offsets)
        stored = np.flatnonzero(~in_batch & (due.kinds != LATE))
        row_of = np.full(len(due), -1, np.int64)
        row_of[in_batch] = position[in_batch]
        served_of = np.full(len(due), np.nan)
        if not len(stored):
            return row_of, served_of, served_rows, None
        ids = due.ids[stored]
        # Taken "at" this batch's last offset (after the stream's end: one past it), so that
        # restoring to an earlier checkpoint puts these entries back.
        at = int(batch.offsets[-1]) if len(batch) else self.offset + 1
        taken = self.join.take(ids, at)
        taken.ids = ids[taken.found]
        hits = stored[taken.found]
        row_of[hits] = len(batch) + np.arange(len(hits))
        served_of[hits] = taken.predictions
        missed = stored[~taken.found]
        early = missed[due.offsets[missed] < 0]  # a label by id, for an event not served yet
        now = batch.keys[-1] if len(batch) else batch.clock
        self._hold_early(due.ids[early], due.targets[early], self.last_key if now is None else now)
        self.counters["late"] += len(missed) - len(early)  # their entry is gone
        rows = Rows.stack([served_rows, taken.rows]) if len(hits) else served_rows
        return row_of, served_of, rows, taken

    def _kernel_ops(self, is_serve, index, due, row_of):
        """The compiled call's operations: serves predict, labels (and expiries under the
        ``default`` policy) learn; a serve directly followed by its own label does both.
        Also returns, for each operation, its step in the merged order."""
        if not len(due):
            steps = np.arange(len(index))
            shape = (len(index), len(self.tasks)) if self.tasks else len(index)
            return np.full(len(index), PREDICT, np.int8), index, np.zeros(shape), steps
        at = np.where(is_serve, 0, index)
        kind = np.where(is_serve, -1, due.kinds[at])
        row = np.where(is_serve, index, row_of[at])
        learns = self._learns(is_serve, kind, row)
        keep = is_serve | learns
        steps = np.flatnonzero(keep)
        ops = np.where(is_serve, PREDICT, LEARN).astype(np.int8)[keep]
        if self.tasks:
            target = self._window_targets(due.ids[at], learns)[keep]
        else:
            target = np.where(kind == LABEL, due.targets[at], self.default_label)
            target = np.where(is_serve, 0.0, target)[keep]
        row = row[keep]
        # A serve followed at once by the label of its own row: one fused step.
        fused = np.zeros(len(ops), bool)
        fused[1:] = (ops[1:] == LEARN) & (ops[:-1] == PREDICT) & (row[1:] == row[:-1])
        serve_of_fused = np.zeros(len(ops), bool)
        serve_of_fused[:-1] = fused[1:]
        ops[serve_of_fused] = PREDICT_LEARN
        target[serve_of_fused] = target[np.flatnonzero(serve_of_fused) + 1]
        steps[serve_of_fused] = steps[np.flatnonzero(serve_of_fused) + 1]
        return ops[~fused], row[~fused], target[~fused], steps[~fused]

    def _window_targets(self, ids: np.ndarray, learns: np.ndarray) -> np.ndarray:
        """A multi-task model's labels for each step: for an event learned at its window's
        close, the feedback collected for it (taken); NaN rows for the rest."""
        targets = np.full((len(ids), len(self.tasks)), np.nan)
        picked = np.flatnonzero(learns)
        feedback = [self.collected.pop(i, (0.0, {}))[1] for i in ids[picked].tolist()]
        targets[picked] = self.model.window_labels(feedback)
        self._engagement = dict(
            zip(ids[picked].tolist(), self.model.engagement(targets[picked]).tolist(), strict=True)
        )
        return targets

    def _learns(self, is_serve, kind, row) -> np.ndarray:
        learns = ~is_serve & (row >= 0)
        learn_at_expiry = self.expiry == "default" or bool(self.tasks)
        return learns & ((kind == LABEL) | ((kind == EXPIRE) & learn_at_expiry))

    def _count(self, is_serve, index, due, row_of) -> None:
        """Count what the steps that ran did."""
        if not len(due):
            return
        at = np.where(is_serve, 0, index)
        kind = np.where(is_serve, -1, due.kinds[at])
        row = np.where(is_serve, index, row_of[at])
        self.counters["learned"] += int(self._learns(is_serve, kind, row).sum())
        self.counters["expired"] += int((kind == EXPIRE).sum())
        self.counters["late"] += int((kind == LATE).sum())

    def _score(self, due_steps, due, row_of, served_of, rows: Rows) -> None:
        """Each label, in the order learned, scores the prediction its event was served with;
        under the ``default`` expiry policy the default label of an expired event is its
        label (a click that did not come is a "no click")."""
        kinds = due.kinds[due_steps]
        learn_at_expiry = self.expiry == "default" or bool(self.tasks)
        scored_kinds = (kinds == LABEL) | ((kinds == EXPIRE) & learn_at_expiry)
        labels = due_steps[scored_kinds & (row_of[due_steps] >= 0)]
        if not len(labels):
            return
        if self.tasks:  # the score against the engagement that came
            targets = np.array([self._engagement[i] for i in due.ids[labels].tolist()])
        else:
            targets = np.where(due.kinds[labels] == LABEL, due.targets[labels], self.default_label)
        scored = served_of[labels]
        for metric in self.metrics:
            metric.update_many(targets, scored)
        tail = slice(-self.recent.size, None)  # only the newest labels are kept
        self.recent.add(
            rows.take(row_of[labels[tail]]),
            targets[tail],
            per_event_losses(self.model.task, targets[tail], scored[tail]),
        )

    def _keep_waiting(self, batch: EventBatch, rows: Rows, predictions: np.ndarray) -> None:
        """Events of this batch whose label (or expiry) is still to come wait in the store;
        events with nothing to come are not kept."""
        waiting = self.pending.kinds != LATE
        keep = np.isin(batch.offsets, self.pending.offsets[waiting])
        if not keep.any():
            return
        picked = np.flatnonzero(keep)
        self.join.put(
            batch.ids[picked],
            rows.take(picked),
            predictions[picked],
            batch.keys[picked] + self.ttl,
            batch.offsets[picked],
            self.version or "v000000",
        )

    # ------------------------------------------------------------------ state
    def metric_values(self) -> dict[str, float]:
        return {m.label: float(m.get()) for m in self.metrics if math.isfinite(m.get())}

    def arrays(self) -> dict[str, np.ndarray]:
        """What a checkpoint needs besides the model: waiting entries, labels in flight,
        metrics."""
        held = list(self.early.items())
        early = _id_arrays([k for k, _ in held])
        early["values"] = np.array([v for _, v in held], np.float64).reshape(-1, 2)
        parts = {
            "join": self.join.checkpoint_arrays(self.offset),
            "pending": self.pending.arrays(),
            "early": early,
            "collected": self._collected_arrays(),
        }
        parts |= {f"metric{i}": metric.state() for i, metric in enumerate(self.metrics)}
        return nest(parts)

    def _collected_arrays(self) -> dict[str, np.ndarray]:
        """A multi-task model's feedback still waiting: one row per (event, task)."""
        rows = [
            (k, task, until, value)
            for k, (until, got) in self.collected.items()
            for task, value in got.items()
        ]
        return _id_arrays([r[0] for r in rows]) | {
            "tasks": np.array([r[1] for r in rows], dtype=str),
            "values": np.array([r[2:] for r in rows], np.float64).reshape(-1, 2),
        }

    def meta(self) -> dict[str, Any]:
        return {"offset": self.offset, "last_key": self.last_key, "counters": self.counters}

    def restore(self, model: Learner, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        """Continue from a checkpoint's :meth:`arrays` and :meth:`meta`."""
        check_servable(model)
        self.model = model
        self.offset, self.last_key = int(meta["offset"]), float(meta["last_key"])
        self.join.restore(nested_part(arrays, "join"), self.offset)
        pending = nested_part(arrays, "pending")
        self.pending = Operations.from_arrays(pending) if pending else Operations.empty()
        early = nested_part(arrays, "early")
        self.early = {
            k: (float(v[0]), float(v[1]))
            for k, v in zip(_ids_back(early), early.get("values", []), strict=True)
        }
        self._restore_collected(nested_part(arrays, "collected"))
        for i, metric in enumerate(self.metrics):
            metric.load(nested_part(arrays, f"metric{i}"))
        self.counters = {k: int(meta["counters"].get(k, 0)) for k in COUNTERS}

    def _restore_collected(self, arrays: dict[str, np.ndarray]) -> None:
        self.collected = {}
        rows = zip(
            _ids_back(arrays), arrays.get("tasks", []), arrays.get("values", []), strict=True
        )
        for event_id, task, (until, value) in rows:
            got = self.collected.setdefault(event_id, (float(until), {}))[1]
            got[str(task)] = float(value)

    def close(self) -> None:
        self.join.close()


def _id_arrays(ids: list) -> dict[str, np.ndarray]:
    """Event ids (text or integers) as arrays for a checkpoint: their text, and which were
    integers (so that they come back as the same keys)."""
    return {
        "ids": np.array([str(i) for i in ids], dtype=str),
        "int_ids": np.array([isinstance(i, int | np.integer) for i in ids], bool),
    }


def _ids_back(arrays: dict[str, np.ndarray]) -> list:
    ids = arrays.get("ids", [])
    ints = arrays.get("int_ids", np.zeros(len(ids), bool))  # older checkpoints: text
    return [int(i) if is_int else str(i) for i, is_int in zip(ids, ints, strict=True)]


NO_FEATURES = "_no_features"  # a column nobody sends: all NaN, which no weight reads


def _with_a_column(batch: EventBatch) -> dict[str, Any]:
    """The batch's columns; events with no feature at all (``{"features": {}}``) get one
    empty column, so that the model still sees how many there are (from the intercept)."""
    if batch.features or not len(batch):
        return batch.features
    return {NO_FEATURES: np.full(len(batch), np.nan)}
