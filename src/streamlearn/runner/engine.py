"""The runner: one loop for replay and live service.

For every event: validate (bad rows go to the dead letters) → featurize → predict → log the
prediction (with the model version) → wait in the join store → when its label arrives, learn
from the features as served → score → (drift handling lives in the learner) → checkpoint by
policy. Each model runs in a :class:`~streamlearn.runner.lane.Lane`: the champion serves,
challengers learn and are scored in shadow on the same events.

A checkpoint is a registry version holding the champion model, the offset of the last event
it includes, the join store's waiting entries, the labels in flight, the metrics and the
challengers. A runner started on a registry that has versions resumes from the newest one
that loads, and ends with exactly the model an uninterrupted run would have. If the
``champion`` tag points elsewhere (``streamlearn registry rollback``), the runner takes that
version's model and goes on from where the stream stands. A fresh run saves its starting
model as the first version, so that every prediction names the version that made it (here:
the start, 20,000 and 40,000 events, and the end).
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from streamlearn.base import Learner
from streamlearn.base.kernel_clock import KernelClock
from streamlearn.registry import Registry
from streamlearn.runner import report
from streamlearn.runner.checkpoint import CheckpointPolicy
from streamlearn.runner.checkpointed import Checkpointed
from streamlearn.runner.guards import PromotionGate, RollbackGuard
from streamlearn.runner.join import JoinStore
from streamlearn.runner.lane_state import EXPIRY_POLICIES
from streamlearn.runner.stepper import make_lanes
from streamlearn.runner.summary import RunSummary
from streamlearn.runner.versions import Versions
from streamlearn.streams.batch import MAX_ABS_LABEL, EventBatch
from streamlearn.streams.protocol import EventSource
from streamlearn.streams.sinks import PredictionSink

__all__ = ["EXPIRY_POLICIES", "RunSummary", "Runner"]
log = logging.getLogger("streamlearn.runner")


class Runner(Checkpointed):
    """Replays (or serves) a stream through a learner with delayed labels and checkpoints.

    Parameters
    ----------
    model
        A learner that serves encoded rows and runs schedules
        (:class:`~streamlearn.base.ServesRows`; binary, regression, bandit, ranker, MF).
    source
        Where events come from: an :class:`~streamlearn.streams.EventSource` (a file, recorded
        events, the live queue, Kafka), or None for a runner that is only stepped.
    delay
        The label delay, in the unit of the source's keys (events, or the time column's
        unit), when the source has no per-event delays. 0: labels come with their events.
    ttl
        How long a served event waits for its label; then it expires. ``inf``: forever (events
        without a label are then not kept at all).
    expiry
        ``drop`` an expired event, or learn it with ``default_label`` ("no click").
    join
        The champion's join store (default: in memory; challengers keep theirs in memory).
    registry
        Where checkpoints go (none: no checkpoints, no resume).
    checkpoint_every, checkpoint_seconds
        Checkpoint after this many events (exactly, from a source that resumes by offset;
        else at the end of the micro-batch that gets there) and/or seconds (at the end of a
        micro-batch), and at the end of the stream.
    challengers
        Models that learn in shadow on the same events, by name (a sequence: ``challenger
        1``, ``challenger 2`` …); names go into logs, metrics and checkpoints.
    gate
        A :class:`~streamlearn.runner.PromotionGate`: a challenger that beats the champion
        significantly takes its place (None: none is promoted, unless an operator does).
    rollback
        Roll back to a better earlier version when the serving model gets significantly
        worse (checked at each checkpoint).
    predictions
        Where every prediction goes (id, offset, prediction, model version): a CSV file's path,
        or a sink (a Kafka topic, say).
    dead_letters
        A JSON-lines file for rejected rows (row and reason).
    micro_batch
        Events per compiled call (and the finest checkpoint grain).
    drain_at_end
        At the end of a replayed file, let every label still in flight arrive (a live
        stream has no end).
    keep_versions
        After each checkpoint the registry keeps this many newest versions and every tagged
        one; older ones are deleted (None: keep all).
    resumable_versions
        How many of the newest versions a run can resume from exactly (a durable join store
        keeps what they need; it refuses an older one, saying why).
    mixer
        A :class:`~streamlearn.scaleout.mixing.ParameterMixer`: this worker's champion mixes
        its weights with the other workers' when due (one global model over partitions).
    curves
        :class:`~streamlearn.evaluate.curve.Curve` objects that follow the champion's
        metrics over time (for plots; not checkpointed).
    label_bounds
        The lowest and highest number label taken (a regression's, a reward, a ranker's
        engagement); any other is a dead letter.

    Example
    -------
    >>> import tempfile
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.models import LogisticRegression
    >>> from streamlearn.registry import LocalRegistry
    >>> from streamlearn.streams import FileEvents
    >>> from streamlearn.runner import Runner
    >>> runner = Runner(LogisticRegression(bits=16), FileEvents(elec2.path(), "target"),
    ...                 delay=100, registry=LocalRegistry(tempfile.mkdtemp()),
    ...                 checkpoint_every=20_000)
    >>> summary = runner.run()
    >>> summary.served, summary.learned, len(summary.versions)
    (45312, 45312, 4)
    >>> round(summary.metrics["accuracy"], 2)
    0.77
    """

    def __init__(
        self,
        model: Learner,
        source: EventSource | None,
        *,
        delay: float = 0.0,
        ttl: float = math.inf,
        expiry: str = "drop",
        default_label: float = 0.0,
        join: JoinStore | None = None,
        registry: Registry | None = None,
        checkpoint_every: int | None = 100_000,
        checkpoint_seconds: float | None = None,
        challengers: Sequence[Learner] | Mapping[str, Learner] = (),
        gate: PromotionGate | None = None,
        rollback: RollbackGuard | None = None,
        window: int | None = 1000,
        predictions: str | os.PathLike | PredictionSink | None = None,
        dead_letters: str | os.PathLike | None = None,
        micro_batch: int = 16384,
        drain_at_end: bool = True,
        mixer: Any = None,
        keep_versions: int | None = 50,
        resumable_versions: int = 3,
        curves: Sequence[Any] = (),
        label_bounds: tuple[float, float] = (-MAX_ABS_LABEL, MAX_ABS_LABEL),
    ) -> None:
        if micro_batch < 1:
            raise ValueError(f"micro_batch must be >= 1, got {micro_batch}")
        lanes = make_lanes(
            model,
            challengers,
            join=join,
            curves=curves,
            delay=delay,
            ttl=ttl,
            expiry=expiry,
            default_label=default_label,
            window=window,
            recent_rows=rollback is not None,  # what the rollback test scores
            label_bounds=label_bounds,
        )
        super().__init__(
            lanes,
            registry=registry,
            gate=gate,
            rollback=rollback,
            predictions=predictions,
            dead_letters=dead_letters,
            mixer=mixer,
        )
        self.source = source
        self.checkpoints = CheckpointPolicy(checkpoint_every, checkpoint_seconds)
        self.micro_batch = micro_batch
        self.drain_at_end = drain_at_end
        self.versions = Versions(
            registry, keep_versions, self.swaps, self.summary, resumable_versions
        )
        self.resumed_source: dict[str, Any] = {}  # the source state of the version resumed
        self._stop = False
        self._saved_progress: tuple = ()
        self.kernel_clock = KernelClock()  # this run's seconds compiling or loading kernels

    def request_stop(self) -> None:
        """Stop after the current micro-batch, with a checkpoint (safe from a signal handler)."""
        self._stop = True

    # ------------------------------------------------------------------ the loop
    def run(
        self,
        limit: int | None = None,
        on_batch: Callable[[RunSummary], None] | None = None,
    ) -> RunSummary:
        """Resume from the newest checkpoint (if any), then run to the end of the source
        (or ``limit`` events more; from Kafka or the live queue, or where labels come by
        id, to the end of the micro-batch that gets there: its events and labels are taken
        from the stream)."""
        self.resume()
        wall, cpu = time.perf_counter(), time.process_time()
        self.checkpoints.restart()
        self.summary.served_this_run = 0
        self.kernel_clock = KernelClock()
        try:
            self.kernel_clock.__enter__()
            for part in self._parts(limit):
                self._run_part(part)
                if on_batch is not None:
                    on_batch(report.summarize(self, wall, cpu))
                if self._stop or self._reached(limit):
                    break
            self.summary.stopped = self._stop
            if not self._reached(limit) and self.drain_at_end and not self._stop:
                for each in self.lanes:
                    each.drain()
                self.checkpoints.count(1)
            if self.registry is not None and self.checkpoints.events and self._progressed():
                self.checkpoint()  # a run that changed nothing adds no version
        finally:
            self.kernel_clock.__exit__()
            self.dead_letters.close()
        return report.summarize(self, wall, cpu)

    def _reached(self, limit: int | None) -> bool:
        return limit is not None and self.summary.served_this_run >= limit

    def _parts(self, limit: int | None) -> Iterator[EventBatch]:
        """The source's micro-batches, up to ``limit`` events more, their rejects gone to
        the dead letters; cut where a checkpoint falls due, where the source resumes by
        offset (no longer than the count for another). A batch made is a batch run (a Kafka
        source counts it as read): the checks to stop come after."""
        lane, policy = self.champion, self.checkpoints
        by_count = self.registry is not None and policy.every is not None
        rows = min(self.micro_batch, policy.every) if by_count else self.micro_batch
        for batch in self.source.batches(lane.offset, rows, lane.last_key):
            if self._reached(limit):
                break  # limit=0
            served = self.summary.served_this_run
            # A source that resumes by offset gives the rest again, but not a batch's labels
            # by id (they arrived up to its last event): such a batch runs whole, as one from
            # Kafka does (its events are taken from the topic).
            sliceable = self.source.resumes_by_offset and not batch.has_feedback
            if limit is not None and served + len(batch) > limit and sliceable:
                batch = batch.slice(0, limit - served)
            self.dead_letters.add(batch.rejects)
            self.rejected += len(batch.rejects)
            if by_count and self.source.resumes_by_offset:
                yield from policy.cut(batch)
            else:  # at the end of the batch that reaches the count
                yield batch

    def _run_part(self, part: EventBatch) -> None:
        if len(part) or part.has_feedback or part.clock is not None:
            started = time.perf_counter()
            self._step_or_isolate(part)
            self.summary.batch_seconds = time.perf_counter() - started
            self.summary.batch_events = len(part)
        self.summary.served_this_run += len(part)
        self._mix_if_due()
        self.checkpoints.count(len(part))
        if self.registry is not None and self.checkpoints.due(self._progressed):
            self.checkpoints.attempt(self.checkpoint, self.registry.unavailable)

    # ------------------------------------------------------------------ reporting
    def status(self, recent: int = 50) -> dict[str, Any]:
        """Where the run stands, for a monitor (see :func:`~streamlearn.runner.report.status`)."""
        return report.status(self, recent)

    def problems(self) -> list[str]:
        """What keeps the run from being healthy now (for ``/health``): a checkpoint that
        failed, a source that cannot reach its broker, a mixer that cannot mix."""
        source = self.source.error if self.source is not None else None
        mixer = self.mixer.error if self.mixer is not None else None
        found = [self.checkpoints.error, source and f"source: {source}", mixer]
        return [problem for problem in found if problem]

    def close(self) -> None:
        for lane in self.lanes:
            lane.close()
        for part in (self.predictions, self.source):
            if part is not None:
                part.close()
