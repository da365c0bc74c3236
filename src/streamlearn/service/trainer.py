"""Learning while serving: a trainer thread runs the runner; predictions read an immutable
copy of the model that the trainer swaps in atomically.

The trainer learns on its own model. Every ``publish_every`` seconds (and at each
checkpoint) it copies the model and replaces the serving reference in one assignment.
A prediction takes the reference once and uses that copy throughout: it never sees a
half-updated model, and no lock is held while it runs. The compiled kernels release the GIL,
so predictions and learning run at the same time.

A replica in another process serves the registry's champion instead, polling for a new
one (:class:`Replica`).

>>> from streamlearn.models import LogisticRegression
>>> from streamlearn.runner import Runner
>>> from streamlearn.streams.live import LiveEvents
>>> events = LiveEvents()
>>> trainer = Trainer(Runner(LogisticRegression(bits=10), events, drain_at_end=False), events)
>>> trainer.start()
>>> events.put([{"colour": "red"}] * 50, labels=[1.0] * 50)
50
>>> trainer.stop()
>>> trainer.serving.events_learned, bool(trainer.predict([{"colour": "red"}])[0] > 0.5)
(50, True)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from streamlearn.base import (
    PREDICT,
    Classifier,
    Learner,
    MulticlassClassifier,
    ServedByCopies,
    ServesRows,
    task_names,
)
from streamlearn.monitor import Monitor
from streamlearn.registry import CorruptVersion, Registry
from streamlearn.registry.base import PINNED
from streamlearn.runner import Runner, RunSummary
from streamlearn.streams.batch import Rows, Served
from streamlearn.streams.decode import check_event, event_columns, with_a_column
from streamlearn.streams.protocol import EventIngress

log = logging.getLogger("streamlearn.service")


@dataclass(frozen=True)
class Serving:
    """What predictions read: a model nobody mutates, and what it is.

    Parameters
    ----------
    model
        A copy of the trainer's model, never changed once published.
    version
        The version its predictions name.
    events_learned
        Events it had learned when it was copied.
    published_at
        When it was published (Unix time).

    Example
    -------
    >>> from streamlearn.models import LogisticRegression
    >>> serving = Serving(LogisticRegression(bits=8), "v000001", 0, 0.0)
    >>> serving.predict([{"x": 1.0}]).tolist()
    [0.5]
    """

    model: Learner
    version: str
    events_learned: int
    published_at: float

    def predict(self, events: list[dict[str, Any]]) -> np.ndarray:
        """The model's predictions (probabilities for a classifier), not kept."""
        for event in events:
            check_event(event)
        model = self.model
        if isinstance(model, MulticlassClassifier):  # rows of class probabilities
            return np.asarray(model.predict_proba_many(event_columns(events)), np.float64)
        if len(events) == 1:  # the one-event path: no columns to build (tens of microseconds)
            if isinstance(model, Classifier):
                return np.array([model.predict_proba_one(events[0])[True]])
            return np.array([model.predict_one(events[0])], np.float64)
        columns = event_columns(events)
        if isinstance(model, Classifier):
            return np.asarray(model.predict_proba_many(columns), np.float64)
        return np.asarray(model.predict_many(columns), np.float64)

    def answer(self, events: list[dict[str, Any]]) -> tuple[np.ndarray, Served | None]:
        """The predictions of ``events``, made once from the rows this copy encodes for
        them, and those rows, predictions and this version as a :class:`Served` record for
        the trainer to learn from (None for a model whose copies cannot answer for it: the
        trainer then serves the events again)."""
        model = self.model
        if not (isinstance(model, ServedByCopies) and isinstance(model, ServesRows)):
            return self.predict(events), None
        for event in events:
            check_event(event)
        n = len(events)
        if n == 1:  # the one-event path: no columns to build
            hashes, values = (a[None, :] for a in model.encode_row(events[0]))
        else:
            hashes, values = model.encode_rows(with_a_column(event_columns(events), n))
        tasks = task_names(model)
        targets = np.zeros((n, len(tasks))) if tasks else np.zeros(n)
        ops = np.full(n, PREDICT, np.int8)
        scores = np.asarray(model.run_ops(hashes, values, ops, np.arange(n), targets), np.float64)
        versions = np.full(n, self.version, dtype=object)
        encoder = model.encoder_settings()
        record = Served(Rows(hashes, values), scores, versions, np.ones(n, bool), encoder)
        return scores.copy(), record


def _copy(model: Learner) -> Learner:
    return type(model).from_state(model.state())


