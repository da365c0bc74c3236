"""The contracts of the stream layer: what the runner asks of an event source, what the HTTP
API asks of the door it puts events through, and what a prediction sink takes.

A source hands out micro-batches after an offset, and may keep state (a Kafka consumer's
positions, a live queue's sequence number) that goes into every checkpoint: ``state`` for
the checkpoint, ``restore`` on resume, ``committed`` once a checkpoint holding that state is
durable (a Kafka source commits its offsets then).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from streamlearn.streams.batch import EventBatch, Served


class EventSource(ABC):
    """Where a runner's events come from (files, recorded, live, Kafka).

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.streams import FileEvents
    >>> source = FileEvents(elec2.path(), "target")
    >>> batch = next(source.batches(rows=1000))
    >>> isinstance(source, EventSource), len(batch)
    (True, 1000)
    """

    error: str | None = None  # the source's current trouble (a broker down), or None
    # A run resumes from the offset a checkpoint stores alone (its state does not say how
    # far into a batch the run got): a checkpoint may fall inside a batch.
    resumes_by_offset: bool = True

    @abstractmethod
    def batches(
        self, after: int = 0, rows: int = 16384, last_key: float = -math.inf
    ) -> Iterator[EventBatch]:
        """Micro-batches of at most ``rows`` events whose offsets are above ``after``;
        ``last_key`` is the key of the event at ``after`` (keys never go back)."""

    def state(self) -> dict[str, Any]:
        """JSON-able state a checkpoint keeps (none by default)."""
        return {}

    def restore(self, state: dict[str, Any]) -> None:  # noqa: B027 (an optional hook)
        """Continue from a checkpoint's :meth:`state`."""

    def committed(self, state: dict[str, Any]) -> None:  # noqa: B027 (an optional hook)
        """A checkpoint holding ``state`` is durable."""

    def close(self) -> None:  # noqa: B027 (an optional hook)
        """Let go of files, consumers and threads."""


class IngressFull(Exception):
    """The trainer is behind: events wait up to the configured bound. Try again after
    ``retry_after`` seconds (the HTTP service answers 503 with ``Retry-After``).

    Parameters
    ----------
    message
        What is full, for the client.
    retry_after
        Seconds to wait before trying again.

    Example
    -------
    >>> from streamlearn.streams import LiveEvents
    >>> queue = LiveEvents(max_queued=2)
    >>> try:
    ...     queue.put([{"x": 1.0}, {"x": 2.0}, {"x": 3.0}])
    ... except IngressFull as full:
    ...     print(full.retry_after > 0)
    True
    """

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class EventIngress(ABC):
    """Where the HTTP API puts the events and labels it accepts (the live queue, or the
    Kafka topics the trainer reads).

    Example
    -------
    >>> from streamlearn.streams import LiveEvents
    >>> isinstance(LiveEvents(), EventIngress)
    True
    """

    ends_on_close: bool = True  # once closed (and emptied), the trainer's stream ends

    @abstractmethod
    def put(
        self,
        events: Sequence[dict[str, Any]],
        ids: Sequence[Any] | None = None,
        labels: Sequence[float | None] | None = None,
        served: Served | None = None,
    ) -> int:
        """Queue events with their labels (None: a label may follow by id); ``served``:
        how they were answered already (the trainer learns them from those rows; an ingress
        that cannot carry rows lets the trainer serve the events again)."""

    @abstractmethod
    def put_feedback(
        self, ids: Sequence[Any], labels: Sequence[float], tasks: Sequence[str | None] | None = None
    ) -> int:
        """Queue labels for earlier events, by id (and task, for a multi-task model)."""

    def close(self) -> None:  # noqa: B027 (an optional hook)
        """No more events."""


class PredictionSink(ABC):
    """Where served predictions go, a micro-batch at a time; flushed at every checkpoint.

    Example
    -------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from streamlearn.streams import CsvPredictions
    >>> sink = CsvPredictions(Path(tempfile.mkdtemp()) / "predictions.csv")
    >>> isinstance(sink, PredictionSink)
    True
    """

    @abstractmethod
    def write(
        self, ids: np.ndarray, offsets: np.ndarray, predictions: np.ndarray, versions: np.ndarray
    ) -> None:
        """Log one micro-batch's served predictions, each with the version that made it."""

    def flush(self) -> None:  # noqa: B027 (an optional hook)
        """Make what was written durable (at every checkpoint)."""

    def close(self) -> None:  # noqa: B027 (an optional hook)
        """Flush and let go."""
