"""The order in which served events and their labels meet.

Every event is *served* (predicted) at its key (its time, or its offset). Its label arrives
at key + delay: a LABEL operation there learns from the row as served. An event whose label
has not come within ``ttl`` of its key EXPIRES (dropped, or learned with a default label);
a label that comes after that is LATE: counted, not learned. Operations sort by
(key, kind, offset): at equal keys an event is served before labels are learned, so a label
with no delay is learned right after its own prediction and before the next event — exactly
progressive validation. The sort is global (offsets break ties), so how a stream is cut
into batches never changes the result.

>>> import numpy as np
>>> ops = label_operations(np.array([10.0, 11.0]), np.array([1.0, np.nan]),
...                        np.array([10, 11]), [10, 11], delays=np.array([5.0, 5.0]),
...                        ttl=3.0)
>>> ops.kinds.tolist(), ops.keys.tolist()   # a label after the TTL; no label at all
([2, 2, 3], [13.0, 14.0, 15.0])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamlearn.base import LEARN, PREDICT, PREDICT_LEARN
from streamlearn.streams.batch import as_ids

SERVE, LABEL, EXPIRE, LATE = 0, 1, 2, 3


@dataclass
class Operations:
    """Label-side operations of a schedule.

    Parameters
    ----------
    keys
        Where each falls in the stream (its key: an offset or a time).
    kinds
        What it is (a label, an expiry, a late label).
    offsets, ids
        Whose it is: its event's offset and id (int64, or object for text ids).
    targets
        The label to learn.

    Example
    -------
    >>> keys = np.array([1.0, 2.0, 3.0])
    >>> ops = label_operations(keys, np.array([1.0, 0.0, np.nan]), np.array([1, 2, 3]),
    ...                        np.array([1, 2, 3]), np.full(3, 5.0), ttl=60.0)
    >>> isinstance(ops, Operations), ops.keys.tolist(), ops.offsets.tolist()
    (True, [6.0, 7.0, 63.0], [1, 2, 3])
    """

    keys: np.ndarray
    kinds: np.ndarray
    offsets: np.ndarray
    ids: np.ndarray  # int64, or object (text ids)
    targets: np.ndarray

    def __len__(self) -> int:
        return len(self.keys)

    @staticmethod
    def empty() -> Operations:
        return Operations(
            np.zeros(0),
            np.zeros(0, np.int8),
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            np.zeros(0),
        )

    def select(self, mask: np.ndarray) -> Operations:
        picked = np.flatnonzero(mask)
        return Operations(
            self.keys[picked],
            self.kinds[picked],
            self.offsets[picked],
            self.ids[picked],
            self.targets[picked],
        )

    def __add__(self, other: Operations) -> Operations:
        return Operations(
            np.concatenate([self.keys, other.keys]),
            np.concatenate([self.kinds, other.kinds]),
            np.concatenate([self.offsets, other.offsets]),
            _join_ids(self.ids, other.ids),
            np.concatenate([self.targets, other.targets]),
        )

    def arrays(self) -> dict[str, np.ndarray]:
        ids = self.ids.astype(str) if self.ids.dtype == object else self.ids
        return {
            "keys": self.keys,
            "kinds": self.kinds,
            "offsets": self.offsets,
            "ids": ids,
            "targets": self.targets,
        }

    @staticmethod
    def from_arrays(arrays: dict[str, np.ndarray]) -> Operations:
        return Operations(
            arrays["keys"].astype(np.float64),
            arrays["kinds"].astype(np.int8),
            arrays["offsets"].astype(np.int64),
            as_ids(arrays["ids"]),
            arrays["targets"].astype(np.float64),
        )


def label_operations(
    keys: np.ndarray,
    labels: np.ndarray,
    offsets: np.ndarray,
    ids: np.ndarray,
    delays: np.ndarray,
    ttl: float,
) -> Operations:
    """The label-side operations of served events (see the module doc). Events with neither
    a label nor a finite TTL get none: nothing waits for them."""
    ids = as_ids(ids)
    labelled = np.isfinite(labels) & np.isfinite(delays)
    reveal = keys + np.where(labelled, delays, 0.0)
    deadline = keys + ttl
    on_time = labelled & (reveal <= deadline)
    expires = ~on_time & np.isfinite(deadline)
    late = labelled & ~on_time
    parts = []
    for mask, at, kind in (
        (on_time, reveal, LABEL),
        (expires, deadline, EXPIRE),
        (late, reveal, LATE),
    ):
        picked = np.flatnonzero(mask)
        parts.append(
            Operations(
                at[picked],
                np.full(len(picked), kind, np.int8),
                offsets[picked],
                ids[picked],
                np.where(kind == LABEL, labels[picked], np.nan),
            )
        )
    return parts[0] + parts[1] + parts[2]


def _join_ids(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.dtype == b.dtype:
        return np.concatenate([a, b])
    if not len(a):
        return b
    if not len(b):
        return a
    return np.concatenate([a.astype(object), b.astype(object)])


def merged_order(
    serve_keys: np.ndarray, serve_offsets: np.ndarray, due: Operations
) -> tuple[np.ndarray, np.ndarray]:
    """Serves and due operations in one order: returns (is_serve, index) per step, where
    index points into the serves or into ``due``."""
    keys = np.concatenate([serve_keys, due.keys])
    kinds = np.concatenate([np.zeros(len(serve_keys), np.int8), due.kinds])
    offsets = np.concatenate([serve_offsets, due.offsets])
    order = np.lexsort((offsets, kinds, keys))
    n = len(serve_keys)
    return order < n, np.where(order < n, order, order - n)


def step_kinds(
    is_serve: np.ndarray, index: np.ndarray, due: Operations, row_of: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each step of a merged order: where it points in ``due`` (0 for a serve), the
    kind of its due operation (-1 for a serve) and the row it works on."""
    at = np.where(is_serve, 0, index)
    kind = np.where(is_serve, -1, due.kinds[at])
    return at, kind, np.where(is_serve, index, row_of[at])


def fuse_own_labels(
    ops: np.ndarray, rows: np.ndarray, targets: np.ndarray, steps: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A serve followed at once by the label of its own row becomes one ``PREDICT_LEARN``
    step (the label's target, the label's step in the merged order).

    >>> ops, rows, targets, steps = fuse_own_labels(
    ...     np.array([PREDICT, LEARN, PREDICT], np.int8), np.array([0, 0, 1]),
    ...     np.array([0.0, 1.0, 0.0]), np.array([0, 1, 2]))
    >>> ops.tolist(), rows.tolist(), targets.tolist(), steps.tolist()
    ([2, 0], [0, 1], [1.0, 0.0], [1, 2])
    """
    fused = np.zeros(len(ops), bool)
    fused[1:] = (ops[1:] == LEARN) & (ops[:-1] == PREDICT) & (rows[1:] == rows[:-1])
    serve_of_fused = np.zeros(len(ops), bool)
    serve_of_fused[:-1] = fused[1:]
    ops[serve_of_fused] = PREDICT_LEARN
    targets[serve_of_fused] = targets[np.flatnonzero(serve_of_fused) + 1]
    steps[serve_of_fused] = steps[np.flatnonzero(serve_of_fused) + 1]
    return ops[~fused], rows[~fused], targets[~fused], steps[~fused]
