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

import numpy as np

from streamlearn.base import LEARN, PREDICT, ReportsDrift
from streamlearn.base.predictions import fitted, stack_predictions, width_of
from streamlearn.runner import served as elsewhere
from streamlearn.runner.feedback import (
    feedback_operations,
    stamp_drifts,
    step_places,
    without_task_feedback,
)
from streamlearn.runner.join import Rows
from streamlearn.runner.lane_join import JoinedLane
from streamlearn.runner.schedule import (
    EXPIRE,
    LABEL,
    LATE,
    fuse_own_labels,
    label_operations,
    merged_order,
    step_kinds,
)
from streamlearn.streams.batch import EventBatch
from streamlearn.streams.decode import with_a_column


class Lane(JoinedLane):
    """One model's way through the stream (see the module doc); its parameters are
    :class:`~streamlearn.runner.lane_state.LaneState`'s.

    Example
    -------
    >>> import numpy as np
    >>> from streamlearn.models import LogisticRegression
    >>> from streamlearn.streams.batch import EventBatch
    >>> batch = EventBatch({"x": np.array([1.0, 2.0, 3.0])}, np.array([1.0, 0.0, np.nan]),
    ...                    np.array(["a", "b", "c"], dtype=object), np.arange(1, 4),
    ...                    np.array([1.0, 2.0, 3.0]))
    >>> lane = Lane(LogisticRegression(bits=8))
    >>> lane.step(batch).round(3).tolist()  # served first, then each label learned
    [0.5, 0.502, 0.5]
    >>> lane.counters["served"], lane.counters["learned"], lane.counters["unlabeled"]
    (3, 2, 1)
    """

    def step(self, batch: EventBatch) -> np.ndarray:
        """Serve one micro-batch and learn every label due before its last event; returns
        the predictions served (for a multiclass model: rows of class probabilities)."""
        return self._route(self._coded(batch))

    def _route(self, batch: EventBatch) -> np.ndarray:
        if self._labels_with_events(batch):
            return self._predict_learn(batch)
        return self._step(batch)

    def _labels_with_events(self, batch: EventBatch) -> bool:
        """Every event carries its label, learned right after its prediction, one event at a
        time, nothing else due (progressive validation: ``streamlearn evaluate``): the
        schedule is one predict-and-learn per event, in order."""
        return (
            len(batch) > 0
            and self.delay == 0
            and batch.delays is None
            and batch.served is None
            and not batch.has_feedback
            and not len(self.pending)
            and not len(self.early)
            and not self.tasks
            and batch.keys[0] > self.last_key
            and bool((np.diff(batch.keys) > 0).all())
            and bool(np.isfinite(batch.labels).all())
        )

    def _predict_learn(self, batch: EventBatch) -> np.ndarray:
        """What :meth:`_step` does for such a batch, without the schedule's bookkeeping."""
        n = len(batch)
        reports_drift = isinstance(self.model, ReportsDrift)
        seen, known = (self.model.n_seen, len(self.model.drifts)) if reports_drift else (0, 0)
        columns = with_a_column(batch.features, n)
        kept = self.recent.size if self.recent.keeps_rows else 0  # the rollback test's
        encoded, predictions = self.model.predict_learn_served(columns, batch.labels, kept)
        done = len(predictions)  # fewer: a reset replaced the featurizer, see _step
        if reports_drift:
            learned = np.arange(done)
            stamp_drifts(self.model.drifts[known:], seen, learned, batch.offsets, batch.keys)
        rows = Rows(*encoded) if kept else None  # the last len(rows) of those done
        row_of = np.arange(done) - done + (len(rows) if rows is not None else 0)
        self._scored(batch.labels[:done], predictions, rows, row_of)
        self.counters["served"] += done
        self.counters["learned"] += done
        self.offset, self.last_key = int(batch.offsets[done - 1]), float(batch.keys[done - 1])
        if done < n:  # the rest is served again, by the new featurizer
            return stack_predictions([predictions, self._route(batch.slice(done, n))])
        return predictions

    def _step(self, batch: EventBatch) -> np.ndarray:
        delays = batch.delays if batch.delays is not None else np.full(len(batch), self.delay)
        now = batch.keys[-1] if len(batch) else (batch.clock or self.last_key)
        if self.tasks:
            batch, rejected = self.feedback.collect(self._without_late(batch), self.tasks, now)
        else:
            batch, rejected = without_task_feedback(batch)
        self.counters["rejected"] += rejected
        batch = self.early.hold_same_batch(batch)
        labels, delays, unclaimed = self.early.claim(batch, delays)
        self.counters["unknown"] += unclaimed
        # The batch holds its claimed labels from now on: events served again after a stop
        # (see below) make their label operations anew from them.
        batch = replace(batch, labels=labels, delays=delays)
        new = label_operations(batch.keys, labels, batch.offsets, batch.ids, delays, self.ttl)
        waiting = self.pending + new
        cutoff = batch.keys[-1] if len(batch) else math.inf if batch.drain else batch.clock
        cutoff = -math.inf if cutoff is None else cutoff
        due_now = waiting.keys < cutoff
        due, self.pending = waiting.select(due_now), waiting.select(~due_now)
        if batch.has_feedback:
            by_id, rejected = feedback_operations(batch)
            self.counters["rejected"] += rejected
            due = by_id + due
        given = elsewhere.answered(self.model, batch)
        served_rows = elsewhere.rows(self.model, batch, given)
        row_of, served_of, rows, taken, event_offsets = self._gather(batch, due, served_rows)
        is_serve, index = merged_order(batch.keys, batch.offsets, due)
        ops, op_rows, targets, step_of_op = self._kernel_ops(is_serve, index, due, row_of, given)
        reports_drift = isinstance(self.model, ReportsDrift)
        seen, known = (self.model.n_seen, len(self.model.drifts)) if reports_drift else (0, 0)
        out = self.model.run_ops(rows.hashes, rows.values, ops, op_rows, targets)
        if reports_drift:
            learned_steps = step_of_op[np.flatnonzero(ops[: len(out)] != PREDICT)]
            offsets, keys = step_places(is_serve, index, due, event_offsets, batch)
            stamp_drifts(self.model.drifts[known:], seen, learned_steps, offsets, keys)
        # A model that replaced its featurizer (a reset) stops early: the events served after
        # that point are served again, by the new model, as they would be one by one.
        steps = len(is_serve) if len(out) == len(ops) else int(step_of_op[len(out) - 1]) + 1
        served = int(is_serve[:steps].sum())
        given_predictions = batch.served.predictions if given is not None else out[:0]
        width = width_of(out, given_predictions, served_of)  # rows of class probabilities
        out, served_of = fitted(out, width), fitted(served_of, width)
        predictions = np.empty((served, *out.shape[1:]))
        serves = ops[: len(out)] != LEARN
        predictions[op_rows[: len(out)][serves]] = out[serves]
        if given is not None:  # what the client got
            answered = np.flatnonzero(given[:served])
            predictions[answered] = fitted(given_predictions, width)[answered]
        in_batch = (row_of >= 0) & (row_of < served)
        served_of[in_batch] = predictions[row_of[in_batch]]
        self._count(is_serve[:steps], index[:steps], due, row_of, now)
        self._score(index[:steps][~is_serve[:steps]], due, row_of, served_of, rows)
        if steps < len(is_serve):
            undone = (is_serve[steps:], index[steps:])
            self._put_back(*undone, due, event_offsets, taken, batch, served)
        self._keep_waiting(batch, served, served_rows, predictions)
        if self.tasks:
            self._count_unjoined(self.feedback.drop_stale(cutoff))
        self.closed.forget(cutoff)
        self.counters["served"] += served
        self.counters["unlabeled"] += int((~np.isin(batch.offsets[:served], new.offsets)).sum())
        if served:
            self.offset = int(batch.offsets[served - 1])
            self.last_key = float(batch.keys[served - 1])
        if served < len(batch):
            # Its feedback is taken: run, waiting again (pending) or held for its events.
            rest = replace(
                batch.slice(served, len(batch)),
                feedback_ids=None,
                feedback_labels=None,
                feedback_tasks=None,
            )
            return stack_predictions([predictions, self._step(rest)])
        if steps < len(is_serve):  # labels still due once every event is served: on with them
            clock = cutoff if math.isfinite(cutoff) else None
            self._step(EventBatch.empty(drain=batch.drain, clock=clock))
        return predictions

    def drain(self) -> None:
        """The end of a replayed stream: every label still in flight arrives (and every
        entry still waiting reaches its deadline), in order; labels still waiting for their
        event never get it (unknown)."""
        if len(self.pending) or len(self.early):
            self.step(EventBatch.empty(drain=True))

    def _kernel_ops(self, is_serve, index, due, row_of, given):
        """The compiled call's operations: serves predict (but those answered already),
        labels (and expiries under the ``default`` policy) learn; a serve directly followed
        by its own label does both. Also returns, for each operation, its step in the merged
        order."""
        predicts = is_serve if given is None else is_serve & ~given[np.where(is_serve, index, 0)]
        if not len(due):
            steps = np.flatnonzero(predicts)
            shape = (len(steps), len(self.tasks)) if self.tasks else len(steps)
            return np.full(len(steps), PREDICT, np.int8), index[steps], np.zeros(shape), steps
        at, kind, row = step_kinds(is_serve, index, due, row_of)
        learns = self._learns(is_serve, kind, row)
        keep = predicts | learns
        ops = np.where(is_serve, PREDICT, LEARN).astype(np.int8)[keep]
        if self.tasks:
            target = self.feedback.window_targets(self.model, due.ids[at], learns)[keep]
        else:
            target = np.where(kind == LABEL, due.targets[at], self.default_label)
            target = np.where(is_serve, 0.0, target)[keep]
        return fuse_own_labels(ops, row[keep], target, np.flatnonzero(keep))

    def _learns(self, is_serve, kind, row) -> np.ndarray:
        learns = ~is_serve & (row >= 0)
        return learns & ((kind == LABEL) | ((kind == EXPIRE) & self.learns_at_expiry))

    def _count(self, is_serve, index, due, row_of, now: float) -> None:
        """Count what the steps that ran did, and remember whose wait ended (a label by id
        ends it ``now``: it has no place in the stream of its own)."""
        if not len(due):
            return
        at, kind, row = step_kinds(is_serve, index, due, row_of)
        self.counters["learned"] += int(self._learns(is_serve, kind, row).sum())
        ended = np.flatnonzero(~is_serve & (row >= 0) & ((kind == LABEL) | (kind == EXPIRE)))
        keys = due.keys[at[ended]]
        self.closed.close(due.ids[at[ended]], np.where(np.isfinite(keys), keys, now))
        if self.tasks:  # a window closing is how an event is learned: expired if nothing came
            self.counters["expired"] += self.feedback.silent
        else:  # an expiry whose entry is gone (its label came by id) is no expiry
            self.counters["expired"] += int(((kind == EXPIRE) & (row >= 0)).sum())
        self.counters["late"] += int((kind == LATE).sum())

    def _score(self, due_steps, due, row_of, served_of, rows: Rows) -> None:
        """Each label, in the order learned, scores the prediction its event was served with;
        under the ``default`` expiry policy the default label of an expired event is its
        label (a click that did not come is a "no click")."""
        kinds = due.kinds[due_steps]
        scored_kinds = (kinds == LABEL) | ((kinds == EXPIRE) & self.learns_at_expiry)
        labels = due_steps[scored_kinds & (row_of[due_steps] >= 0)]
        if not len(labels):
            return
        if self.tasks:  # the score against the engagement that came
            targets = np.array([self.feedback.engagement[i] for i in due.ids[labels].tolist()])
        else:
            targets = np.where(due.kinds[labels] == LABEL, due.targets[labels], self.default_label)
        self._scored(targets, served_of[labels], rows, row_of[labels])
