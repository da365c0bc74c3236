"""The runner: one loop for replay and live service.

For every event: validate (bad rows go to the dead letters) → featurize → predict → log the
prediction (with the model version) → wait in the join store → when its label arrives, learn
from the features as served → score → (drift handling lives in the learner) → checkpoint by
policy. Events go through in micro-batches, each one compiled call over a schedule of
predictions and labels (:mod:`streamlearn.runner.schedule`), so the result is exactly the
event-by-event one.

A checkpoint is a registry version holding the model, the offset of the last event it
includes, the waiting entries of the join store and the labels still in flight. A runner
started on a registry that has versions resumes from the newest one that loads, and ends
with exactly the model an uninterrupted run would have.

>>> import tempfile
>>> from streamlearn.datasets import elec2
>>> from streamlearn.models import LogisticRegression
>>> from streamlearn.registry import LocalRegistry
>>> from streamlearn.runner import FileEvents, Runner
>>> runner = Runner(LogisticRegression(bits=16), FileEvents(elec2.path(), "target"),
...                 delay=100, registry=LocalRegistry(tempfile.mkdtemp()),
...                 checkpoint_every=20_000)
>>> summary = runner.run()
>>> summary.served, summary.learned, len(summary.versions), round(summary.metrics["accuracy"], 2)
(45312, 45312, 2, 0.77)
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from streamlearn.base import Learner, MulticlassClassifier, State
from streamlearn.evaluate import default_metrics
from streamlearn.evaluate.metrics import Metric
from streamlearn.registry import LocalRegistry, Version
from streamlearn.runner.join import JoinStore, MemoryJoinStore, Rows
from streamlearn.runner.replay import RejectLog
from streamlearn.runner.schedule import (
    EXPIRE,
    LABEL,
    LATE,
    Operations,
    label_operations,
    merged_order,
)
from streamlearn.runner.sources import EventBatch, FileEvents

PREDICT, LEARN, PREDICT_LEARN = 0, 1, 2  # the kernels' operations
EXPIRY_POLICIES = ("drop", "default")
COUNTERS = ("served", "learned", "expired", "late", "unlabeled", "rejected")
RUNNER_PREFIX = "runner/"


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
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    metrics: dict[str, float] = field(default_factory=dict)
    versions: list[str] = field(default_factory=list)
    drifts: list[dict[str, Any]] = field(default_factory=list)
    rollbacks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def events_per_second(self) -> float:
        return self.served / self.seconds if self.seconds > 0 else math.inf

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
        The join store (default: in memory).
    registry
        Where checkpoints go (none: no checkpoints, no resume).
    checkpoint_every, checkpoint_seconds
        Checkpoint after this many events and/or seconds (at the end of a micro-batch), and
        at the end of the stream.
    predictions
        A CSV file that every prediction is appended to (offset, id, prediction, version).
    dead_letters
        A JSON-lines file for rejected rows (row and reason).
    micro_batch
        Events per compiled call (and the finest checkpoint grain).
    drain_at_end
        At the end of a replayed file, let every label still in flight arrive (a live
        stream has no end).
    """

    def __init__(
        self,
        model: Learner,
        source: FileEvents,
        *,
        delay: float = 0.0,
        ttl: float = math.inf,
        expiry: str = "drop",
        default_label: float = 0.0,
        join: JoinStore | None = None,
        registry: LocalRegistry | None = None,
        checkpoint_every: int | None = 100_000,
        checkpoint_seconds: float | None = None,
        metrics: list[Metric] | None = None,
        window: int | None = 1000,
        predictions: str | os.PathLike | None = None,
        dead_letters: str | os.PathLike | None = None,
        micro_batch: int = 16384,
        drain_at_end: bool = True,
    ) -> None:
        if not (hasattr(model, "serve_many") and hasattr(model, "run_ops")):
            raise ValueError(f"{type(model).__name__} cannot run with delayed labels yet")
        if isinstance(model, MulticlassClassifier):
            raise ValueError("the runner takes binary and regression learners for now")
        if expiry not in EXPIRY_POLICIES:
            raise ValueError(f"expiry must be one of {EXPIRY_POLICIES}, got {expiry!r}")
        if not (delay >= 0 and ttl > 0) or micro_batch < 1:
            raise ValueError("need delay >= 0, ttl > 0 and micro_batch >= 1")
        self.model, self.source = model, source
        self.delay, self.ttl, self.expiry, self.default_label = delay, ttl, expiry, default_label
        self.join = join if join is not None else MemoryJoinStore()
        self.registry = registry
        self.checkpoint_every, self.checkpoint_seconds = checkpoint_every, checkpoint_seconds
        self.metrics = metrics if metrics is not None else default_metrics(model.task, window)
        self.predictions_path = Path(predictions) if predictions else None
        self.dead_letters = RejectLog(Path(dead_letters) if dead_letters else None)
        self.micro_batch = micro_batch
        self.drain_at_end = drain_at_end
        self.pending = Operations.empty()
        self.counters = dict.fromkeys(COUNTERS, 0)
        self.offset = 0
        self.last_key = -math.inf
        self.version: str | None = None
        self.summary = RunSummary()

    # ------------------------------------------------------------------ the loop
    def run(
        self,
        limit: int | None = None,
        on_batch: Callable[[RunSummary], None] | None = None,
    ) -> RunSummary:
        """Resume from the newest checkpoint (if any), then run to the end of the source
        (or ``limit`` events more)."""
        self._resume()
        wall, cpu = time.perf_counter(), time.process_time()
        since_checkpoint, last_checkpoint = 0, time.monotonic()
        served_now = 0
        try:
            for batch in self.source.batches(self.offset, self.micro_batch, self.last_key):
                if limit is not None and served_now >= limit:
                    break
                if limit is not None and served_now + len(batch) > limit:
                    batch = batch.slice(0, limit - served_now)
                self.dead_letters.add(batch.rejects)
                self.counters["rejected"] += len(batch.rejects)
                if len(batch):
                    self.step(batch)
                served_now += len(batch)
                since_checkpoint += len(batch)
                if self._checkpoint_due(since_checkpoint, last_checkpoint):
                    self.checkpoint()
                    since_checkpoint, last_checkpoint = 0, time.monotonic()
                if on_batch is not None:
                    on_batch(self._summary(wall, cpu))
            finished = limit is None or served_now < limit
            if finished and self.drain_at_end:
                self.drain()
                since_checkpoint += 1
            if self.registry is not None and since_checkpoint:
                self.checkpoint()
        finally:
            self.dead_letters.close()
        return self._summary(wall, cpu)

    def _checkpoint_due(self, events: int, last: float) -> bool:
        if self.registry is None:
            return False
        by_events = self.checkpoint_every is not None and events >= self.checkpoint_every
        by_time = (
            self.checkpoint_seconds is not None
            and time.monotonic() - last >= self.checkpoint_seconds
        )
        return by_events or by_time

    def step(self, batch: EventBatch) -> None:
        """Serve one micro-batch and learn every label due before its last event."""
        delays = batch.delays if batch.delays is not None else np.full(len(batch), self.delay)
        new = label_operations(batch.keys, batch.labels, batch.offsets, batch.ids, delays,
                               self.ttl)  # fmt: skip
        waiting = self.pending + new
        due_now = waiting.keys < (batch.keys[-1] if len(batch) else math.inf)
        due, self.pending = waiting.select(due_now), waiting.select(~due_now)
        served_rows = (
            Rows(*self.model.serve_many(batch.features))
            if len(batch)
            else Rows(np.zeros((0, 0), np.uint32), np.zeros((0, 0)))
        )
        row_of, served_of, rows, taken = self._gather(batch, due, served_rows)
        is_serve, index = merged_order(batch.keys, batch.offsets, due)
        ops, op_rows, targets, step_of_op = self._kernel_ops(is_serve, index, due, row_of)
        out = self.model.run_ops(rows.hashes, rows.values, ops, op_rows, targets)
        # A model that replaced its featurizer (a reset) stops early: the events served after
        # that point are served again, by the new model, as they would be one by one.
        steps = len(is_serve) if len(out) == len(ops) else int(step_of_op[len(out) - 1]) + 1
        served = int(is_serve[:steps].sum())
        predictions = np.empty(served)
        serves = ops[: len(out)] != LEARN
        predictions[op_rows[: len(out)][serves]] = out[serves]
        in_batch = (row_of >= 0) & (row_of < served)
        served_of[in_batch] = predictions[row_of[in_batch]]
        self._count(is_serve[:steps], index[:steps], due, row_of)
        self._score(index[:steps][~is_serve[:steps]], due, row_of, served_of)
        if steps < len(is_serve):
            self._put_back(is_serve[steps:], index[steps:], due, taken, batch, served)
        self._log_predictions(batch.slice(0, served), predictions)
        self._keep_waiting(batch.slice(0, served), served_rows.take(np.arange(served)),
                           predictions)  # fmt: skip
        self.counters["served"] += served
        self.counters["unlabeled"] += int((~np.isin(batch.offsets[:served], new.offsets)).sum())
        if served:
            self.offset = int(batch.offsets[served - 1])
            self.last_key = float(batch.keys[served - 1])
        if served < len(batch):
            self.step(batch.slice(served, len(batch)))

    def _put_back(self, is_serve, index, due, taken, batch: EventBatch, served: int) -> None:
        """Undo the part of a schedule that did not run: its label operations wait again
        (those of events still to serve are made anew when they are), and the store gets
        back the entries taken for them."""
        undone = due.select(np.isin(np.arange(len(due)), index[~is_serve]))
        unserved = batch.offsets[served:]
        waiting = undone + self.pending
        self.pending = waiting.select(~np.isin(waiting.offsets, unserved))
        if taken is None:
            return
        back = np.isin(taken.served_offsets, undone.offsets)
        if back.any():
            picked = np.flatnonzero(back)
            for version in dict.fromkeys(taken.versions[i] for i in picked):
                mine = [i for i in picked if taken.versions[i] == version]
                self.join.put(
                    [taken.ids[i] for i in mine], taken.rows.take(np.array(mine)),
                    taken.predictions[mine], taken.deadlines[mine], taken.served_offsets[mine],
                    version,
                )  # fmt: skip

    def drain(self) -> None:
        """The end of a replayed stream: every label still in flight arrives (and every
        entry still waiting reaches its deadline), in order."""
        if len(self.pending):
            nothing = EventBatch({}, np.zeros(0), [], np.zeros(0, np.int64), np.zeros(0))
            self.step(nothing)

    def _gather(self, batch: EventBatch, due: Operations, served_rows: Rows):
        """Rows for the due operations: this batch's own, or taken from the join store.
        Returns (row of each due operation, -1 if none; its served prediction where known
        now; all rows stacked; what was taken from the store)."""
        position = np.searchsorted(batch.offsets, due.offsets)
        in_batch = np.zeros(len(due), bool)
        if len(batch):
            clipped = np.minimum(position, len(batch) - 1)
            in_batch = (position < len(batch)) & (batch.offsets[clipped] == due.offsets)
        stored = np.flatnonzero(~in_batch & (due.kinds != LATE))
        row_of = np.full(len(due), -1, np.int64)
        row_of[in_batch] = position[in_batch]
        served_of = np.full(len(due), np.nan)
        if not len(stored):
            return row_of, served_of, served_rows, None
        ids = [due.ids[i] for i in stored]
        # Taken "at" this batch's last offset (after the stream's end: one past it), so that
        # restoring to an earlier checkpoint puts these entries back.
        at = int(batch.offsets[-1]) if len(batch) else self.offset + 1
        taken = self.join.take(ids, at)
        taken.ids = [i for i, hit in zip(ids, taken.found, strict=True) if hit]
        hits = stored[taken.found]
        row_of[hits] = len(batch) + np.arange(len(hits))
        served_of[hits] = taken.predictions
        self.counters["late"] += int((~taken.found).sum())  # their entry is gone
        rows = Rows.stack([served_rows, taken.rows]) if len(hits) else served_rows
        return row_of, served_of, rows, taken

    def _kernel_ops(self, is_serve, index, due, row_of):
        """The compiled call's operations: serves predict, labels (and expiries under the
        ``default`` policy) learn; a serve directly followed by its own label does both.
        Also returns, for each operation, its step in the merged order."""
        if not len(due):
            steps = np.arange(len(index))
            return np.full(len(index), PREDICT, np.int8), index, np.zeros(len(index)), steps
        at = np.where(is_serve, 0, index)
        kind = np.where(is_serve, -1, due.kinds[at])
        row = np.where(is_serve, index, row_of[at])
        learns = self._learns(is_serve, kind, row)
        target = np.where(kind == LABEL, due.targets[at], self.default_label)
        keep = is_serve | learns
        steps = np.flatnonzero(keep)
        ops = np.where(is_serve, PREDICT, LEARN).astype(np.int8)[keep]
        row, target = row[keep], np.where(is_serve, 0.0, target)[keep]
        # A serve followed at once by the label of its own row: one fused step.
        fused = np.zeros(len(ops), bool)
        fused[1:] = (ops[1:] == LEARN) & (ops[:-1] == PREDICT) & (row[1:] == row[:-1])
        serve_of_fused = np.append(fused[1:], False)
        ops[serve_of_fused] = PREDICT_LEARN
        target[serve_of_fused] = target[np.flatnonzero(serve_of_fused) + 1]
        steps[serve_of_fused] = steps[np.flatnonzero(serve_of_fused) + 1]
        return ops[~fused], row[~fused], target[~fused], steps[~fused]

    def _learns(self, is_serve, kind, row) -> np.ndarray:
        learns = ~is_serve & (row >= 0)
        return learns & ((kind == LABEL) | ((kind == EXPIRE) & (self.expiry == "default")))

    def _count(self, is_serve, index, due, row_of) -> None:
        """Count what the steps that ran did."""
        if not len(due):
            return
        at = np.where(is_serve, 0, index)
        kind = np.where(is_serve, -1, due.kinds[at])
        row = np.where(is_serve, index, row_of[at])
        self.counters["learned"] += int(self._learns(is_serve, kind, row).sum())
        self.counters["expired"] += int((kind == EXPIRE).sum())
        self.counters["late"] += int((kind == LATE).sum())

    def _score(self, due_steps, due, row_of, served_of) -> None:
        """Each label, in the order learned, scores the prediction its event was served with."""
        labels = due_steps[(due.kinds[due_steps] == LABEL) & (row_of[due_steps] >= 0)]
        if not len(labels):
            return
        targets, scored = due.targets[labels], served_of[labels]
        for metric in self.metrics:
            metric.update_many(targets, scored)

    def _keep_waiting(self, batch: EventBatch, rows: Rows, predictions: np.ndarray) -> None:
        """Events of this batch whose label (or expiry) is still to come wait in the store;
        events with nothing to come are not kept."""
        waiting = self.pending.kinds != LATE
        keep = np.isin(batch.offsets, self.pending.offsets[waiting])
        if not keep.any():
            return
        picked = np.flatnonzero(keep)
        self.join.put(
            [batch.ids[i] for i in picked], rows.take(picked), predictions[picked],
            batch.keys[picked] + self.ttl, batch.offsets[picked], self.version or "v000000",
        )  # fmt: skip

    def _log_predictions(self, batch: EventBatch, predictions: np.ndarray) -> None:
        if self.predictions_path is None:
            return
        table = pa.table({
            "offset": batch.offsets, "id": pa.array([str(i) for i in batch.ids]),
            "prediction": predictions, "version": pa.array([self.version or ""] * len(batch)),
        })  # fmt: skip
        first = not self.predictions_path.exists()
        with open(self.predictions_path, "ab") as fh:
            pacsv.write_csv(table, fh, pacsv.WriteOptions(include_header=first))

    # ------------------------------------------------------------------ checkpoints
    def checkpoint(self) -> Version:
        """Save the model and where the stream stands as a new registry version."""
        if self.registry is None:
            raise ValueError("no registry: nowhere to checkpoint to")
        state = self.model.state()
        arrays = dict(state.arrays)
        for name, value in self.join.checkpoint_arrays(self.offset).items():
            arrays[f"{RUNNER_PREFIX}join/{name}"] = value
        for name, value in self.pending.arrays().items():
            arrays[f"{RUNNER_PREFIX}pending/{name}"] = value
        for i, metric in enumerate(self.metrics):
            for name, value in metric.state().items():
                arrays[f"{RUNNER_PREFIX}metric{i}/{name}"] = value
        runner_meta = {"offset": self.offset, "last_key": self.last_key,
                       "counters": self.counters}  # fmt: skip
        meta = dict(state.meta) | {"runner": runner_meta}
        drifts = list(getattr(self.model, "drifts", []))
        version = self.registry.save(
            State(state.kind, state.params, arrays, meta), parent=self.version,
            events=self.counters["learned"], offsets={"file": self.offset},
            metrics=self._metric_values(), drifts=drifts[-20:],
            notes={"drifts_total": len(drifts), "pending": len(self.join)},
        )  # fmt: skip
        self.version = version.id
        self.summary.versions.append(version.id)
        return version

    def _resume(self) -> None:
        if self.registry is None:
            return
        latest = self.registry.latest()
        if latest is None:
            return
        state, version = latest
        runner = state.meta.get("runner")
        if runner is None:
            raise ValueError(f"version {version.id} was not written by a runner: cannot resume")
        self.model = _strip_runner(state).to_learner()
        self.join.restore(_prefixed(state.arrays, "join/"), int(runner["offset"]))
        pending = _prefixed(state.arrays, "pending/")
        self.pending = Operations.from_arrays(pending) if pending else Operations.empty()
        for i, metric in enumerate(self.metrics):
            metric.load(_prefixed(state.arrays, f"metric{i}/"))
        self.offset, self.last_key = int(runner["offset"]), float(runner["last_key"])
        self.counters = {k: int(runner["counters"].get(k, 0)) for k in COUNTERS}
        self.version = version.id
        self.summary.resumed_from = version.id

    # ------------------------------------------------------------------ reporting
    def _metric_values(self) -> dict[str, float]:
        return {m.label: float(m.get()) for m in self.metrics if math.isfinite(m.get())}

    def _summary(self, wall: float, cpu: float) -> RunSummary:
        summary = self.summary
        for name in COUNTERS:
            setattr(summary, name, self.counters[name])
        summary.offset = self.offset
        summary.seconds = time.perf_counter() - wall
        summary.cpu_seconds = time.process_time() - cpu
        summary.metrics = self._metric_values()
        summary.drifts = list(getattr(self.model, "drifts", []))
        return summary

    def close(self) -> None:
        self.join.close()


def _prefixed(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    full = RUNNER_PREFIX + prefix
    return {k[len(full) :]: v for k, v in arrays.items() if k.startswith(full)}


def _strip_runner(state: State) -> State:
    arrays = {k: v for k, v in state.arrays.items() if not k.startswith(RUNNER_PREFIX)}
    meta = {k: v for k, v in state.meta.items() if k != "runner"}
    return State(state.kind, state.params, arrays, meta)


def summary_json(summary: RunSummary) -> str:
    return json.dumps(summary.as_dict(), default=str)