class Trainer:
    """Runs ``runner`` on ``events`` in a thread and publishes serving copies.

    Parameters
    ----------
    runner
        The run to carry out (its source is usually ``events``).
    events
        Where ``/learn`` and ``/feedback`` put what they get (an
        :class:`~streamlearn.streams.EventIngress`).
    publish_every
        Seconds between serving copies (also at each checkpoint).
    monitor, observe_every
        What gets the run's status, and how often.

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.models import LogisticRegression
    >>> from streamlearn.runner import Runner
    >>> from streamlearn.streams import LiveEvents
    >>> events, labels = zip(*elec2.stream(limit=2000))
    >>> source = LiveEvents()
    >>> trainer = Trainer(Runner(LogisticRegression(bits=16), source, drain_at_end=False), source)
    >>> trainer.start()
    >>> source.put(list(events), labels=[float(y) for y in labels])
    2000
    >>> trainer.stop()
    >>> trainer.serving.events_learned, round(trainer.summary.metrics["accuracy"], 3)
    (2000, 0.848)
    """

    def __init__(
        self,
        runner: Runner,
        events: EventIngress,
        publish_every: float = 0.2,
        monitor: Monitor | None = None,
        observe_every: float = 1.0,
        stall_seconds: float = 60.0,
    ) -> None:
        """``events``: where ``/learn`` and ``/feedback`` put what they get (the runner's own
        live source, or a producer to the topics a Kafka source reads). The ``monitor`` gets
        the run's status every ``observe_every`` seconds. A trainer that finishes no
        micro-batch (an idle stream still gives empty ones) for ``stall_seconds`` is
        stalled."""
        self.runner, self.events = runner, events
        self.stall_seconds = stall_seconds
        self._last_batch = time.monotonic()
        self.publish_every = publish_every
        self.monitor = monitor if monitor is not None else Monitor()
        self.observe_every = observe_every
        self._last_observed = -float("inf")
        self.serving = Serving(_copy(runner.model), runner.version, 0, time.time())
        self.summary: RunSummary | None = None
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._last_publish = 0.0
        self._serving_pinned = False
        self.on_publish: Callable[[Serving], None] | None = None

    def start(self) -> None:
        self.runner.resume()
        self._publish()
        self.observe()
        self._thread = threading.Thread(target=self._loop, name="trainer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        try:
            self.summary = self.runner.run(on_batch=self._after_batch)
        except BaseException as exc:  # reported by /health, never silently lost
            self.error = exc
            raise
        finally:
            self._publish()
            self.observe()

    def observe(self) -> None:
        """Hand the run's status to the monitor (the trainer's thread, or before it runs)."""
        self.monitor.observe(self.runner.status())
        self._last_observed = time.monotonic()

    def _after_batch(self, summary: RunSummary) -> None:
        self._last_batch = time.monotonic()
        self.summary = summary
        if summary.batch_events:
            self.monitor.learn_latency.add(summary.batch_seconds)
            summary.batch_events = 0
        if time.monotonic() - self._last_observed >= self.observe_every:
            self.observe()
        due = time.monotonic() - self._last_publish >= self.publish_every
        if not due:
            return
        pinned = self._pinned()
        changed = (
            summary.learned != self.serving.events_learned
            or self.runner.version != self.serving.version
        )
        if pinned is not None:
            if pinned != self.serving.version:
                self._publish()
            self._last_publish = time.monotonic()
        elif changed:  # a copy of the model costs: only when it learned something
            self._publish()

    def _pinned(self) -> str | None:
        """The version a pin holds (see :meth:`Registry.pin`), if any; a registry out of
        reach keeps what serves now."""
        registry = self.runner.registry
        if registry is None:
            return None
        try:
            return registry.pinned()
        except registry.unavailable:
            return self.serving.version if self._serving_pinned else None

    def _publish(self) -> None:
        pinned = self._pinned()
        if pinned is not None:  # that very model serves, whatever the trainer learns
            if self.serving.version != pinned:
                self._serve_pinned(pinned)
            self._last_publish = time.monotonic()
            return
        self._serving_pinned = False
        runner = self.runner
        self.serving = Serving(
            _copy(runner.model), runner.version, runner.counters["learned"], time.time()
        )
        self._last_publish = time.monotonic()
        if self.on_publish is not None:
            self.on_publish(self.serving)

    def _serve_pinned(self, version_id: str) -> None:
        registry = self.runner.registry
        try:
            state, version = registry.load(version_id)
        except (KeyError, CorruptVersion, *registry.unavailable) as exc:
            log.error(
                "cannot serve the pinned version",
                extra={"event": "pin_failed", "version": version_id, "error": repr(exc)},
            )
            return
        model = state.without_parts().to_learner()
        self.serving = Serving(model, version.id, version.events, time.time())
        self._serving_pinned = True
        if self.on_publish is not None:
            self.on_publish(self.serving)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def seconds_since_batch(self) -> float:
        return time.monotonic() - self._last_batch

    @property
    def stalled(self) -> bool:
        """Running, but no micro-batch finished for ``stall_seconds``."""
        return self.alive and self.seconds_since_batch > self.stall_seconds

    def problems(self) -> list[str]:
        """Why the service is not healthy now (empty: it is): the trainer stopped on an
        error or is stalled, or the run reports trouble it is riding out (see
        ``Runner.problems``)."""
        crashed = [f"trainer stopped: {self.error!r}"] if self.error is not None else []
        if self.stalled:
            crashed.append(
                f"trainer stalled: no micro-batch finished for {self.seconds_since_batch:.0f} s"
            )
        return crashed + self.runner.problems()

    def predict(self, events: list[dict[str, Any]]) -> np.ndarray:
        """Predictions of the serving copy (not kept: see :meth:`serve`)."""
        return self.serving.predict(events)

    def serve(
        self, events: list[dict[str, Any]], ids: list[str], serving: Serving | None = None
    ) -> np.ndarray:
        """Answer ``events`` once (by ``serving``, default the copy serving now) and queue
        them for learning with what was answered: the rows encoded, the predictions
        returned and the version that made them are what the prediction log, the label
        join, the metrics and learning get."""
        scores, served = (serving or self.serving).answer(events)
        self.events.put(events, ids=ids, served=served)
        return scores

    def stop(self, timeout: float = 60.0) -> None:
        """Learn what is queued, checkpoint, stop."""
        self.events.close()
        if not self.events.ends_on_close:
            self.runner.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)
        self.runner.close()


