"""The engagement ranker: several tasks on shared features, a score that orders posts by
what users engage with, and feedback that waits in a buffer."""

from __future__ import annotations

import numpy as np
import pytest

from streamlearn.datasets import synth
from streamlearn.evaluate import ROCAUC
from streamlearn.models import EngagementRanker, FeedbackBuffer

TASKS = {"click": "binary", "like": "binary", "dwell": "regression"}


def trained(n=60_000, seed=1):
    events, labels = synth.timeline(n, seed=seed)
    ranker = EngagementRanker(
        TASKS,
        weights={"click": 1.0, "like": 1.0, "dwell": 0.02},
        interactions=[("user", "topic"), ("user", "author")],
    )
    predictions = ranker.predict_learn_all(events, labels)
    return ranker, events, labels, predictions


def test_each_task_learns_from_the_events_that_carry_its_label():
    ranker, _, labels, predictions = trained()
    late = slice(40_000, None)
    # Likes are known on clicked posts only, where the user's pull is already high: a
    # harder task (its best possible AUC is lower), hence the lower bar.
    for task, bar in (("click", 0.7), ("like", 0.6)):
        known = np.isfinite(labels[task][late])
        auc = ROCAUC()
        auc.update_many(labels[task][late][known], predictions[task][late][known])
        assert auc.get() > bar, task
    dwell = np.isfinite(labels["dwell"][late])
    error = np.abs(predictions["dwell"][late][dwell] - labels["dwell"][late][dwell]).mean()
    baseline = np.abs(labels["dwell"][late][dwell] - np.nanmean(labels["dwell"])).mean()
    assert error < 0.95 * baseline  # dwell is mostly noise (log-normal, σ = 0.5)
    # The like head never saw an unclicked impression: it learned on clicked ones only.
    assert ranker.heads["like"].n_learned == int(np.isfinite(labels["like"]).sum())


def test_rank_puts_what_the_user_likes_first():
    ranker, events, _, _ = trained()
    user = "u0"  # the most active user: the model knows their tastes
    rows = events["user"] == user
    _, labels = synth.timeline(60_000, seed=1)
    clicked_topics = {}
    for topic, click in zip(events["topic"][rows], labels["click"][rows], strict=True):
        clicked_topics.setdefault(topic, []).append(click)
    rate = {t: np.mean(c) for t, c in clicked_topics.items() if len(c) >= 20}
    candidates = [{"topic": t, "author": "a0", "post": f"new{t}"} for t in rate]
    ranked = ranker.rank({"user": user, "hour": 20}, candidates)
    order = [candidates[i]["topic"] for i, _ in ranked]
    best, worst = max(rate, key=rate.get), min(rate, key=rate.get)
    assert order.index(best) < order.index(worst)
    assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)


def test_the_buffer_learns_when_the_window_closes():
    ranker = EngagementRanker(TASKS, bits=12)
    buffer = FeedbackBuffer(ranker, window=60.0, defaults={"click": 0.0})
    buffer.served("a", {"user": "u1", "topic": "t1"}, now=0.0)
    buffer.served("b", {"user": "u2", "topic": "t2"}, now=10.0)
    assert buffer.feedback("a", "click", 1.0) and buffer.feedback("a", "dwell", 30.0)
    assert buffer.flush(now=50.0) == 0 and ranker.heads["click"].n_learned == 0
    assert buffer.flush(now=65.0) == 1  # "a" closes; "b" still waits
    assert ranker.heads["click"].n_learned == 1 and ranker.heads["dwell"].n_learned == 1
    assert not buffer.feedback("a", "like", 1.0)  # too late: already learned
    assert buffer.flush(now=70.0) == 1  # "b": no click came, learned as a 0
    assert ranker.heads["click"].n_learned == 2 and ranker.heads["like"].n_learned == 0
    with pytest.raises(ValueError, match="unknown task"):
        buffer.served("c", {"user": "u3"}, now=80.0) or buffer.feedback("c", "share", 1.0)
