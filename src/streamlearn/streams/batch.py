"""A micro-batch of events as the runner takes it: columns, labels, ids, offsets, keys (event
time) and labels for earlier events by id; and the clock that stamps live events.

>>> import numpy as np
>>> ids = np.array(["a", "b"], object)
>>> batch = EventBatch({"x": np.array([1.0, 2.0])}, np.array([1.0, np.nan]), ids,
...                    np.array([1, 2]), np.array([0.0, 1.0]))
>>> len(batch), batch.ids.tolist(), batch.slice(1, 2).offsets.tolist()
(2, ['a', 'b'], [2])
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streamlearn.features.columns import rows as take_rows
from streamlearn.streams.files import Reject


class StreamClock:
    """Processing time for live sources, in wall-clock seconds that cannot jump.

    The wall clock is read once; from then on time advances by the monotonic clock. A step
    of the system clock (NTP, a clock set by hand, a VM resumed) then neither expires every
    waiting event at once (forward) nor holds them for the length of the step (backward):
    TTLs last what they say. ``now`` never goes back, nor behind the newest key handed out.

    >>> clock = StreamClock(wall=lambda: 1000.0, monotonic=iter([5.0, 7.5, 8.0]).__next__)
    >>> clock.now(), clock.now(after=2000.0)
    (1002.5, 2000.000001)
    """

    def __init__(
        self,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        max_ahead: float = 60.0,
    ) -> None:
        self._monotonic = monotonic
        self._anchor = wall() - monotonic()
        self.max_ahead = max_ahead
        self._last = -math.inf

    def now(self, after: float = -math.inf) -> float:
        self._last = max(self._anchor + self._monotonic(), self._last, after + 1e-6)
        return self._last

    def bound(self, times: np.ndarray) -> np.ndarray:
        """Event times capped at ``max_ahead`` seconds past now: a producer whose clock runs
        ahead cannot expire every event waiting for its label."""
        return np.minimum(times, self.now() + self.max_ahead)


@dataclass
class EventBatch:
    """Consecutive events: feature columns, labels (NaN: none yet), ids, offsets, ordering
    keys (event times, or the offsets), per-event label delays (or None) and rejects; and
    labels for earlier events, by id, that arrived before these events (``feedback``; with
    ``feedback_tasks``, the task each is for: a multi-task model's clicks, likes…).
    ``drain``: the stream has ended, every label in flight arrives now. ``clock``: for a
    batch without events, how far time has come (labels and expiries due before it happen).

    Parameters
    ----------
    features
        Feature columns (numpy or Arrow arrays), one row per event.
    labels, ids, offsets, keys, delays
        Per event: its label (NaN: none yet), id, offset in its stream, ordering key and
        label delay (None: the run's).
    rejects
        Rows the source turned away, with their reasons.
    feedback_ids, feedback_labels, feedback_tasks
        Labels for earlier events, by id (and task).
    drain, clock
        See above.
    """

    features: dict[str, Any]
    labels: np.ndarray
    ids: np.ndarray  # int64, or object (text ids)
    offsets: np.ndarray
    keys: np.ndarray
    delays: np.ndarray | None = None
    rejects: list[Reject] = field(default_factory=list)
    feedback_ids: np.ndarray | None = None
    feedback_labels: np.ndarray | None = None
    feedback_tasks: np.ndarray | None = None
    drain: bool = False
    clock: float | None = None

    def __post_init__(self) -> None:
        self.ids = as_ids(self.ids)
        if self.feedback_ids is not None:
            self.feedback_ids = as_ids(self.feedback_ids)

    @property
    def has_feedback(self) -> bool:
        return self.feedback_ids is not None and len(self.feedback_ids) > 0

    @staticmethod
    def empty(**options: Any) -> EventBatch:
        """No events (labels for earlier ones, a drain, or just a tick of a live stream)."""
        nothing = np.zeros(0, np.int64)
        return EventBatch({}, np.zeros(0), nothing, nothing, np.zeros(0), **options)

    def __len__(self) -> int:
        return len(self.offsets)

    def slice(self, start: int, stop: int) -> EventBatch:
        return EventBatch(
            {name: take_rows(col, start, stop) for name, col in self.features.items()},
            self.labels[start:stop],
            self.ids[start:stop],
            self.offsets[start:stop],
            self.keys[start:stop],
            None if self.delays is None else self.delays[start:stop],
            self.rejects if start == 0 else [],
            self.feedback_ids if start == 0 else None,
            self.feedback_labels if start == 0 else None,
            self.feedback_tasks if start == 0 else None,
        )


def as_ids(ids: Any) -> np.ndarray:
    """Event ids as an array: int64 when they are integers, else objects (text)."""
    array = ids if isinstance(ids, np.ndarray) else np.asarray(ids)
    if array.dtype == np.int64 or array.dtype == object:
        return array
    if array.dtype.kind in "iu":
        return array.astype(np.int64)
    return np.array([str(i) for i in array.tolist()], dtype=object)
