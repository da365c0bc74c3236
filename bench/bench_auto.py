"""``--model auto`` (the linear default, two forests and nearest neighbours, pooled) against
River's models on River's benchmark datasets and Elec2, and against the linear default on a
sparse click stream: progressive accuracy / MAE / log loss and CPU seconds, all in the same
run.

River's models here: Hoeffding tree, adaptive random forest, Aggregated Mondrian Forest,
and Gaussian naive Bayes (classification) or linear regression (regression), each behind
a StandardScaler on the regressions, as River's own benchmarks run them; "River best" is
the best of them on the dataset. Seeded models (ours, River's forests) give the mean over
``--seeds``; CPU seconds are per run. Speed-ups are against River's adaptive random forest.

python bench/bench_auto.py [--datasets Bananas,Phishing] [--seeds 42,7,1] [--clicks 100000]
    [--river-clicks 5000] [--markdown out.md]
"""

from __future__ import annotations

import argparse
import time
from functools import partial
from pathlib import Path

import numpy as np
from _report import emit
from bench_trees import DATASETS, REGRESSIONS, load, ours, river
from river import forest, linear_model, naive_bayes, preprocessing, tree

from streamlearn.base.losses import PROBABILITY_CLIP
from streamlearn.datasets import synth
from streamlearn.models import (
    AutoClassifier,
    AutoMulticlass,
    AutoRegressor,
    LogisticRegression,
)

# name → (seed → River model), and whether the seed matters
RIVER_CLASSIFIERS = {
    "Hoeffding tree": (lambda seed: tree.HoeffdingTreeClassifier(), False),
    "ARF": (lambda seed: forest.ARFClassifier(seed=seed), True),
    "AMF": (lambda seed: forest.AMFClassifier(seed=seed), True),
    "Gaussian NB": (lambda seed: naive_bayes.GaussianNB(), False),
}
RIVER_REGRESSORS = {
    "Hoeffding tree": (lambda seed: tree.HoeffdingTreeRegressor(), False),
    "ARF": (lambda seed: forest.ARFRegressor(seed=seed), True),
    "AMF": (lambda seed: forest.AMFRegressor(seed=seed), True),
    "linear regression": (lambda seed: linear_model.LinearRegression(), False),
}


def auto_for(data) -> type:
    if isinstance(data[0][1], float):
        return AutoRegressor
    return AutoClassifier if {y for _, y in data} <= {True, False} else AutoMulticlass


def mean_over(seeds: list[int], run) -> tuple[float, float]:
    """The mean score and CPU seconds of ``run(seed)`` over the seeds."""
    results = np.array([run(seed) for seed in seeds])
    return float(results[:, 0].mean()), float(results[:, 1].mean())


def dataset_rows(name: str, seeds: list[int]) -> list[str]:
    data = load(name)
    regression = name in REGRESSIONS
    mine, mine_cpu = mean_over(seeds, lambda seed: ours(partial(auto_for(data), seed=seed), data))
    peers = RIVER_REGRESSORS if regression else RIVER_CLASSIFIERS
    scores = {}
    for label, (make, seeded) in peers.items():

        def run(seed: int, make=make) -> tuple[float, float]:
            scaled = lambda: preprocessing.StandardScaler() | make(seed)  # noqa: E731
            return river(scaled if regression else partial(make, seed), data)

        scores[label] = mean_over(seeds if seeded else seeds[:1], run)
    better = min if regression else max
    best = better(scores, key=lambda k: scores[k][0])
    arf_cpu = scores["ARF"][1]
    metric = "MAE" if regression else "accuracy"
    print(name, {k: round(v[0], 4) for k, v in scores.items()}, flush=True)
    return [
        f"| {name} | {metric} | {mine:.4f} | {scores[best][0]:.4f} ({best}) | {mine_cpu:.2f} "
        f"| {arf_cpu:.2f} | {arf_cpu / mine_cpu:.0f}× |"
    ]


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, PROBABILITY_CLIP, 1 - PROBABILITY_CLIP)
    return float(np.mean(np.where(y, -np.log(p), -np.log(1 - p))))


def clicks_row(n: int, river_n: int) -> str:
    table = synth.click_stream(n)
    labels = table.column("click").to_numpy().astype(bool)
    X = table.drop(["click"])
    results = {}
    for label, make in (("linear", LogisticRegression), ("auto", AutoClassifier)):
        start = time.process_time()
        p = make().predict_learn_many(X, labels)
        results[label] = (log_loss(p, labels), time.process_time() - start)
    (lin, lin_cpu), (auto, auto_cpu) = results["linear"], results["auto"]
    river_cpu = river_clicks(table.slice(0, river_n))
    ratio = (river_cpu / river_n) / (auto_cpu / n)
    return (
        f"| clicks ({n:,} events) | log loss | auto {auto:.4f}, linear {lin:.4f} "
        f"({(auto / lin - 1) * 100:+.2f}%) | auto {auto_cpu:.1f} s, linear {lin_cpu:.1f} s; "
        f"River ARF {river_cpu / river_n * 1e6:,.0f} µs/event on the first {river_n:,}: "
        f"auto {ratio:.0f}× faster |"
    )


def river_clicks(table) -> float:
    """River's adaptive random forest's CPU seconds on the first click events (it slows as
    its trees grow, so the first events flatter it)."""
    model = forest.ARFClassifier(seed=42)
    start = time.process_time()
    for row in table.to_pylist():
        label = bool(row.pop("click"))
        model.predict_proba_one(row)
        model.learn_one(row, label)
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--seeds", default="42,7,1")
    parser.add_argument("--clicks", type=int, default=100_000)
    parser.add_argument("--river-clicks", type=int, default=5000, help="River ARF's events")
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()
    for data in (load("Phishing")[:300], load("TrumpApproval")[:300]):
        ours(partial(auto_for(data), seed=0), data)  # compile, or load the compiled kernels
    rows = [
        "| dataset | metric | auto | River best | auto CPU s | River ARF CPU s | speed-up |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name in args.datasets.split(","):
        rows += dataset_rows(name, [int(seed) for seed in args.seeds.split(",")])
        print(rows[-1], flush=True)
    rows += ["", "| stream | metric | auto vs the linear default | CPU |", "|---|---|---|---|"]
    rows.append(clicks_row(args.clicks, args.river_clicks))
    print(rows[-1], flush=True)
    emit(rows, args.markdown)


if __name__ == "__main__":
    main()
