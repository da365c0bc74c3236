"""A micro-batch of events as the runner takes it: columns, labels, ids, offsets, keys (event
time) and labels for earlier events by id; and the clock that stamps live events.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from streamlearn.base.classes import check_label
from streamlearn.base.predictions import stack_predictions
from streamlearn.features.columns import rows as take_rows
from streamlearn.streams.files import Reject


def label_array(values: Any) -> np.ndarray:
    """Labels as the runner takes them: float64 (NaN: none yet) when each is a number, a
    bool or missing; otherwise an object array of class labels (None: none yet), which a
    multiclass model numbers as it meets them."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
        return values.astype(np.float64)
    values = values.tolist() if isinstance(values, np.ndarray) else list(values)
    numbers = [v for v in values if v is not None and not _is_nan(v)]
    if all(isinstance(v, int | float | np.number) for v in numbers):
        return np.array([math.nan if v is None else float(v) for v in values], np.float64)
    return np.array([None if v is None or _is_nan(v) else v for v in values], dtype=object)


def number_labels(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels as numbers (NaN: none), and which were refused (not a finite number or bool:
    NaN too), for a model whose labels are numbers."""
    if labels.dtype.kind in "fiub":
        return labels.astype(np.float64), np.zeros(len(labels), bool)
    numbers = np.full(len(labels), np.nan)
    refused = np.zeros(len(labels), bool)
    for i, label in enumerate(labels.tolist()):
        if label is None:
            continue
        if isinstance(label, int | float) and math.isfinite(label):
            numbers[i] = float(label)
        else:
            refused[i] = True
    return numbers, refused


def binary_labels(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A binary model's labels as 0/1 (NaN: none), and which were refused (not 0, 1 or a
    bool: NaN too)."""
    numbers, refused = number_labels(labels)
    bad = np.isfinite(numbers) & (numbers != 0.0) & (numbers != 1.0)
    numbers[bad] = np.nan
    return numbers, refused | bad


MAX_ABS_LABEL = 1e12  # a number label's default bounds: ± this


def bounded_labels(
    labels: np.ndarray, low: float = -MAX_ABS_LABEL, high: float = MAX_ABS_LABEL
) -> tuple[np.ndarray, np.ndarray]:
    """Number labels (NaN: none), and which were refused (not a number within
    [``low``, ``high``]: ±inf and NaN too): one absurd target cannot wreck a regression."""
    numbers, refused = number_labels(labels)
    bad = ~np.isnan(numbers) & ~((numbers >= low) & (numbers <= high))
    numbers[bad] = np.nan
    return numbers, refused | bad


def is_class_label(value: Any) -> bool:
    """A label from outside that may name a class: a finite number, a bool, or text of at
    most :data:`~streamlearn.base.classes.MAX_LABEL_CHARS` characters of valid Unicode."""
    if not isinstance(value, bool | int | float | str):
        return False
    try:
        check_label(value)
    except ValueError:
        return False
    return True


def shown(value: Any, limit: int = 80) -> str:
    """A value for an error message: its repr (a numpy number's as a Python one), cut short."""
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_nan(value: Any) -> bool:
    return isinstance(value, float | np.floating) and math.isnan(value)


class StreamClock:
    """Processing time for live sources, in wall-clock seconds that cannot jump.

    The wall clock is read once; from then on time advances by the monotonic clock. A step
    of the system clock (NTP, a clock set by hand, a VM resumed) then neither expires every
    waiting event at once (forward) nor holds them for the length of the step (backward):
    TTLs last what they say. ``now`` never goes back, nor behind the newest key handed out.

    Parameters
    ----------
    wall, monotonic
        The clocks read (the system's by default; tests give their own).
    max_ahead
        How far past now an event time may be (see :meth:`bound`).

    Example
    -------
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
class Rows:
    """Encoded rows as served: 32-bit feature hashes and values, (rows, slots).

    Parameters
    ----------
    hashes, values
        Two arrays of shape (rows, slots): 32-bit feature hashes and their values (a slot
        of value 0 is padding).

    Example
    -------
    >>> rows = Rows(np.array([[1, 2], [3, 4]], np.uint32), np.array([[1.0, 1.0], [0.5, 1.0]]))
    >>> len(rows), rows.take(np.array([1])).values.tolist()
    (2, [[0.5, 1.0]])
    """

    hashes: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.hashes)

    def take(self, index: np.ndarray) -> Rows:
        return Rows(self.hashes[index], self.values[index])

    @staticmethod
    def stack(parts: Sequence[Rows]) -> Rows:
        """One block of rows; fewer slots are padded with value 0 (which the kernels skip)."""
        width = max((p.hashes.shape[1] for p in parts), default=0)
        n = sum(len(p) for p in parts)
        hashes = np.zeros((n, width), np.uint32)
        values = np.zeros((n, width))
        at = 0
        for p in parts:
            hashes[at : at + len(p), : p.hashes.shape[1]] = p.hashes
            values[at : at + len(p), : p.values.shape[1]] = p.values
            at += len(p)
        return Rows(hashes, values)

    @staticmethod
    def none(n: int = 0) -> Rows:
        return Rows(np.zeros((n, 0), np.uint32), np.zeros((n, 0)))


@dataclass
class Served:
    """Events answered before they reached the runner (by the HTTP service's serving copy):
    for each, the row its model encoded, the prediction the client got and that model's
    version. ``given[i]`` says event ``i`` was served so (the runner serves the others);
    ``featurizer``: the settings of the featurizer that encoded the rows (a model with other
    settings cannot learn from them and serves the events itself).

    Parameters
    ----------
    rows, predictions, versions, given
        Per event of the batch (rows, predictions and versions are placeholders where
        ``given`` is False).
    featurizer
        The encoding featurizer's ``params()``.

    Example
    -------
    >>> served = Served.nothing(3, {})
    >>> len(served.predictions), served.given.tolist()
    (3, [False, False, False])
    """

    rows: Rows
    predictions: np.ndarray
    versions: np.ndarray
    given: np.ndarray
    featurizer: dict[str, Any]

    def take(self, index: np.ndarray) -> Served:
        return Served(
            self.rows.take(index),
            self.predictions[index],
            self.versions[index],
            self.given[index],
            self.featurizer,
        )

    @staticmethod
    def combine(parts: Sequence[Served | None], sizes: Sequence[int]) -> Served | None:
        """One record for consecutive groups of ``sizes`` events (None in ``parts``: a group
        the runner serves). Rows from featurizers of different settings cannot share a
        batch: then the runner serves them all."""
        known = [p for p in parts if p is not None]
        if not known or any(p.featurizer != known[0].featurizer for p in known):
            return None
        featurizer = known[0].featurizer
        filled = [
            p if p is not None else Served.nothing(n, featurizer)
            for p, n in zip(parts, sizes, strict=True)
        ]
        return Served(
            Rows.stack([p.rows for p in filled]),
            stack_predictions([p.predictions for p in filled]),
            np.concatenate([p.versions for p in filled]),
            np.concatenate([p.given for p in filled]),
            featurizer,
        )

    @staticmethod
    def nothing(n: int, featurizer: dict[str, Any]) -> Served:
        return Served(
            Rows.none(n),
            np.full(n, np.nan),
            np.full(n, "", dtype=object),
            np.zeros(n, bool),
            featurizer,
        )


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
    served
        Events answered before they reached the runner (see :class:`Served`).

    Example
    -------
    >>> import numpy as np
    >>> ids = np.array(["a", "b"], object)
    >>> batch = EventBatch({"x": np.array([1.0, 2.0])}, np.array([1.0, np.nan]), ids,
    ...                    np.array([1, 2]), np.array([0.0, 1.0]))
    >>> len(batch), batch.ids.tolist(), batch.slice(1, 2).offsets.tolist()
    (2, ['a', 'b'], [2])
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
    served: Served | None = None

    def __post_init__(self) -> None:
        self.ids = as_ids(self.ids)
        if self.feedback_ids is not None:
            self.feedback_ids = as_ids(self.feedback_ids)

    @property
    def has_feedback(self) -> bool:
        return self.feedback_ids is not None and len(self.feedback_ids) > 0

    def without_feedback(self, drop: np.ndarray) -> EventBatch:
        """The batch without the pieces of feedback where ``drop`` (a mask over them) holds;
        the rest keep their labels and tasks."""
        keep = ~np.asarray(drop, bool)
        tasks = self.feedback_tasks
        return replace(
            self,
            feedback_ids=self.feedback_ids[keep],
            feedback_labels=np.asarray(self.feedback_labels)[keep],
            feedback_tasks=None if tasks is None else np.asarray(tasks)[keep],
        )

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
            served=None if self.served is None else self.served.take(np.arange(start, stop)),
        )


def as_ids(ids: Any) -> np.ndarray:
    """Event ids as an array: int64 when they are integers, else objects (text)."""
    array = ids if isinstance(ids, np.ndarray) else np.asarray(ids)
    if array.dtype == np.int64 or array.dtype == object:
        return array
    if array.dtype.kind in "iu":
        return array.astype(np.int64)
    return np.array([str(i) for i in array.tolist()], dtype=object)
