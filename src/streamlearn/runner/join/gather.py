"""Rows for due labels: a label whose event is in the batch being served learns from that
event's row; any other takes its event's row, as served, from the join store."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamlearn.base.predictions import fitted, width_of
from streamlearn.runner.join.base import JoinStore, Rows, Taken
from streamlearn.runner.schedule import LABEL, LATE, Operations
from streamlearn.streams import EventBatch


@dataclass
class Gathered:
    """The rows and predictions that a schedule's due operations need.

    Parameters
    ----------
    row_of
        Where each due operation's row is in ``rows`` (-1: none).
    served_of
        The prediction its event was served with, where known now (NaN for this batch's
        events: not made yet).
    rows
        Every row stacked: the batch's, then the taken ones.
    taken
        What was taken from the join store (None: nothing).
    early
        The due labels for events not served yet (by index).
    late
        How many labels found no entry.
    offsets
        The offset of each operation's event (a label by id: that of the entry it found).

    Example
    -------
    >>> sorted(Gathered.__dataclass_fields__)
    ['early', 'late', 'offsets', 'row_of', 'rows', 'served_of', 'taken']
    """

    row_of: np.ndarray
    served_of: np.ndarray
    rows: Rows
    taken: Taken | None
    early: np.ndarray
    late: int
    offsets: np.ndarray


def gather_rows(
    join: JoinStore, batch: EventBatch, due: Operations, served_rows: Rows, at: int
) -> Gathered:
    """The rows of ``due``'s operations; entries are taken from ``join`` at offset ``at``."""
    position = np.searchsorted(batch.offsets, due.offsets)
    in_batch = np.zeros(len(due), bool)
    if len(batch):
        clipped = np.minimum(position, len(batch) - 1)
        in_batch = (position < len(batch)) & (batch.offsets[clipped] == due.offsets)
    stored = np.flatnonzero(~in_batch & (due.kinds != LATE))
    row_of = np.full(len(due), -1, np.int64)
    row_of[in_batch] = position[in_batch]
    served_of = np.full(len(due), np.nan)
    nothing = np.zeros(0, np.int64)
    if not len(stored):
        return Gathered(row_of, served_of, served_rows, None, nothing, 0, due.offsets)
    ids = due.ids[stored]
    taken = join.take(ids, at)
    taken.ids = ids[taken.found]
    hits = stored[taken.found]
    row_of[hits] = len(batch) + np.arange(len(hits))
    served_of = fitted(served_of, width_of(taken.predictions))
    served_of[hits] = taken.predictions
    offsets = due.offsets.copy()
    offsets[hits] = taken.served_offsets  # a label by id is for the event the store held
    missed = stored[~taken.found]
    early = missed[due.offsets[missed] < 0]  # a label by id, for an event not served yet
    rows = Rows.stack([served_rows, taken.rows]) if len(hits) else served_rows
    late = int((due.kinds[missed] == LABEL).sum()) - len(early)  # an expiry is no label
    return Gathered(row_of, served_of, rows, taken, early, late, offsets)
