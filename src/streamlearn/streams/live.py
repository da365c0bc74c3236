"""A live source fed in process (the HTTP API): events and late labels wait in a queue,
and the runner takes them in micro-batches.

Each event gets the next sequence number as its offset and its arrival time (seconds, on a
:class:`~streamlearn.streams.StreamClock`: wall-clock steps do not move it) as its
key, so label delays and TTLs are in seconds. The sequence number is part of every
checkpoint; events still in the queue when a process dies were never acknowledged beyond
"accepted", like a message a producer has not had confirmed.

>>> source = LiveEvents()
>>> source.put([{"colour": "red"}], ids=["a"], labels=[1.0])
1
>>> source.put_feedback(["b"], [0.0])
1
>>> batch = next(source.batches(linger=0.0))
>>> batch.ids.tolist(), batch.labels.tolist(), batch.feedback_ids.tolist()
(['a'], [1.0], ['b'])
"""

from __future__ import annotations

import math
import queue
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from streamlearn.streams.batch import EventBatch, Served, StreamClock, label_array
from streamlearn.streams.decode import check_event, event_columns, task_column
from streamlearn.streams.protocol import EventIngress, EventSource, IngressFull

_EVENT, _FEEDBACK = 0, 1


class LiveEvents(EventSource, EventIngress):
    """Events and labels put by other threads, served as micro-batches.

    Parameters
    ----------
    max_queued
        Events and labels waiting for the trainer, at most: a put that would exceed it
        raises :class:`~streamlearn.streams.protocol.IngressFull` at once, so memory stays
        bounded when the trainer falls behind (the service answers 503, ``Retry-After``).

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.models import LogisticRegression
    >>> from streamlearn.runner import Runner
    >>> events, labels = zip(*elec2.stream(limit=2000))
    >>> source = LiveEvents()
    >>> source.put(list(events), labels=[float(y) for y in labels])
    2000
    >>> source.close()  # the stream ends once the queue is empty
    >>> summary = Runner(LogisticRegression(bits=16), source).run()
    >>> summary.served, round(summary.metrics["accuracy"], 3)
    (2000, 0.848)
    """

    resumes_by_offset = False  # its positions are those of the last batch made

    ends_on_close = True  # once closed and emptied, the stream ends

    def __init__(self, max_queued: int = 200_000) -> None:
        self.max_queued = max_queued
        self._waiting = 0  # events and labels in the queue
        self._count = threading.Lock()
        self._queue: queue.Queue = queue.Queue()
        self._closed = threading.Event()
        self.sequence = 0
        self.last_key = -math.inf
        self.clock = StreamClock()
        self.size = 0
        self.position = 0

    # ------------------------------------------------------------------ producers
    def put(
        self,
        events: Sequence[dict[str, Any]],
        ids: Sequence[Any] | None = None,
        labels: Sequence[float | None] | None = None,
        served: Served | None = None,
    ) -> int:
        """Queue events (with their labels, or None: a label may follow by id); returns how
        many. Ids default to fresh UUIDs. ``served``: how the events were answered already
        (rows, predictions, versions): the runner learns them from those rows."""
        ids = [str(i) for i in ids] if ids is not None else [uuid.uuid4().hex for _ in events]
        labels = list(labels) if labels is not None else [None] * len(events)
        if not (len(ids) == len(labels) == len(events)):
            raise ValueError("events, ids and labels must have the same length")
        for event in events:
            check_event(event)
        if served is not None and len(served.given) != len(events):
            raise ValueError("served must hold one entry per event")
        self._enqueue((_EVENT, list(events), ids, labels, served), len(events))
        return len(events)

    def put_feedback(
        self, ids: Sequence[Any], labels: Sequence[float], tasks: Sequence[str | None] | None = None
    ) -> int:
        """Queue labels for events served earlier, by id (for a multi-task model, each
        with its task)."""
        tasks = list(tasks) if tasks is not None else [None] * len(ids)
        if not (len(ids) == len(labels) == len(tasks)):
            raise ValueError("ids, labels and tasks must have the same length")
        self._enqueue((_FEEDBACK, [str(i) for i in ids], list(labels), tasks), len(ids))
        return len(ids)

    def _enqueue(self, item: tuple, n: int) -> None:
        with self._count:
            if self._waiting + n > self.max_queued:
                raise IngressFull(
                    f"{self._waiting} events and labels wait for the trainer "
                    f"(at most {self.max_queued}): try again shortly"
                )
            self._waiting += n
        self._queue.put(item)

    def _taken(self, item: tuple) -> tuple:
        with self._count:
            self._waiting -= len(item[1])
        return item

    def close(self) -> None:
        """No more events: ``batches`` ends once the queue is empty."""
        self._closed.set()

    # ------------------------------------------------------------------ the runner's side
    def batches(
        self,
        after: int = 0,
        rows: int = 16384,
        last_key: float = -math.inf,
        linger: float = 0.005,
        tick: float = 0.2,
    ) -> Iterator[EventBatch]:
        """Micro-batches of at most ``rows`` events (waiting up to ``linger`` seconds to fill
        one); an empty batch every ``tick`` seconds when nothing comes, so that the runner
        can checkpoint by time and stop."""
        while True:
            items = self._take(rows, linger, tick)
            if not items:
                # Time passes without events: labels and expiries due by now happen.
                yield EventBatch.empty(clock=self._now())
                if self._closed.is_set() and self._queue.empty():
                    return
                continue
            yield self._batch(items)

    def _take(self, rows: int, linger: float, tick: float) -> list[tuple]:
        items, events = [], 0
        try:
            items.append(self._taken(self._queue.get(timeout=tick)))
        except queue.Empty:
            return items
        deadline = time.monotonic() + linger
        while events < rows:
            events += len(items[-1][1]) if items[-1][0] == _EVENT else 0
            remaining = deadline - time.monotonic()
            try:
                item = (
                    self._queue.get(timeout=max(remaining, 0))
                    if remaining > 0
                    else self._queue.get_nowait()
                )
                items.append(self._taken(item))
            except queue.Empty:
                break
        return items

    def _batch(self, items: list[tuple]) -> EventBatch:
        rows, ids, labels, fb_ids, fb_labels, fb_tasks = [], [], [], [], [], []
        served, sizes = [], []
        for item in items:
            if item[0] == _EVENT:
                rows += item[1]
                ids += item[2]
                labels += item[3]
                served.append(item[4])
                sizes.append(len(item[1]))
            else:
                fb_ids += item[1]
                fb_labels += item[2]
                fb_tasks += item[3]
        n = len(rows)
        offsets = np.arange(self.sequence + 1, self.sequence + n + 1, dtype=np.int64)
        self.sequence += n
        # Arrival time, a microsecond apart within a batch, so that each event is served
        # before the next (and a label that came with it is learned in between).
        keys = self._now() + np.arange(n) * 1e-6
        self.last_key = float(keys[-1]) if n else self.last_key
        features = event_columns(rows)
        target = label_array(labels)
        feedback = {}
        if fb_ids:
            feedback = {
                "feedback_ids": np.array(fb_ids, dtype=object),
                "feedback_labels": label_array(fb_labels),
                "feedback_tasks": task_column(fb_tasks),
            }
        ids = np.array(ids, dtype=object)
        answered = Served.combine(served, sizes)
        return EventBatch(features, target, ids, offsets, keys, **feedback, served=answered)

    def _now(self) -> float:
        self.last_key = self.clock.now(after=self.last_key)
        return self.last_key

    # ------------------------------------------------------------------ checkpoints
    def state(self) -> dict[str, Any]:
        return {"sequence": self.sequence}

    def restore(self, state: dict[str, Any]) -> None:
        self.sequence = int(state.get("sequence", 0))
