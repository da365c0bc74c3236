"""Checks of a learner inside the engine: a run with labels by id through the
:class:`~streamlearn.runner.Runner` learns every label, and stopped at a checkpoint and
resumed, ends bit for bit where an uninterrupted run does."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from typing import Any

import numpy as np

from streamlearn.base import Task
from streamlearn.checks.data import bandit_log, engagement, labelled
from streamlearn.checks.helpers import assert_same_state
from streamlearn.models.recommend.mf import Factorization
from streamlearn.registry import LocalRegistry
from streamlearn.runner import Runner
from streamlearn.streams.batch import label_array
from streamlearn.streams.decode import event_columns
from streamlearn.streams.sources import RecordedEvents

Factory = Callable[[], Any]
DELAY = 25.0  # each label comes this long (in events) after its event
TTL = 4 * DELAY  # a ranker's feedback window: it learns each event when it closes


def delayed_stream(model: Any, n: int = 600) -> RecordedEvents:
    """Messy events one time unit apart, each label ``DELAY`` later, by id: a bandit's
    events carry the arm served (its reward is the label), a ranker's feedback comes per
    task."""
    times = np.arange(n, dtype=np.float64)
    ids = np.arange(1, n + 1)
    if model.task == Task.RANKING and not isinstance(model, Factorization):  # BPR ranks too
        events, engagements = engagement(n)
        feedback: dict[str, list] = {"id": [], "time": [], "label": [], "task": []}
        for k, got in enumerate(engagements):
            for task, value in got.items():
                if value is not None:
                    feedback["id"].append(int(ids[k]))
                    feedback["time"].append(times[k] + DELAY)
                    feedback["label"].append(value)
                    feedback["task"].append(task)
        return RecordedEvents(event_columns(events), times, feedback=feedback)
    if model.task == Task.BANDIT:
        events, arms, targets = bandit_log(n)
        columns = event_columns(events) | {model.arm_column: np.array(arms, dtype=object)}
    else:
        events, targets = labelled(model, n)
        columns = event_columns(events)
    feedback = {"id": ids, "time": times + DELAY, "label": label_array(targets)}
    return RecordedEvents(columns, times, feedback=feedback)


def check_run_stopped_at_a_checkpoint_and_resumed_ends_bit_identical(make: Factory) -> None:
    whole = Runner(make(), delayed_stream(make()), ttl=TTL, micro_batch=50)
    expected = whole.run()
    counts = (expected.served, expected.learned, expected.late, expected.expired)
    assert counts == (600, 600, 0, 0), (
        f"labels were lost (served, learned, late, expired: {counts})"
    )
    with tempfile.TemporaryDirectory() as folder:

        def runner() -> Runner:
            return Runner(
                make(),
                delayed_stream(make()),
                ttl=TTL,
                micro_batch=50,
                registry=LocalRegistry(folder),
                checkpoint_every=100,
            )

        first = runner().run(limit=350)  # a whole number of micro-batches
        assert first.served == 350 and first.learned < 350, "the run did not stop midway"
        resumed = runner()
        summary = resumed.run()
    assert summary.resumed_from is not None, "the second run did not resume"
    assert (summary.served, summary.learned) == (expected.served, expected.learned)
    assert summary.metrics == expected.metrics, "the resumed run scored differently"
    assert_same_state(resumed.model, whole.model, ignore=("detected_at",))
