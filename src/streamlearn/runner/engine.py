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
version's model and goes on from where the stream stands.

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
>>> summary.served, summary.learned, len(summary.versions), round(summary.metrics["accuracy"], 2)
(45312, 45312, 2, 0.77)
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from streamlearn.base import Learner, State, drift_records
from streamlearn.base.state import nest, nested_part
from streamlearn.registry import CorruptVersion, Registry, Version
from streamlearn.runner.guards import PromotionGate, RollbackGuard
from streamlearn.runner.join import JoinStore
from streamlearn.runner.lane import EXPIRY_POLICIES, Lane
from streamlearn.streams.batch import EventBatch
from streamlearn.streams.dead_letters import RejectLog
from streamlearn.streams.sinks import CsvPredictions, PredictionSink
from streamlearn.streams.sources import FileEvents

__all__ = ["EXPIRY_POLICIES", "RunSummary", "Runner"]
RUNNER_PART = "runner"  # a checkpoint's second part, beside the champion model
log = logging.getLogger("streamlearn.runner")


@dataclass
class RunSummary:
    """What a run did; counters and metrics cover the whole stream, across restarts."""

    served: int = 0
    learned: int = 0
    expired: int = 0
    late: int = 0
    unlabeled: int = 0
    rejected: int = 0
    offset: int = 0
    resumed_from: str | None = None
    stopped: bool = False
    served_this_run: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    metrics: dict[str, float] = field(default_factory=dict)
    versions: list[str] = field(default_factory=list)
    drifts: list[dict[str, Any]] = field(default_factory=list)
    rollbacks: list[dict[str, Any]] = field(default_factory=list)
    promotions: list[dict[str, Any]] = field(default_factory=list)
    challengers: list[dict[str, Any]] = field(default_factory=list)
    checkpoint_failures: int = 0  # periodic checkpoints that could not be written
    batch_events: int = 0  # the last micro-batch: its events and the seconds it took
    batch_seconds: float = 0.0

    @property
    def events_per_second(self) -> float:
        """Events served by this run (not those before a resume) per second."""
        return self.served_this_run / self.seconds if self.seconds > 0 else math.inf

    def as_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        return out | {"events_per_second": round(self.events_per_second, 1)}


