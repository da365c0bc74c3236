"""When a micro-batch fails in the middle of learning: find the events that fail, dead-letter
them, and go on as if they had never come.

A failure can leave the models half-updated, so the run goes back to its last checkpoint,
replays the micro-batches it has run since (kept in memory until the next checkpoint), then
runs the failed batch one event at a time: an event that fails again is dead-lettered with
its reason, and the run goes back and replays once more without it. Per-event semantics
make the result exactly that of a run on the stream without those events. A run with no
registry, or that has run more than ``max_events`` since its checkpoint, cannot go back:
the failure ends the run (a supervisor restarts it from the checkpoint).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from streamlearn.registry import Registry
from streamlearn.runner.checkpoint import restore_lanes
from streamlearn.runner.lane import Lane
from streamlearn.streams.batch import EventBatch
from streamlearn.streams.files import Reject

log = logging.getLogger("streamlearn.runner")


class RunFailed(RuntimeError):
    """A micro-batch failed and the run could not go back to isolate the events at fault.

    Example
    -------
    >>> issubclass(RunFailed, RuntimeError)
    True
    """


class Recovery:
    """The micro-batches run since the last checkpoint, and the way back to it.

    Parameters
    ----------
    registry
        Where the checkpoints are (None: no way back).
    max_events
        At most this many events are kept for a replay; past it, until the next checkpoint,
        a failure ends the run.

    Example
    -------
    >>> recovery = Recovery(registry=None, max_events=1000)
    >>> recovery.start("v000001")  # a checkpoint: kept batches start after it
    >>> recovery.base, recovery.events, recovery.isolated
    ('v000001', 0, 0)
    """

    MAX_FAILING = 100  # events of one micro-batch: more is no bad event but a broken part

    def __init__(self, registry: Registry | None, max_events: int = 250_000) -> None:
        self.registry, self.max_events = registry, max_events
        self.base: str | None = None  # the checkpoint the kept batches follow
        self.kept: list[EventBatch] = []
        self.events = 0
        self.isolated = 0  # events dead-lettered by a recovery, this run

    def start(self, version_id: str) -> None:
        """A checkpoint ``version_id`` was saved or resumed: keep batches from here on."""
        self.base, self.kept, self.events = version_id, [], 0

    def forget(self) -> None:
        """The models changed in a way a replay would not repeat (a swap, a mix): no way
        back until the next checkpoint."""
        self.base, self.kept, self.events = None, [], 0

    def keep(self, batch: EventBatch) -> None:
        if self.base is None:
            return
        self.events += len(batch)
        if self.events > self.max_events:
            if self.kept:
                log.warning(
                    "too many events since the checkpoint to replay after a failure",
                    extra={"event": "recovery_off", "events": self.events},
                )
            self.kept = []
            return
        self.kept.append(batch)

    @property
    def possible(self) -> bool:
        return self.base is not None and self.events <= self.max_events

    def isolate(
        self,
        lanes: list[Lane],
        batch: EventBatch,
        error: Exception,
        step: Callable[[EventBatch, bool], Any],
    ) -> list[Reject]:
        """Put the lanes where running ``batch`` without its failing events leaves them
        (``step(batch, quiet)`` runs one batch; quiet: replayed, logs nothing); returns
        the dead letters of those events. Raises :class:`RunFailed` when it cannot."""
        reason = f"{type(error).__name__}: {error}"
        if not self.possible:
            raise RunFailed(
                f"a micro-batch failed ({reason}) and the run cannot go back to isolate it: "
                + ("no registry" if self.registry is None else "too long since the checkpoint")
            ) from error
        log.error(
            "a micro-batch failed: isolating its events",
            extra={"event": "batch_failed", "error": reason, "events": len(batch)},
        )
        good: list[list[int]] = []  # runs of events that went through: [start, stop)
        rejects: list[Reject] = []
        self._rewind(lanes, step, batch, good)
        if not len(batch):  # labels alone, for earlier events: they are what failed
            rejects = _labels_dead_lettered(batch, error)
        for i in range(len(batch)):
            try:
                step(batch.slice(i, i + 1), False)
            except Exception as exc:  # whatever one event does wrong is its own
                rejects.append(_dead_letter(batch, i, exc))
                if len(rejects) > self.MAX_FAILING:
                    raise RunFailed(
                        f"more than {self.MAX_FAILING} events of one micro-batch fail "
                        f"({reason}): a broken learner or stream, not a bad event"
                    ) from error
                self._rewind(lanes, step, batch, good)
            else:
                if good and good[-1][1] == i:
                    good[-1][1] = i + 1
                else:
                    good.append([i, i + 1])
        self.kept.extend(batch.slice(start, stop) for start, stop in good)
        self.isolated += len(rejects)
        log.error(
            "isolated failing events",
            extra={"event": "events_isolated", "dead_letters": len(rejects), "error": reason},
        )
        return rejects

    def _rewind(
        self,
        lanes: list[Lane],
        step: Callable[[EventBatch, bool], Any],
        batch: EventBatch,
        good: list[list[int]],
    ) -> None:
        """Back to the checkpoint, then the kept batches and the ``good`` runs of ``batch``
        again, quietly."""
        state, version = self.registry.load(self.base)
        restore_lanes(lanes, state, version.id)
        for kept in self.kept:
            step(kept, True)
        for start, stop in good:
            step(batch.slice(start, stop), True)


def _dead_letter(batch: EventBatch, i: int, error: Exception) -> Reject:
    return Reject(
        int(batch.offsets[i]),
        f"event {batch.ids[i]!r} failed in the trainer: {type(error).__name__}: {error}",
    )


def _labels_dead_lettered(batch: EventBatch, error: Exception) -> list[Reject]:
    ids = [] if batch.feedback_ids is None else batch.feedback_ids.tolist()
    why = f"failed in the trainer: {type(error).__name__}: {error}"
    return [Reject(-1, f"the label of event {i!r} {why}") for i in ids]
