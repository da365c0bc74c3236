"""Where a runner's events come from: batches of events that each carry an offset.

An offset is an event's position in its stream (a file's data row number here; a Kafka
partition offset in the live service). A checkpoint stores the last offset it includes,
and a restarted runner asks its source for the events after it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from streamlearn.features.columns import rows as take_rows
from streamlearn.streams.batch import EventBatch, as_ids, label_array
from streamlearn.streams.files import FileSource, Reject
from streamlearn.streams.protocol import EventSource


def _numbers(column: Any, name: str) -> np.ndarray:
    """A column of numbers (timestamps become seconds since the epoch)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if isinstance(column, pa.Array):
        if pa.types.is_timestamp(column.type):
            column = pc.cast(pc.cast(column, pa.timestamp("us")), pa.int64())
            return np.asarray(column.to_numpy(zero_copy_only=False), np.float64) / 1e6
        try:
            column = pc.cast(column, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise ValueError(f"column {name!r} must hold numbers or timestamps") from None
        return np.asarray(column.to_numpy(zero_copy_only=False), np.float64)
    return np.asarray(column, np.float64)


class FileEvents(EventSource):
    """A file's rows as events, for replay.

    Parameters
    ----------
    path, target, categorical
        As :class:`streamlearn.streams.FileSource`; rows with an empty target are events
        whose label never comes.
    id_column
        Event ids (default: the offset, i.e. the data row number).
    time_column
        Event times (numbers or timestamps): the order in which labels and events meet, and
        the unit of label delays and TTLs. Default: the offsets.
    delay_column
        Per-event label delay, in the unit of the keys.

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> source = FileEvents(elec2.path(), target="target")
    >>> first = next(source.batches(after=100, rows=50))
    >>> first.offsets[:3].tolist(), len(first), first.labels[:3].tolist()
    ([101, 102, 103], 50, [0.0, 0.0, 0.0])
    """

    def __init__(
        self,
        path: str | os.PathLike,
        target: str,
        categorical: Iterable[str] = (),
        id_column: str | None = None,
        time_column: str | None = None,
        delay_column: str | None = None,
    ) -> None:
        text = set(categorical) | ({id_column} if id_column else set())
        self.file = FileSource(path, target, categorical=text, unlabeled=True)
        self.id_column, self.time_column, self.delay_column = id_column, time_column, delay_column
        self._last_key = -np.inf

    @property
    def position(self) -> int:
        return self.file.position

    @property
    def size(self) -> int:
        return self.file.size

    def batches(
        self, after: int = 0, rows: int = 16384, last_key: float = -np.inf
    ) -> Iterator[EventBatch]:
        """Batches of at most ``rows`` events whose offsets are above ``after``;
        ``last_key`` is the key of the event at ``after`` (keys never go back)."""
        self._last_key = last_key
        for batch in self.file:
            keep = batch.rows > after
            if not keep.any():
                rejects = [r for r in batch.rejects if r.row > after]
                if rejects:  # a stretch of bad rows only: still reported
                    events = EventBatch.empty()
                    events.rejects = rejects
                    yield events
                continue
            batch = self._without_missing_ids(batch.keep(keep) if not keep.all() else batch)
            events = self._events(batch)
            rejects = sorted((r for r in batch.rejects if r.row > after), key=lambda r: r.row)
            for start in range(0, len(events), rows):
                part = events.slice(start, min(start + rows, len(events)))
                # Each reject goes with the micro-batch it falls in (a run stopped there and
                # resumed reports the later ones once, after it).
                last = part.offsets[-1] if start + rows < len(events) else np.inf
                part.rejects = [r for r in rejects if r.row <= last]
                rejects = rejects[len(part.rejects) :]
                yield part

    def _without_missing_ids(self, batch):
        """Rows without an id cannot be joined with a label: rejects."""
        column = batch.features.get(self.id_column) if self.id_column else None
        if column is None or not column.null_count:
            return batch
        present = np.asarray(pc.is_valid(column))
        missing = [Reject(int(row), f"no {self.id_column!r}") for row in batch.rows[~present]]
        return batch.keep(present, missing)

    def _events(self, batch) -> EventBatch:
        features = dict(batch.features)
        offsets = np.asarray(batch.rows, np.int64)
        ids = offsets
        if self.id_column:
            ids = as_ids(_pop(features, self.id_column).to_pylist())
        keys = offsets.astype(np.float64)
        if self.time_column:
            keys = _numbers(_pop(features, self.time_column), self.time_column)
        # Keys must not go back in time: a late-stamped event counts as arriving now.
        keys = np.maximum.accumulate(np.maximum(np.nan_to_num(keys, nan=-np.inf), self._last_key))
        if len(keys):
            self._last_key = float(keys[-1])
        delays = None
        if self.delay_column:
            delays = _numbers(_pop(features, self.delay_column), self.delay_column)
        return EventBatch(features, label_array(batch.target), ids, offsets, keys, delays)


def _pop(features: dict[str, Any], name: str) -> Any:
    if name not in features:
        raise ValueError(f"column {name!r} is not in the data; columns: {sorted(features)}")
    column = features.pop(name)
    return column if isinstance(column, pa.Array | pa.ChunkedArray) else pa.array(column)


class RecordedEvents(EventSource):
    """Events and their feedback as recorded with their times, replayed in time order as a
    live service would have received them (a backtest): the feedback a batch carries is what
    arrived up to its last event; what arrived after the last event comes in batches that
    span as much time as the last batch of events.

    Parameters
    ----------
    features
        Feature columns, one row per event.
    times
        Each event's time (non-decreasing): its key.
    ids
        Each event's id (default: its offset, 1, 2, …).
    feedback
        Columns ``id``, ``time``, ``label`` and, for a multi-task model, ``task``.

    Example
    -------
    >>> source = RecordedEvents({"x": [1.0, 2.0]}, times=[0.0, 5.0], ids=["a", "b"],
    ...                         feedback={"id": ["a"], "time": [3.0], "label": [1.0]})
    >>> [(b.ids.tolist(), b.feedback_ids.tolist() if b.has_feedback else [])
    ...  for b in source.batches(rows=1)]
    [(['a'], []), (['b'], ['a'])]
    """

    def __init__(
        self,
        features: dict[str, Any],
        times: Any,
        ids: Any = None,
        feedback: dict[str, Any] | None = None,
    ) -> None:
        self.times = np.asarray(times, np.float64)
        if len(self.times) and not (np.diff(self.times) >= 0).all():
            raise ValueError("times must not decrease")
        n = len(self.times)
        self.offsets = np.arange(1, n + 1, dtype=np.int64)
        self.ids = as_ids(self.offsets if ids is None else ids)
        self.features = features
        self.feedback = _sorted_feedback(feedback or {"id": [], "time": [], "label": []})
        self.position, self.size = 0, n

    def batches(
        self, after: int = 0, rows: int = 16384, last_key: float = -math.inf
    ) -> Iterator[EventBatch]:
        """Batches of at most ``rows`` events after offset ``after``; feedback that arrived
        after ``last_key``."""
        given = np.searchsorted(self.feedback["time"], last_key, side="right")
        for start in range(int(after), self.size, rows):
            stop = min(start + rows, self.size)
            until = np.searchsorted(self.feedback["time"], self.times[stop - 1], side="right")
            self.position = stop
            yield self._batch(start, stop, given, until)
            given = max(given, until)
        yield from self._trailing_feedback(int(given), rows)

    def _trailing_feedback(self, first: int, rows: int) -> Iterator[EventBatch]:
        """What arrived after the last event, in batches that span as much time as the last
        batch of events did (at most ``rows`` labels), each after a tick at its first label's
        time: what expired before a label came has expired when it comes."""
        arrived = self.feedback["time"]
        pace = float(self.times[-1] - self.times[max(self.size - rows, 0)]) if self.size else 0.0
        while first < len(arrived):
            end = int(np.searchsorted(arrived, arrived[first] + pace, side="right"))
            last = min(max(end, first + 1), first + rows)
            yield EventBatch.empty(clock=float(arrived[first]))
            yield self._batch(self.size, self.size, first, last)
            first = last

    def _batch(self, start: int, stop: int, given: int, until: int) -> EventBatch:
        features = {name: take_rows(col, start, stop) for name, col in self.features.items()}
        part = {k: v[given:until] for k, v in self.feedback.items()}
        feedback = {}
        if until > given:
            feedback = {
                "feedback_ids": part["id"],
                "feedback_labels": part["label"],
                "feedback_tasks": part.get("task"),
            }
        clock = None if stop > start else float(self.feedback["time"][until - 1])
        return EventBatch(
            features,
            np.full(stop - start, np.nan),
            self.ids[start:stop],
            self.offsets[start:stop],
            self.times[start:stop],
            clock=clock,
            **feedback,
        )


def _sorted_feedback(feedback: dict[str, Any]) -> dict[str, np.ndarray]:
    times = np.asarray(feedback["time"], np.float64)
    order = np.argsort(times, kind="stable")
    out = {
        "id": as_ids(feedback["id"])[order],
        "time": times[order],
        "label": label_array(feedback["label"])[order],
    }
    if feedback.get("task") is not None:
        out["task"] = np.asarray(feedback["task"], dtype=object)[order]
    return out
