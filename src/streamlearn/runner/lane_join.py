"""A lane's side of its label join: the rows gathered for the labels due, events kept
waiting in the store with the prediction served and its version, and labels that came
too late or for no event counted as such (see :mod:`streamlearn.runner.lane`)."""

from __future__ import annotations

import numpy as np

from streamlearn.runner import served as elsewhere
from streamlearn.runner.join import Rows, gather_rows
from streamlearn.runner.lane_state import LaneState
from streamlearn.runner.schedule import LATE, Operations
from streamlearn.streams.batch import EventBatch


class JoinedLane(LaneState):
    """How a lane's events wait in its join store and how labels find them: rows gathered
    for the labels due, events kept waiting with the prediction served, labels that came
    too late or for no event counted as such.

    Example
    -------
    >>> import numpy as np
    >>> from streamlearn.models import LogisticRegression
    >>> from streamlearn.streams.batch import EventBatch
    >>> batch = EventBatch({"x": np.array([1.0, 2.0, 3.0])}, np.array([1.0, 0.0, np.nan]),
    ...                    np.array(["a", "b", "c"], dtype=object), np.arange(1, 4),
    ...                    np.array([1.0, 2.0, 3.0]))
    >>> from streamlearn.runner.lane import Lane
    >>> lane = Lane(LogisticRegression(bits=8), delay=10.0)  # labels come 10 s later
    >>> _ = lane.step(batch)
    >>> isinstance(lane, JoinedLane), len(lane.pending), lane.counters["learned"]
    (True, 2, 0)
    """

    def _put_back(
        self, is_serve, index, due, event_offsets, taken, batch: EventBatch, served: int
    ) -> None:
        """Undo the part of a schedule that did not run: its label operations wait again
        (those of events still to serve are made anew when they are), and the store gets
        back the entries taken for them."""
        mask = np.isin(np.arange(len(due)), index[~is_serve])
        undone = due.select(mask)
        unserved = batch.offsets[served:]
        waiting = undone + self.pending
        self.pending = waiting.select(~np.isin(waiting.offsets, unserved))
        if taken is not None:
            back = np.isin(taken.served_offsets, event_offsets[mask])
            self.join.put_back(taken, np.flatnonzero(back))

    def _gather(self, batch: EventBatch, due: Operations, served_rows: Rows):
        """Rows for the due operations (see :func:`~streamlearn.runner.join.gather_rows`);
        labels by id for events not served yet wait as early labels; labels whose entry is
        gone are late."""
        # Taken "at" this batch's last offset (after the stream's end: one past it), so that
        # restoring to an earlier checkpoint puts these entries back.
        at = int(batch.offsets[-1]) if len(batch) else self.offset + 1
        gathered = gather_rows(self.join, batch, due, served_rows, at)
        early = gathered.early
        ids = due.ids[early]  # a label for an event whose wait has ended (or ends now) is late
        closed = self.closed.known(ids)
        if gathered.taken is not None and len(gathered.taken.ids):
            closed |= np.isin(ids, gathered.taken.ids)
        self.counters["late"] += gathered.late + int(closed.sum())
        early = early[~closed]
        now = batch.keys[-1] if len(batch) else batch.clock
        self.early.hold(due.ids[early], due.targets[early], self.last_key if now is None else now)
        return (
            gathered.row_of,
            gathered.served_of,
            gathered.rows,
            gathered.taken,
            gathered.offsets,
        )

    def _keep_waiting(
        self, batch: EventBatch, served: int, rows: Rows, predictions: np.ndarray
    ) -> None:
        """The first ``served`` events of the batch whose label (or expiry) is still to
        come wait in the store, with the prediction served and the version that made it;
        events with nothing to come are not kept."""
        waiting = self.pending.kinds != LATE
        if not waiting.any():  # labels with their events: nothing waits
            return
        keep = np.isin(batch.offsets[:served], self.pending.offsets[waiting])
        if not keep.any():
            return
        versions = self.versions_of(batch)[:served]
        for version in dict.fromkeys(versions[keep].tolist()):
            picked = np.flatnonzero(keep & (versions == version))
            self.join.put(
                batch.ids[picked],
                rows.take(picked),
                predictions[picked],
                batch.keys[picked] + self.ttl,
                batch.offsets[picked],
                version,
            )

    def versions_of(self, batch: EventBatch) -> np.ndarray:
        """The version that made each event's prediction (see
        :func:`~streamlearn.runner.served.versions`)."""
        given = elsewhere.answered(self.model, batch)
        return elsewhere.versions(batch, self.version, given)

    def _count_unjoined(self, ids: np.ndarray) -> None:
        """Feedback that found no event waiting: late if its event's wait had ended, unknown
        if no event had its id."""
        closed = int(self.closed.known(ids).sum())
        self.counters["late"] += closed
        self.counters["unknown"] += len(ids) - closed

    def _without_late(self, batch: EventBatch) -> EventBatch:
        """A multi-task model's feedback for an event whose window has closed is late now:
        counted, and not collected."""
        if not batch.has_feedback:
            return batch
        late = self.closed.known(batch.feedback_ids)
        if not late.any():
            return batch
        self.counters["late"] += int(late.sum())
        return batch.without_feedback(late)
