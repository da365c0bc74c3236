"""Progressive evaluation of a learner on a file (``streamlearn evaluate``): the runner,
each label learned right after its event's prediction — the loop that ``streamlearn run``
and the service run, with the file's labels at their events.

>>> from streamlearn.datasets import elec2
>>> from streamlearn.offline import evaluate_file
>>> report, rejects = evaluate_file(elec2.path(), target="target")
>>> report.events, report.task, rejects.count
(45312, 'binary', 0)
"""

from __future__ import annotations

import bisect
import math
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from streamlearn.adaptation import watched
from streamlearn.base import Learner, MultiTask, ServesRows, Task, save_state
from streamlearn.evaluate.curve import default_curves
from streamlearn.evaluate.metrics import default_metrics
from streamlearn.evaluate.progressive import Report, progressive_val_score
from streamlearn.evaluate.tasks import detect_task
from streamlearn.features.columns import n_rows
from streamlearn.models.factory import DEFAULT_OPTIMIZER, make_learner
from streamlearn.runner.engine import Runner
from streamlearn.streams import Batch, FileSource, Reject, RejectLog
from streamlearn.streams.batch import EventBatch, label_array
from streamlearn.streams.protocol import EventSource


def _valid_labels(batch: Batch, task: str) -> Batch:
    """Drop (as rejects) rows whose target does not fit the task."""
    if task != "binary":
        return batch
    bad = ~np.isin(batch.target, (0.0, 1.0))
    rejects = [
        Reject(int(row), f"label {value:g} is not 0/1 (the task is binary)")
        for row, value in zip(batch.rows[bad], batch.target[bad], strict=True)
    ]
    return batch.keep(~bad, rejects)


def evaluate_file(
    path: str | os.PathLike,
    target: str,
    *,
    model: str | Mapping[str, Any] | Learner = DEFAULT_OPTIMIZER,
    task: str | None = None,
    features: Mapping[str, Any] | None = None,
    window: int | None = 1000,
    limit: int | None = None,
    rejects_path: str | os.PathLike | None = None,
    drift: str | None = None,
    adapt: str = "reset",
    signal: str | None = None,
    time_column: str | None = None,
    on_progress: Callable[[int, int, int], None] | None = None,
    curves: bool | int = False,
    delimiter: str | None = None,
    predictions: str | os.PathLike | None = None,
    save_model: str | os.PathLike | None = None,
) -> tuple[Report, RejectLog]:
    """Progressive validation of ``model`` on the file; returns the report and the rejects.

    ``model`` is an optimizer name (``ftrl``, ``sgd``, ``adagrad``) or a learner. The task
    is detected from the first batch's targets unless given. ``features`` holds the named
    learner's feature settings (those of :class:`~streamlearn.features.FeatureHasher`;
    missing values count as a signal unless ``{"missing": False}``); its ``categorical``
    columns are also read from the file as codes. ``drift`` names a detector
    (``PageHinkley``, ``DDM``, ``EDDM``, ``WindowErrorRate``) that watches the learner's
    errors; ``adapt`` is the policy applied when it fires (``reset``, ``boost``, ``shrink``,
    ``background``); ``signal`` is what the detector watches (``error``, ``brier``,
    ``log_loss``; by default the log loss for a binary task, the error otherwise).
    Each drift event gets a ``time``: the event's ``time_column`` value (a column that is
    then not a feature), or else the UTC time at which its batch was processed.
    ``on_progress`` is called after each batch with (bytes read, bytes in all, events so far).
    ``curves`` (True, or the number of points) records the metrics over time in
    ``report.curves`` (for :func:`streamlearn.monitor.report.write_report`). ``delimiter``:
    a CSV's (default ``,``; a ``.tsv`` file's: a tab). ``predictions``: a CSV of each
    event's prediction (``offset,id,prediction,version``), made before it was learned.
    ``save_model``: a snapshot of the learner at the end (arrays + JSON, for
    ``load_state``).
    """
    settings = {"missing": True, **(features or {})}
    categorical = settings.get("categorical", ())
    source = FileSource(path, target, categorical=categorical, delimiter=delimiter)
    batches = iter(source)
    log = RejectLog(Path(rejects_path) if rejects_path else None)
    first = next(batches, None)
    if first is None:
        raise ValueError(f"{path}: the file holds no rows")
    task = task or detect_task(first.target)
    learner = model if isinstance(model, Learner) else make_learner(task, model, **settings)
    if learner.task == Task.MULTICLASS:  # a tree takes binary labels as two classes
        task = Task.MULTICLASS.value
    tasks = _engagement_tasks(learner, target)
    if tasks:
        task = Task.RANKING.value

    if drift is not None:
        learner = watched(learner, drift, adapt, signal)
    times = _EventTimes(time_column)
    recorded = default_curves(task, 200 if curves is True else int(curves)) if curves else []
    stream = _Validated(source, _chain(first, batches), task, times, limit, tasks)
    stream.on_progress = on_progress
    if isinstance(learner, ServesRows):
        outputs = {"dead_letters": rejects_path, "predictions": predictions}
        report, log, learner = _through_the_runner(learner, stream, task, window, recorded, outputs)
    elif predictions is not None:
        raise ValueError(f"{type(learner).__name__}: no predictions file (it runs on its own)")
    else:  # a learner of one's own that offers the runner nothing
        report, log = _progressively(learner, stream, task, window, recorded, rejects_path)
    if save_model is not None:
        save_state(learner.state(), save_model)
    report.curves = recorded
    report.extra["rejected"] = log.count
    if drift is not None:
        report.extra["drifts"] = len(learner.drifts)
        report.drift_events = [times.stamp(event) for event in learner.drifts]
    return report, log


