"""Iterative parameter mixing (McDonald, Hall & Mann 2010) through Redis: several workers,
each learning its own partitions of the stream, share one global model.

Every ``every_events`` learned events (or ``every_seconds``), a worker publishes its
model's mixable arrays (a linear model's weight table and intercept; the featurizer's
statistics stay local) with the number of events it learned since its last mix, reads the
latest publication of every live worker, and continues from their average weighted by
those counts. Mixing is asynchronous — no barrier — so a slow or dead worker never stalls
the others; a worker silent for ``stale_after`` seconds drops out of the average.

>>> # see tests/test_scale_out.py: two runners on a real Redis share one model
"""

from __future__ import annotations

import io
import json
import math
import time
import zipfile
from typing import Any

import numpy as np

from streamlearn.base import Learner, Mixable, State


def mixable(model: Learner) -> list[str]:
    """The arrays of ``model``'s state that mixing averages."""
    if isinstance(model, Mixable):
        return list(model.mixable_arrays)
    arrays = model.state().arrays
    return [name for name in ("table", "intercept") if name in arrays]


class ParameterMixer:
    """One worker's side of the mixing (see the module doc).

    Parameters
    ----------
    client
        A redis-py client.
    group
        The key prefix shared by the workers of one model.
    worker
        This worker's name (unique in the group).
    every_events, every_seconds
        When to mix.
    stale_after
        Seconds after which a silent worker's weights are left out.

    Example
    -------
    >>> import redis
    >>> mixer = ParameterMixer(redis.Redis(host="127.0.0.1", port=6379), "clicks", "w1")
    >>> mixer.due(learned=5_000), mixer.due(learned=10_000)
    (False, True)
    """

    def __init__(
        self,
        client: Any,
        group: str,
        worker: str,
        every_events: int | None = 10_000,
        every_seconds: float | None = None,
        stale_after: float = 60.0,
    ) -> None:
        if every_events is None and every_seconds is None:
            raise ValueError("mix every_events and/or every_seconds")
        self.client, self.group, self.worker = client, group, worker
        self.every_events, self.every_seconds = every_events, every_seconds
        self.stale_after = stale_after
        self.mixes = 0
        self.error: str | None = None  # the last mix's, while Redis is out of reach
        self._learned_at_mix = self._tried_at = 0
        self._last = time.monotonic()

    def due(self, learned: int) -> bool:
        by_events = self.every_events is not None and learned - self._tried_at >= (
            self.every_events
        )
        by_time = self.every_seconds is not None and time.monotonic() - self._last >= (
            self.every_seconds
        )
        return (by_events or by_time) and learned > self._learned_at_mix

    def mix(self, model: Learner, learned: int) -> Learner:
        """Publish this worker's arrays, average everybody's; returns the mixed model. With
        Redis out of reach the worker goes on alone (the error is kept for ``/health``) and
        tries again when the next mix is due."""
        from redis.exceptions import ConnectionError, TimeoutError

        self._tried_at, self._last = learned, time.monotonic()
        try:
            mixed = self._mix(model, learned)
        except (ConnectionError, TimeoutError) as exc:
            self.error = f"mixing: Redis unreachable: {exc}"
            return model
        self.error = None
        return mixed

    def _mix(self, model: Learner, learned: int) -> Learner:
        names = mixable(model)
        state = model.state()
        weight = float(learned - self._learned_at_mix)
        self._publish({name: state.arrays[name] for name in names}, weight)
        total = {name: np.zeros_like(state.arrays[name], dtype=np.float64) for name in names}
        weights = 0.0
        for arrays, w in self._everyone(names, state):
            for name in names:
                total[name] += w * arrays[name]
            weights += w
        self._learned_at_mix, self._last = learned, time.monotonic()
        self.mixes += 1
        if weights <= 0:
            return model
        mixed = dict(state.arrays) | {name: total[name] / weights for name in names}
        return type(model).from_state(State(state.kind, state.params, mixed, state.meta))

    def _key(self, worker: str) -> str:
        return f"{self.group}:mix:{worker}"

    def _publish(self, arrays: dict[str, np.ndarray], weight: float) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)  # plain arrays (npz, no pickle: object arrays refused)
        self.client.hset(
            self._key(self.worker),
            mapping={"arrays": buffer.getvalue(), "weight": weight, "time": time.time()},
        )
        self.client.sadd(f"{self.group}:mix:workers", self.worker)

    def _everyone(self, names: list[str], state: State):
        """(arrays, weight) of every live worker whose arrays fit this model."""
        now = time.time()
        for raw in sorted(self.client.smembers(f"{self.group}:mix:workers")):
            worker = raw.decode() if isinstance(raw, bytes) else raw
            read = _checked_entry(self.client.hgetall(self._key(worker)), names, state)
            if read is not None and now - read[2] <= self.stale_after:
                yield read[0], read[1]

    def describe(self) -> str:
        return json.dumps({"group": self.group, "worker": self.worker, "mixes": self.mixes})


def _checked_entry(entry: dict, names: list[str], state: State) -> tuple | None:
    """A worker's published (arrays, weight, time), or None when anything in it is off
    (garbage, a missing or misshapen array, a value or weight that is not a finite number):
    Redis is shared, and nothing read from it may poison this worker's model."""
    try:
        weight, published = float(entry[b"weight"]), float(entry[b"time"])
        with np.load(io.BytesIO(entry[b"arrays"]), allow_pickle=False) as data:
            arrays = {name: np.asarray(data[name]) for name in names if name in data.files}
    except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile):
        return None
    for name in names:
        array = arrays.get(name)
        mine = state.arrays[name]
        if array is None or array.shape != mine.shape or array.dtype.kind not in "fiu":
            return None
        if not np.isfinite(array).all():
            return None
    if not (math.isfinite(weight) and weight > 0 and math.isfinite(published)):
        return None
    return arrays, weight, published
