"""A checkpoint as a registry version: the champion model's state, with the runner's state
as its named part — each lane's waiting entries, labels in flight, metrics and counters
(and a challenger's model), the rows the source turned away, the source's positions, the
latest rollbacks and promotions.

A reader that wants the model loads the version as it is; :func:`restore_lanes` puts a run
back where a checkpoint left it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from streamlearn.base import State
from streamlearn.base.state import nest, nested_part
from streamlearn.runner.lane import Lane
from streamlearn.streams.batch import EventBatch

log = logging.getLogger("streamlearn.runner")
RUNNER_PART = "runner"  # a checkpoint's second part, beside the champion model


def checkpoint_state(lanes: list[Lane], runner_meta: dict[str, Any]) -> State:
    """The champion's state with every lane's as the runner part (``runner_meta`` gets
    the lanes' metadata as ``lanes``)."""
    state = lanes[0].model.state()
    lanes_arrays, lanes_meta = {}, []
    for i, lane in enumerate(lanes):
        arrays, meta = lane.arrays(), {"lane": lane.meta()}
        if i > 0:
            inner = lane.model.state()
            arrays |= nest({"model": inner.arrays})
            meta |= {"kind": inner.kind, "params": inner.params, "meta": inner.meta}
        lanes_arrays[f"lane{i}"] = arrays
        lanes_meta.append(meta)
    runner = State("Runner", {}, nest(lanes_arrays), {"lanes": lanes_meta} | runner_meta)
    return State(state.kind, state.params, state.arrays, state.meta, {RUNNER_PART: runner})


def restore_lanes(lanes: list[Lane], state: State, version_id: str) -> dict[str, Any]:
    """Each lane as the checkpoint ``state`` left it; returns the runner part's metadata.
    Refuses a version that no runner wrote, or one with another number of models."""
    part = state.parts.get(RUNNER_PART)
    runner = part.meta if part is not None else {}
    if "lanes" not in runner:
        raise ValueError(f"version {version_id} was not written by a runner: cannot resume")
    if len(runner["lanes"]) != len(lanes):
        raise ValueError(
            f"version {version_id} has {len(runner['lanes'])} models, "
            f"this run {len(lanes)}: cannot resume"
        )
    for i, (lane, meta) in enumerate(zip(lanes, runner["lanes"], strict=True)):
        lane_arrays = nested_part(part.arrays, f"lane{i}")
        if i == 0:
            model = state.without_parts().to_learner()
        else:
            inner = nested_part(lane_arrays, "model")
            model = State(meta["kind"], meta["params"], inner, meta["meta"]).to_learner()
        lane.restore(model, lane_arrays, meta["lane"])
        lane.version = version_id
    return runner


class CheckpointPolicy:
    """When a run checkpoints — after ``every`` events and/or ``seconds`` (at the end of a
    micro-batch; by time only when something changed: an idle stream adds no versions) —
    and what happens when one cannot be written: a periodic checkpoint that fails (a full
    disk, the registry or the predictions topic out of reach) is logged and tried again when
    the next is due; the previous version stays valid and learning goes on.

    Parameters
    ----------
    every
        Events between checkpoints (None: not by events).
    seconds
        Seconds between checkpoints (None: not by time).

    Example
    -------
    >>> policy = CheckpointPolicy(every=1000, seconds=None)
    >>> policy.count(600)
    >>> policy.due(changed=lambda: True)
    False
    >>> policy.count(600)
    >>> policy.due(changed=lambda: True)
    True
    """

    def __init__(self, every: int | None, seconds: float | None) -> None:
        self.every, self.seconds = every, seconds
        self.failures = 0
        self.error: str | None = None  # the last checkpoint's, while it lasts
        self.restart()

    def restart(self) -> None:
        """Count events and time from now."""
        self.events, self.since = 0, time.monotonic()

    def count(self, events: int) -> None:
        self.events += events

    def cut(self, batch: EventBatch) -> Iterator[EventBatch]:
        """``batch`` in parts, each ending where a checkpoint by count falls due (counted,
        and checkpointed, before the next is made), so that checkpoints come at exactly
        every ``every`` events. A batch with labels by id stays whole: they are due with
        its events."""
        start = 0
        while not batch.has_feedback and len(batch) - start > self.every - self.events > 0:
            stop = start + self.every - self.events
            yield batch.slice(start, stop)
            start = stop
        yield batch if start == 0 else batch.slice(start, len(batch))

    def due(self, changed: Callable[[], bool]) -> bool:
        by_events = self.every is not None and self.events >= self.every
        by_time = (
            self.seconds is not None and time.monotonic() - self.since >= self.seconds and changed()
        )
        return by_events or by_time

    def attempt(self, write: Callable[[], Any], unavailable: type[BaseException]) -> None:
        """``write`` a periodic checkpoint, or note why it could not be written."""
        try:
            write()
        except unavailable as exc:
            self.failures += 1
            self.error = f"checkpoint failed: {type(exc).__name__}: {exc}"
            log.error(
                "checkpoint failed", extra={"event": "checkpoint_failed", "error": self.error}
            )
        else:
            if self.error is not None:
                log.info("checkpoints work again", extra={"event": "checkpoint_recovered"})
            self.error = None
        self.restart()