def _engagement_tasks(learner: Learner, target: str) -> tuple[str, ...]:
    """A multi-task model's tasks (the target is one of them: each task's column holds its
    labels), or none."""
    if not isinstance(learner, MultiTask):
        return ()
    tasks = tuple(learner.tasks)
    if target not in tasks:
        raise ValueError(f"target {target!r}: a multi-task model's labels are its tasks {tasks}")
    return tasks


def _through_the_runner(learner, stream, task, window, recorded, outputs):
    """The runner, with each label right after its event's prediction: progressive
    validation through the same loop as ``streamlearn run`` and the service (a multi-task
    model's labels are feedback by task, learned as its window, half an event, closes)."""
    ttl = 0.5 if stream.tasks else math.inf
    runner = Runner(learner, stream, ttl=ttl, window=window, curves=recorded, **outputs)
    on_batch = None
    if stream.on_progress is not None:
        on_batch = lambda summary: stream.on_progress(  # noqa: E731
            stream.source.position, stream.source.size, summary.learned
        )
    summary = runner.run(on_batch=on_batch)
    report = Report(
        events=summary.learned,
        seconds=summary.seconds,
        cpu_seconds=summary.cpu_seconds,
        compile_seconds=summary.compile_seconds,
        metrics=summary.metrics,
        task=task,
        model=type(learner).__name__,
        window=window,
        extra=learner.described(),
    )
    return report, runner.dead_letters, runner.champion.model


def _progressively(learner, stream, task, window, recorded, rejects_path):
    log = RejectLog(Path(rejects_path) if rejects_path else None)

    def batches():
        for batch in stream.batches():
            log.add(batch.rejects)
            yield batch.features, batch.labels

    def progress(events: int, _metrics: Any) -> None:
        if stream.on_progress is not None:
            stream.on_progress(stream.source.position, stream.source.size, events)

    try:
        report = progressive_val_score(
            learner, batches(), default_metrics(task, window), on_batch=progress, curves=recorded
        )
    finally:
        log.close()
    return report, log


class _Validated(EventSource):
    """The file's rows whose labels fit the task, as runner batches (labels with their
    events; a multi-task model's, each of its ``tasks``' column, as feedback by id), up to
    ``limit``; the time column, if any, stamps drift records."""

    def __init__(
        self,
        source: FileSource,
        batches,
        task: str,
        times,
        limit: int | None,
        tasks: tuple[str, ...] = (),
    ):
        self.source, self._batches, self.task = source, batches, task
        self.times, self.limit, self.tasks = times, limit, tasks
        self.on_progress: Callable[[int, int, int], None] | None = None

    def batches(self, after: int = 0, rows: int = 16384, last_key: float = -math.inf):
        remaining = self.limit
        for batch in self._batches:
            batch = _valid_labels(batch, self.task)
            features, labels = self.times.take(batch.features), batch.target
            offsets = np.asarray(batch.rows, np.int64)
            if remaining is not None:
                features = {k: v[:remaining] for k, v in features.items()}
                labels, offsets = labels[:remaining], offsets[:remaining]
                remaining -= len(labels)
            keys = offsets.astype(np.float64)
            events = EventBatch(features, label_array(labels), offsets, offsets, keys)
            events.rejects = batch.rejects
            for start in range(0, len(events), rows):
                part = events.slice(start, min(start + rows, len(events)))
                # feedback with its own events: it waits no longer than their windows
                yield self._engagements(part) if self.tasks else part
            if remaining is not None and remaining <= 0:
                return

    def _engagements(self, part: EventBatch) -> EventBatch:
        """Impressions whose engagement comes with them: each task's column (the target's:
        the labels) as feedback for its event, where it holds a number."""
        features = dict(part.features)
        ids, values, tasks = [], [], []
        for task in self.tasks:
            column = part.labels if task == self.source.target else features.pop(task, None)
            if column is None:
                raise ValueError(f"the file has no column for the task {task!r}")
            column = np.asarray(_as_list(column), np.float64)
            given = ~np.isnan(column)  # an infinite one is refused as feedback, with its reason
            ids.append(part.offsets[given])
            values.append(column[given])
            tasks += [task] * int(given.sum())
        return replace(
            part,
            features=features,
            labels=np.full(len(part), np.nan),
            feedback_ids=np.concatenate(ids).astype(object),
            feedback_labels=np.concatenate(values),
            feedback_tasks=np.array(tasks, dtype=object),
        )


class _EventTimes:
    """Remembers each batch's event times (from a column, or the processing time) so that
    drift records can say when their event happened."""

    def __init__(self, column: str | None) -> None:
        self.column = column
        self.starts: list[int] = []
        self.times: list[list[str] | str] = []
        self.events = 0

    def take(self, features: dict[str, Any]) -> dict[str, Any]:
        """Note the batch's times; returns its features without the time column."""
        self.starts.append(self.events)
        self.events += n_rows(features)
        if self.column is None:
            self.times.append(datetime.now(UTC).isoformat(timespec="seconds"))
            return features
        if self.column not in features:
            raise ValueError(f"time column {self.column!r} is not in the data")
        features = dict(features)
        values = features.pop(self.column)
        self.times.append([str(v) for v in _as_list(values)])
        return features

    def stamp(self, event: dict[str, Any]) -> dict[str, Any]:
        index = int(event["index"])
        batch = bisect.bisect_right(self.starts, index) - 1
        times = self.times[batch]
        moment = times if isinstance(times, str) else times[index - self.starts[batch]]
        return {**event, "time": moment}


def _as_list(values: Any) -> list[Any]:
    return values.to_pylist() if hasattr(values, "to_pylist") else list(values)


def _chain(first: Batch, rest: Iterator[Batch]) -> Iterator[Batch]:
    yield first
    yield from rest