class Replica:
    """Serves the registry's champion; polls for a new one every ``poll_every`` seconds.

    Parameters
    ----------
    registry
        The registry whose ``champion`` it serves.
    poll_every
        Seconds between looks for a new champion.
    monitor
        What gets the replica's status (the version served and its saved metrics).

    Example
    -------
    >>> import tempfile
    >>> from streamlearn.models import LogisticRegression
    >>> from streamlearn.registry import LocalRegistry
    >>> registry = LocalRegistry(tempfile.mkdtemp())
    >>> version = registry.save(LogisticRegression(bits=8).state(), events=0, tags=["champion"])
    >>> Replica(registry).serving.version
    'v000001'
    """

    def __init__(
        self, registry: Registry, poll_every: float = 1.0, monitor: Monitor | None = None
    ) -> None:
        self.registry = registry
        self.poll_every = poll_every
        self.monitor = monitor if monitor is not None else Monitor()
        self.serving: Serving | None = None
        self.error: str | None = None  # the last poll's, until a poll succeeds
        self._version: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.refresh()

    def refresh(self) -> bool:
        """Load the champion if it changed; returns whether it did."""
        champion = self.registry.tagged(PINNED) or self.registry.tagged("champion")
        if champion is None or (self.serving and self.serving.version == champion.id):
            return False
        state, version = self.registry.load(champion.id)
        model = state.without_parts().to_learner()
        self.serving = Serving(model, version.id, version.events, time.time())
        self._version = version
        return True

    def observe(self) -> None:
        """What a replica knows: the version it serves, with the metrics saved with it."""
        version = self._version
        lanes = (
            []
            if version is None
            else [
                {
                    "lane": "champion",
                    "model": type(self.serving.model).__name__,
                    "version": version.id,
                    "metrics": version.metrics,
                }
            ]
        )
        learned = version.events if version is not None else 0
        self.monitor.observe(
            {
                "learned": learned,
                "lanes": lanes,
                "drifts": version.drifts if version is not None else [],
            }
        )

    def start(self) -> None:
        self._thread = threading.Thread(target=self._poll, name="replica", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        self.observe()
        while not self._stop.wait(self.poll_every):
            self._refresh_or_carry_on()
            self.observe()

    def _refresh_or_carry_on(self) -> None:
        """A registry out of reach (Redis down, a disk gone) leaves the replica serving the
        version it has, reporting the error, and trying again at the next poll."""
        try:
            self.refresh()
        except self.registry.unavailable as exc:
            if self.error is None:
                log.error(
                    "registry unreachable",
                    extra={"event": "registry_unavailable", "error": repr(exc)},
                )
            self.error = f"registry unreachable: {type(exc).__name__}: {exc}"
        else:
            if self.error is not None:
                log.info("registry reachable again", extra={"event": "registry_recovered"})
            self.error = None

    def problems(self) -> list[str]:
        """Why the replica is not healthy now (empty: it is)."""
        return [self.error] if self.error else []

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    stalled = False  # a replica's poller waits on the registry, it does not stall
    seconds_since_batch = 0.0

    def predict(self, events: list[dict[str, Any]]) -> np.ndarray:
        if self.serving is None:
            raise RuntimeError("no champion in the registry yet")
        return self.serving.predict(events)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