class Runner:
    """Replays (or serves) a stream through a learner with delayed labels and checkpoints.

    Parameters
    ----------
    model
        A learner that can serve encoded rows and run schedules (the linear learners and
        their drift-adaptive wrappers; binary or regression).
    source
        Where events come from (:class:`FileEvents`).
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
        Checkpoint after this many events and/or seconds (at the end of a micro-batch), and
        at the end of the stream.
    challengers
        Models that learn in shadow on the same events; ``gate`` promotes one that beats the
        champion.
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
    mixer
        A :class:`~streamlearn.scaleout.mixing.ParameterMixer`: this worker's champion mixes
        its weights with the other workers' when due (one global model over partitions).
    """

    def __init__(
        self,
        model: Learner,
        source: FileEvents | None,
        *,
        delay: float = 0.0,
        ttl: float = math.inf,
        expiry: str = "drop",
        default_label: float = 0.0,
        join: JoinStore | None = None,
        registry: Registry | None = None,
        checkpoint_every: int | None = 100_000,
        checkpoint_seconds: float | None = None,
        challengers: Sequence[Learner] = (),
        gate: PromotionGate | None = None,
        rollback: RollbackGuard | None = None,
        window: int | None = 1000,
        predictions: str | os.PathLike | PredictionSink | None = None,
        dead_letters: str | os.PathLike | None = None,
        micro_batch: int = 16384,
        drain_at_end: bool = True,
        mixer: Any = None,
        keep_versions: int | None = 50,
    ) -> None:
        if micro_batch < 1:
            raise ValueError(f"micro_batch must be >= 1, got {micro_batch}")
        self._lane_options = {
            "delay": delay,
            "ttl": ttl,
            "expiry": expiry,
            "default_label": default_label,
            "window": window,
        }
        self.lanes = [Lane(model, join=join, **self._lane_options)]
        self.lanes += [Lane(c, **self._lane_options) for c in challengers]
        self.source = source
        self.registry = registry
        self.checkpoint_every, self.checkpoint_seconds = checkpoint_every, checkpoint_seconds
        self.gate = gate or PromotionGate()
        self.rollback_guard = rollback
        if isinstance(predictions, str | os.PathLike):
            predictions = CsvPredictions(predictions)
        self.predictions = predictions
        self.dead_letters = RejectLog(Path(dead_letters) if dead_letters else None)
        self.micro_batch = micro_batch
        self.drain_at_end = drain_at_end
        self.mixer = mixer
        self.keep_versions = keep_versions
        self.version: str | None = None
        self.rejected = 0
        self.summary = RunSummary()
        self._candidates: dict[str, Learner] = {}
        self._losses: dict[str, float] | None = None
        self._resumed = False
        self.resumed_source: dict[str, Any] = {}  # the source state of the version resumed
        self._stop = False
        self._rollback_to: str | None = None
        self.checkpoint_failures = 0
        self._saved_progress: tuple = ()
        self.checkpoint_error: str | None = None  # the last checkpoint's, while it lasts

    def request_rollback(self, version_id: str) -> None:
        """Serve ``version_id``'s model from the next micro-batch on (thread-safe: the
        trainer's loop makes the swap)."""
        self._rollback_to = version_id

    def request_stop(self) -> None:
        """Stop after the current micro-batch, with a checkpoint (safe from a signal handler)."""
        self._stop = True

    # ------------------------------------------------------------------ the champion
    @property
    def champion(self) -> Lane:
        return self.lanes[0]

    @property
    def model(self) -> Learner:
        return self.champion.model

    @property
    def join(self) -> JoinStore:
        return self.champion.join

    @property
    def counters(self) -> dict[str, int]:
        """The champion's counts; ``rejected`` adds the rows the source turned away."""
        counts = self.champion.counters
        return counts | {"rejected": self.rejected + counts["rejected"]}

    # ------------------------------------------------------------------ the loop
    def run(
        self,
        limit: int | None = None,
        on_batch: Callable[[RunSummary], None] | None = None,
    ) -> RunSummary:
        """Resume from the newest checkpoint (if any), then run to the end of the source
        (or ``limit`` events more)."""
        self.resume()
        wall, cpu = time.perf_counter(), time.process_time()
        since_checkpoint, last_checkpoint = 0, time.monotonic()
        served_now = 0
        lane = self.champion
        try:
            for batch in self.source.batches(lane.offset, self.micro_batch, lane.last_key):
                if self._stop or (limit is not None and served_now >= limit):
                    break
                if limit is not None and served_now + len(batch) > limit:
                    batch = batch.slice(0, limit - served_now)
                self.dead_letters.add(batch.rejects)
                self.rejected += len(batch.rejects)
                if len(batch) or batch.has_feedback or batch.clock is not None:
                    started = time.perf_counter()
                    self.step(batch)
                    self.summary.batch_seconds = time.perf_counter() - started
                    self.summary.batch_events = len(batch)
                served_now += len(batch)
                self.summary.served_this_run = served_now
                self._mix_if_due()
                since_checkpoint += len(batch)
                if self._checkpoint_due(since_checkpoint, last_checkpoint):
                    self._checkpoint_or_carry_on()
                    since_checkpoint, last_checkpoint = 0, time.monotonic()
                if on_batch is not None:
                    on_batch(self._summary(wall, cpu))
            self.summary.stopped = self._stop
            if (limit is None or served_now < limit) and self.drain_at_end and not self._stop:
                for each in self.lanes:
                    each.drain()
                since_checkpoint += 1
            if self.registry is not None and since_checkpoint:
                self.checkpoint()
        finally:
            self.dead_letters.close()
        return self._summary(wall, cpu)

    def step(self, batch: EventBatch) -> np.ndarray:
        """One micro-batch through every lane; returns the champion's predictions."""
        if self._rollback_to is not None:
            target, self._rollback_to = self._rollback_to, None
            self._swap_to(target, "requested")
            if self.registry is not None:
                self.registry.clear_request(target)
        known = len(drift_records(self.model))
        predictions = self.champion.step(batch)
        for record in drift_records(self.model)[known:]:
            log.info("drift", extra={"event": "drift"} | record)
        for challenger in self.lanes[1:]:
            challenger.step(batch)
        self._log_predictions(batch, predictions)
        return predictions

    def _mix_if_due(self) -> None:
        learned = self.champion.counters["learned"]
        if self.mixer is not None and self.mixer.due(learned):
            self.champion.model = self.mixer.mix(self.champion.model, learned)

    def _checkpoint_due(self, events: int, last: float) -> bool:
        if self.registry is None:
            return False
        by_events = self.checkpoint_every is not None and events >= self.checkpoint_every
        by_time = (
            self.checkpoint_seconds is not None
            and time.monotonic() - last >= self.checkpoint_seconds
            and self._progress() != self._saved_progress  # an idle stream adds no versions
        )
        return by_events or by_time

    def _checkpoint_or_carry_on(self) -> None:
        """A periodic checkpoint that cannot be written now (a full disk, the registry or the
        predictions topic out of reach) is logged and tried again when the next one is due:
        the previous version stays valid and the champion, and learning goes on."""
        try:
            self.checkpoint()
        except self.registry.unavailable as exc:
            self.checkpoint_failures += 1
            self.checkpoint_error = f"checkpoint failed: {type(exc).__name__}: {exc}"
            log.error(
                "checkpoint failed",
                extra={"event": "checkpoint_failed", "error": self.checkpoint_error},
            )
        else:
            if self.checkpoint_error is not None:
                log.info("checkpoints work again", extra={"event": "checkpoint_recovered"})
            self.checkpoint_error = None

    def _progress(self) -> tuple:
        """What a checkpoint would save that can change without events: counters, and the
        source's positions (a partition taken over joins them before its first message)."""
        return self.counters, self._source_state()

    def _source_state(self) -> dict[str, Any]:
        return self.source.state() if self.source is not None else {}

    def _log_predictions(self, batch: EventBatch, predictions: np.ndarray) -> None:
        if self.predictions is not None and len(batch):
            self.predictions.write(batch.ids, batch.offsets, predictions, self.version or "")

    # ------------------------------------------------------------------ swaps
    def _promote_challenger(self) -> None:
        """The promotion gate, at a checkpoint: the best significant challenger serves."""
        best = None
        for k, challenger in enumerate(self.lanes[1:], start=1):
            verdict = self.gate.check(self.champion, challenger)
            if verdict.significant and (best is None or verdict.gap > best[1].gap):
                best = (k, verdict)
        if best is None:
            return
        k, verdict = best
        old, new = self.lanes[0], self.lanes[k]
        # Each lane keeps its own store: its rows were encoded by its own model.
        self.lanes[0], self.lanes[k] = new, old
        event = {
            "offset": new.offset,
            "at": _now(),
            "from": type(old.model).__name__,
            "to": type(new.model).__name__,
            "challenger": k,
        } | verdict.as_dict()
        self.summary.promotions.append(event)
        log.info("promotion", extra={"event": "promotion"} | event)

    def _maybe_roll_back(self) -> None:
        """The rollback guard, at a checkpoint: back to the best earlier version if the
        serving model is significantly worse than it on the same recent labels."""
        if self.rollback_guard is None or self.registry is None:
            return
        losses = self._window_losses()
        if not losses:
            return
        best = min(losses, key=losses.get)
        if best == self.version:
            return
        candidate = self._candidate(best)
        verdict = self.rollback_guard.check(self.champion, candidate)
        if verdict.significant:
            self.champion.model = type(candidate).from_state(candidate.state())
            self._record_rollback(best, "significantly worse than it", verdict.as_dict())

    def _window_losses(self) -> dict[str, float]:
        """Each version's recent loss when it was saved: read from the registry once, then
        kept up to date at each checkpoint (no listing of every version each time)."""
        if self._losses is None:
            self._losses = {
                v.id: v.notes["window_loss"]
                for v in self.registry.versions()
                if "window_loss" in v.notes
            }
        return self._losses

    def _candidate(self, version_id: str) -> Learner:
        if version_id not in self._candidates:
            state, _ = self.registry.load(version_id)
            self._candidates = {version_id: state.without_parts().to_learner()}
        return self._candidates[version_id]

    def _record_rollback(self, to: str, reason: str, details: dict[str, Any]) -> None:
        event = {
            "offset": self.champion.offset,
            "at": _now(),
            "from": self.version,
            "to": to,
            "reason": reason,
        } | details
        self.summary.rollbacks.append(event)
        log.warning("rollback", extra={"event": "rollback"} | event)

    # ------------------------------------------------------------------ checkpoints
    def checkpoint(self) -> Version:
        """Save the champion, its challengers and where the stream stands as a new
        registry version (tagged ``champion``)."""
        if self.registry is None:
            raise ValueError("no registry: nowhere to checkpoint to")
        self._promote_challenger()
        self._maybe_roll_back()
        state = self.model.state()
        lanes_arrays, lanes_meta = {}, []
        for i, lane in enumerate(self.lanes):
            arrays, meta = lane.arrays(), {"lane": lane.meta()}
            if i > 0:
                inner = lane.model.state()
                arrays |= nest({"model": inner.arrays})
                meta |= {"kind": inner.kind, "params": inner.params, "meta": inner.meta}
            lanes_arrays[f"lane{i}"] = arrays
            lanes_meta.append(meta)
        runner_meta = {
            "lanes": lanes_meta,
            "rejected": self.rejected,
            "source": self._source_state(),
            "rollbacks": self.summary.rollbacks[-20:],
            "promotions": self.summary.promotions[-20:],
        }
        drifts = list(drift_records(self.model))
        recent = self.champion.recent.losses
        if self.predictions is not None:  # delivered before a snapshot says they were made
            self.predictions.flush()
        version = self.registry.save(
            State(
                state.kind,
                state.params,
                state.arrays,
                state.meta,
                parts={RUNNER_PART: State("Runner", {}, nest(lanes_arrays), runner_meta)},
            ),
            parent=self.version,
            events=self.champion.counters["learned"],
            offsets={"file": self.champion.offset},
            metrics=self.champion.metric_values(),
            drifts=drifts[-20:],
            notes={
                "counters": self.counters,
                "drifts_total": len(drifts),
                "pending": len(self.join),
                "rollbacks": len(self.summary.rollbacks),
                "promotions": len(self.summary.promotions),
            }
            | ({"window_loss": float(recent.mean())} if len(recent) else {}),
        )
        self.registry.promote(version.id)
        for lane in self.lanes:
            lane.join.saved(lane.offset)
        if self.keep_versions is not None:
            for gone in self.registry.prune(self.keep_versions):
                self._candidates.pop(gone, None)
                if self._losses is not None:
                    self._losses.pop(gone, None)
        if self._losses is not None and "window_loss" in version.notes:
            self._losses[version.id] = version.notes["window_loss"]
        if self.source is not None:  # only now is the snapshot that includes them durable
            self.source.committed(runner_meta["source"])
        self.version = version.id
        for lane in self.lanes:
            lane.version = version.id
        self.summary.versions.append(version.id)
        self._saved_progress = self._progress()
        log.info(
            "checkpoint",
            extra={
                "event": "checkpoint",
                "version": version.id,
                "offset": self.champion.offset,
                "learned": version.events,
                "pending": version.notes["pending"],
            },
        )
        return version

    def resume(self) -> None:
        """Pick up from the registry's newest version (once; ``run`` calls it)."""
        if self.registry is None or self._resumed:
            return
        self._resumed = True
        if self.registry.tidy():
            log.info("removed the temp files of a snapshot cut short", extra={"event": "tidy"})
        latest = self.registry.latest()
        if latest is None:  # a fresh start: nothing a store holds belongs to this run
            for lane in self.lanes:
                lane.join.restore({}, 0)
            return
        state, version = latest
        part = state.parts.get(RUNNER_PART)
        runner = part.meta if part is not None else {}
        if "lanes" not in runner:
            raise ValueError(f"version {version.id} was not written by a runner: cannot resume")
        if len(runner["lanes"]) != len(self.lanes):
            raise ValueError(
                f"version {version.id} has {len(runner['lanes'])} models, "
                f"this run {len(self.lanes)}: cannot resume"
            )
        for i, (lane, meta) in enumerate(zip(self.lanes, runner["lanes"], strict=True)):
            lane_arrays = nested_part(part.arrays, f"lane{i}")
            if i == 0:
                model = state.without_parts().to_learner()
            else:
                inner = nested_part(lane_arrays, "model")
                model = State(meta["kind"], meta["params"], inner, meta["meta"]).to_learner()
            lane.restore(model, lane_arrays, meta["lane"])
            lane.version = version.id
        self.rejected = int(runner.get("rejected", 0))
        self.resumed_source = dict(runner.get("source") or {})
        if runner.get("source") and self.source is not None:
            self.source.restore(runner["source"])
        self.summary.rollbacks = list(runner.get("rollbacks", []))
        self.summary.promotions = list(runner.get("promotions", []))
        self.version = version.id
        self.summary.resumed_from = version.id
        self._saved_progress = self._progress()
        log.info(
            "resumed",
            extra={"event": "resumed", "version": version.id, "offset": self.champion.offset},
        )
        self._manual_rollback(version)

    def _manual_rollback(self, newest: Version) -> None:
        """``registry rollback`` / ``promote`` asked for a version: serve that model. (The
        champion tag alone is no request: a kill between a checkpoint and its tag leaves
        the tag one version behind.)"""
        wanted = self.registry.requested()
        if wanted is None:
            return
        if wanted != newest.id:
            try:
                self._swap_to(wanted, "requested")
            except (KeyError, CorruptVersion):  # gone or torn: nothing to serve
                return
        self.registry.clear_request(wanted)

    def _swap_to(self, version_id: str, reason: str) -> None:
        chosen = self._candidate(version_id)
        self.champion.model = type(chosen).from_state(chosen.state())
        self._record_rollback(version_id, reason, {})

    # ------------------------------------------------------------------ reporting
    def status(self, recent: int = 50) -> dict[str, Any]:
        """Where the run stands, for a monitor: counters, each lane's model, version and
        metrics, the latest ``recent`` drift / rollback / promotion records, dead letters."""
        lanes = [
            {
                "lane": "champion" if i == 0 else f"challenger {i}",
                "model": type(lane.model).__name__,
                "version": lane.version or self.version or "",
                "metrics": lane.metric_values(),
            }
            for i, lane in enumerate(self.lanes)
        ]
        return self.counters | {
            "pending": len(self.join),
            "offset": self.champion.offset,
            "lanes": lanes,
            "drifts": list(drift_records(self.model))[-recent:],
            "rollbacks": self.summary.rollbacks[-recent:],
            "promotions": self.summary.promotions[-recent:],
            "dead_letters": dict(self.dead_letters.by_reason),
            "versions": self.summary.versions[-recent:],
            "checkpoint_failures": self.checkpoint_failures,
        }

    def problems(self) -> list[str]:
        """What keeps the run from being healthy now (for ``/health``): a checkpoint that
        failed, a source that cannot reach its broker."""
        found = [self.checkpoint_error] if self.checkpoint_error else []
        source_error = self.source.error if self.source is not None else None
        found += [f"source: {source_error}"] if source_error else []
        mixer_error = self.mixer.error if self.mixer is not None else None
        return found + ([mixer_error] if mixer_error else [])

    def _summary(self, wall: float, cpu: float) -> RunSummary:
        summary = self.summary
        for name, value in self.counters.items():
            setattr(summary, name, value)
        summary.offset = self.champion.offset
        summary.checkpoint_failures = self.checkpoint_failures
        summary.seconds = time.perf_counter() - wall
        summary.cpu_seconds = time.process_time() - cpu
        summary.metrics = self.champion.metric_values()
        summary.drifts = list(drift_records(self.model))
        summary.challengers = [
            {"model": type(lane.model).__name__} | lane.metric_values() for lane in self.lanes[1:]
        ]
        return summary

    def close(self) -> None:
        for lane in self.lanes:
            lane.close()
        for part in (self.predictions, self.source):
            if part is not None:
                part.close()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
