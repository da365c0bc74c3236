"""An engagement ranker on a generated social timeline, through the runner: impressions
served, clicks, likes and dwell times arriving later as feedback by id, three online heads
on shared features, and the ranking judged against what users really engage with.

The recorded stream (an impression a second; each piece of feedback 10–60 s after its
impression, a click only when there was one) is replayed by the runner as a live service
would receive it: every impression is served (scored) before any of its feedback is known,
waits in the join, and is learned when its feedback window (120 s, the TTL) closes, with
the feedback that came (no click is a 0). The same config serves it over HTTP
(``model.kind = "ranker"``; ``POST /feedback`` with a ``task``). At the end, for 2,000
fresh sessions of 20 candidate posts each, the ranker's order is scored by NDCG@5 against
the simulator's true engagement (the probability of a click), and against a random order.

python examples/ranker_timeline.py [--events 200000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from streamlearn.datasets import synth
from streamlearn.models import EngagementRanker
from streamlearn.runner import Runner
from streamlearn.streams import RecordedEvents

TASKS = {"click": "binary", "like": "binary", "dwell": "regression"}
CROSSES = [("user", "topic"), ("user", "author")]
WINDOW = 120.0  # seconds of feedback per impression


def recorded(events, labels, gap: float = 1.0, seed: int = 7) -> RecordedEvents:
    """The stream as recorded: impressions ``gap`` s apart, each piece of feedback (a
    task's label, by impression id) 10–60 s after its impression."""
    rng = np.random.default_rng(seed)
    n = len(events["user"])
    ids = np.array([f"imp{k}" for k in range(n)], dtype=object)
    times = np.arange(n) * gap
    feedback = {"id": [], "time": [], "label": [], "task": []}
    for task in TASKS:
        values = labels[task]
        came = np.isfinite(values) & ((values > 0) if task == "click" else True)
        picked = np.flatnonzero(came)
        feedback["id"] += ids[picked].tolist()
        feedback["time"] += (times[picked] + rng.uniform(10, 60, len(picked))).tolist()
        feedback["label"] += values[picked].tolist()
        feedback["task"] += [task] * len(picked)
    return RecordedEvents(events, times, ids, feedback)


def replay(ranker: EngagementRanker, source: RecordedEvents) -> Runner:
    """Serve every impression, collect its feedback, learn it when its window closes."""
    runner = Runner(ranker, source, ttl=WINDOW, micro_batch=256)
    runner.run()
    return runner


def ndcg_at_5(ranker, users, topics, authors, seed=3) -> dict[str, float]:
    """Fresh sessions: rank 20 candidates; gain = the true click probability."""
    rng = np.random.default_rng(seed)
    affinity, quality = synth.timeline_truth(seed=1)
    results = {"streamlearn ranker (3 tasks)": [], "random order": []}
    discounts = 1 / np.log2(np.arange(2, 7))
    for _ in range(2000):
        user = int(rng.integers(0, 50))
        topic = rng.integers(0, topics, 20)
        author = rng.integers(0, authors, 20)
        gains = 1 / (1 + np.exp(-(affinity[user, topic] + quality[author] + 0.4 - 1.5)))
        ideal = np.sort(gains)[::-1][:5] @ discounts
        candidates = [
            {"topic": f"t{t}", "author": f"a{a}", "post": f"fresh{i}"}
            for i, (t, a) in enumerate(zip(topic, author, strict=True))
        ]
        order = [i for i, _ in ranker.rank({"user": f"u{user}", "hour": 20}, candidates)]
        results["streamlearn ranker (3 tasks)"].append(gains[order[:5]] @ discounts / ideal)
        results["random order"].append(gains[rng.permutation(20)[:5]] @ discounts / ideal)
    return {name: float(np.mean(v)) for name, v in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    events, labels = synth.timeline(args.events, seed=1)
    ranker = EngagementRanker(
        TASKS,
        weights={"click": 1.0, "like": 0.5, "dwell": 0.01},
        defaults={"click": 0.0},
        interactions=CROSSES,
    )
    source = recorded(events, labels)
    start = time.process_time()
    runner = replay(ranker, source)
    cpu = time.process_time() - start
    counters = runner.counters
    scores = ndcg_at_5(ranker, 200, 8, 5)
    metrics = runner.champion.metric_values()
    print(
        f"{counters['served']:,} impressions served and {counters['learned']:,} learned at "
        f"their window's close through the runner ({len(source.feedback['id']):,} pieces of "
        f"feedback; {counters['late']} late) in {cpu:.1f} CPU s "
        f"({counters['served'] / cpu:,.0f}/s)\n"
        f"score vs the engagement that came: MAE {metrics['mae']:.3f}, RMSE {metrics['rmse']:.3f}\n"
    )
    print("| ranking of 20 fresh candidates (2,000 sessions) | NDCG@5 vs true engagement |")
    print("|---|---:|")
    for name, value in scores.items():
        print(f"| {name} | {value:.3f} |")


if __name__ == "__main__":
    main()
