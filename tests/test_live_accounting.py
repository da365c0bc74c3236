"""Live accounting against a reference: events at random arrival times, labels by id that
come in time, after their event's wait, twice, before their event, or for ids no event had.
Each is counted once, as what it is: learned, expired, late or unknown — whatever the
micro-batch, and across a stop and resume."""

from __future__ import annotations

import numpy as np
import pytest

from streamlearn.models import LogisticRegression
from streamlearn.registry import LocalRegistry
from streamlearn.runner import Runner
from streamlearn.streams.sources import RecordedEvents

TTL = 100.0
N = 1500


def live_stream(seed: int = 3) -> tuple[RecordedEvents, dict[str, int]]:
    """Events one time unit apart on average; each event's fate drawn, and the counts a
    reference that follows every id expects. Labels keep over a seventh of the TTL away from any
    boundary, so that the expected fate does not depend on where a micro-batch ends."""
    rng = np.random.default_rng(seed)
    times = np.cumsum(rng.exponential(1.0, N))
    ids = [f"e{i}" for i in range(N)]
    fates = rng.choice(["learned", "expired", "late", "twice", "early"], N)
    feedback: dict[str, list] = {"id": [], "time": [], "label": []}
    expected = dict.fromkeys(("served", "learned", "expired", "late", "unknown"), 0)
    expected["served"] = N

    def label(event_id: str, at: float) -> None:
        feedback["id"].append(event_id)
        feedback["time"].append(at)
        feedback["label"].append(float(rng.random() < 0.5))

    for event_id, t, fate in zip(ids, times.tolist(), fates.tolist(), strict=True):
        within = rng.uniform(0.3, 0.6) * TTL
        if fate == "learned":
            label(event_id, t + within)
        elif fate == "early":  # the label came first and waits for its event
            label(event_id, t - within / 2)
        elif fate == "late":  # after the event expired, within a TTL of that
            label(event_id, t + TTL + within)
            expected["expired"] += 1
        elif fate == "twice":  # learned, then a second label: late
            label(event_id, t + within / 2)
            label(event_id, t + within)
            expected["late"] += 1
        else:
            expected["expired"] += 1
        expected["learned"] += fate in ("learned", "early", "twice")
        expected["late"] += fate == "late"
    for i, at in enumerate(rng.uniform(0, times[-1] - 2 * TTL, 60).tolist()):
        label(f"stray{i}", at)  # no event ever had this id
    expected["unknown"] = 60
    return RecordedEvents({"x": rng.normal(size=N)}, times, ids=ids, feedback=feedback), expected


def counted(summary) -> dict[str, int]:
    return {k: getattr(summary, k) for k in ("served", "learned", "expired", "late", "unknown")}


@pytest.mark.parametrize("micro_batch", [1, 7, 16])
def test_each_label_is_counted_once_as_what_it_is(micro_batch):
    stream, expected = live_stream()
    summary = Runner(LogisticRegression(bits=8), stream, ttl=TTL, micro_batch=micro_batch).run()
    assert counted(summary) == expected


def test_a_resumed_run_counts_as_an_uninterrupted_one(tmp_path):
    stream, expected = live_stream(seed=5)

    def runner() -> Runner:
        return Runner(
            LogisticRegression(bits=8),
            stream,
            ttl=TTL,
            micro_batch=16,
            registry=LocalRegistry(tmp_path),
            checkpoint_every=100,
        )

    runner().run(limit=700)
    summary = runner().run()
    assert summary.resumed_from is not None
    assert counted(summary) == expected


def test_memory_of_closed_ids_is_bounded():
    stream, _ = live_stream()
    run = Runner(LogisticRegression(bits=8), stream, ttl=TTL, micro_batch=16)
    run.run()
    # Only ids whose wait ended within the last TTL are remembered (about TTL events' worth).
    assert len(run.champion.closed) < 3 * TTL
