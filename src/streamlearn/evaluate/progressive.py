"""Progressive validation: every event is predicted first, then learned; the metrics score
the predictions made before each label was seen.

Two doors, one definition: :func:`progressive_val_score` runs batches of columnar events
through the learner's compiled ``predict_learn_many``; :func:`progressive_val_score_one`
runs dict events through ``predict_one`` / ``learn_one``, as River does. On the same events
they give the same predictions and so the same metrics.

>>> from streamlearn.datasets import elec2
>>> from streamlearn.evaluate import progressive_val_score_one
>>> from streamlearn.models import LogisticRegression
>>> report = progressive_val_score_one(LogisticRegression(), elec2.stream(limit=5000))
>>> report.events, report.metrics["accuracy"] > 0.6
(5000, True)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streamlearn.base import Classifier, Learner, MulticlassClassifier, check_label
from streamlearn.base.kernel_clock import KernelClock
from streamlearn.evaluate.curve import Curve
from streamlearn.evaluate.metrics import Metric, default_metrics


@dataclass
class Report:
    """What a progressive run measured.

    Parameters
    ----------
    events, seconds, cpu_seconds
        Events evaluated, and the wall-clock and CPU time it took.
    compile_seconds
        The seconds spent compiling the compiled kernels (on a fresh install) or loading
        them from the cache: ``events_per_second`` leaves them out.
    metrics
        Each metric's value at the end (rolling ones over the last ``window`` events).
    task, model
        The task and the learner's name.
    window
        Events in the rolling metrics.
    extra
        What the learner adds (its weights' sparsity, …).
    drift_events
        One record per drift detected, with where and when.
    curves
        The metrics over time, when asked for.

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.models import LogisticRegression
    >>> from streamlearn.streams.files import FileSource
    >>> batches = ((b.features, b.target) for b in FileSource(elec2.path(), "target"))
    >>> report = progressive_val_score(LogisticRegression(bits=16), batches)
    >>> report.events, round(report.metrics["accuracy"], 3), report.task
    (45312, 0.823, 'binary')
    """

    events: int
    seconds: float
    cpu_seconds: float
    metrics: dict[str, float]
    task: str
    model: str
    window: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    drift_events: list[dict[str, Any]] = field(default_factory=list)
    curves: list[Curve] = field(default_factory=list)
    compile_seconds: float = 0.0

    @property
    def events_per_second(self) -> float:
        """Events per second, the kernels' compilation or loading left out (reported apart
        as ``compile_seconds``)."""
        seconds = self.seconds - self.compile_seconds
        return self.events / seconds if seconds > 0 else float("inf")

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "seconds": round(self.seconds, 6),
            "cpu_seconds": round(self.cpu_seconds, 6),
            "events_per_second": round(self.events_per_second, 1),
            "compile_seconds": round(self.compile_seconds, 6),
            "task": self.task,
            "model": self.model,
            "window": self.window,
            **self.metrics,
            **self.extra,
            **({"drift_events": self.drift_events} if self.drift_events else {}),
        }


class _Clock:
    """Wall and CPU seconds since entering, and the kernels' compile seconds among them."""

    def __enter__(self) -> _Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        self.kernels = KernelClock().__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.kernels.__exit__(*exc)

    def elapsed(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def _report(model: Learner, metrics: list[Metric], events: int, clock: _Clock) -> Report:
    wall, cpu = clock.elapsed()
    extra = model.described()
    windows = {m.window for m in metrics if m.window}
    return Report(
        events=events,
        seconds=wall,
        cpu_seconds=cpu,
        metrics={m.label: m.get() for m in metrics},
        task=model.task,
        model=type(model).__name__,
        window=windows.pop() if len(windows) == 1 else None,
        extra=extra,
        compile_seconds=clock.kernels.seconds,
    )


def progressive_val_score(
    model: Learner,
    batches: Iterable[tuple[Any, Any]],
    metrics: list[Metric] | None = None,
    on_batch: Callable[[int, list[Metric]], None] | None = None,
    curves: Sequence[Curve] = (),
) -> Report:
    """Predict-then-learn over batches of ``(columns, targets)``; memory stays constant.
    ``curves`` record metrics over time (for plots)."""
    metrics = default_metrics(model.task) if metrics is None else metrics
    events = 0
    with _Clock() as clock:
        for X, y in batches:
            if isinstance(model, MulticlassClassifier):
                predictions = model.predict_learn_many(X, y)
                targets = class_ids(model, y)
            else:
                targets = np.asarray(y, dtype=np.float64)
                predictions = model.predict_learn_many(X, targets)
            for metric in (*metrics, *curves):
                metric.update_many(targets, predictions)
            events += len(targets)
            if on_batch is not None:
                on_batch(events, metrics)
        return _report(model, metrics, events, clock)


def class_ids(model: MulticlassClassifier, labels: Any) -> np.ndarray:
    """The column of each label in the model's probability rows."""
    lookup = {label: i for i, label in enumerate(model.classes)}
    values = labels.tolist() if hasattr(labels, "tolist") else list(labels)
    return np.array([lookup[check_label(label)] for label in values], dtype=np.int64)


def progressive_val_score_one(
    model: Learner,
    events: Iterable[tuple[dict, Any]],
    metrics: list[Metric] | None = None,
) -> Report:
    """Predict-then-learn over ``(features, target)`` events, one at a time."""
    metrics = default_metrics(model.task) if metrics is None else metrics
    count = 0
    with _Clock() as clock:
        for x, y in events:
            if isinstance(model, Classifier):
                prediction, target = model.predict_proba_one(x)[True], float(y)
            elif isinstance(model, MulticlassClassifier):
                proba = model.predict_proba_one(x)
                prediction = np.array([proba[label] for label in model.classes])
            else:
                prediction, target = model.predict_one(x), float(y)
            model.learn_one(x, y)
            if isinstance(model, MulticlassClassifier):
                target = model.classes.index(check_label(y))
            for metric in metrics:
                metric.update(target, prediction)
            count += 1
        return _report(model, metrics, count, clock)
