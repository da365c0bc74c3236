"""Trees, forests, naive Bayes and nearest neighbours against River's, on River's benchmark
datasets and Elec2: progressive accuracy (classification) or MAE (regression) with default
hyper-parameters and CPU seconds, both in the same run. River's regressors and neighbours
run behind a StandardScaler, as in River's own benchmarks (ours standardize their numbers
themselves), but for the Mondrian forests, which both take the numbers as they come.

Our learners run each stream as one batch (``predict_learn_many``: each event predicted,
then learned, in order); River's learn one event at a time, as it is used. The compiled
kernels are compiled (or loaded from numba's cache) once before the timed runs.

python bench/bench_trees.py [--datasets Bananas,Phishing] [--seeds 42,7] [--markdown out.md]
"""

from __future__ import annotations

import argparse
import time
from functools import partial
from pathlib import Path

import numpy as np
from _report import emit
from river import datasets, forest, metrics, naive_bayes, neighbors, preprocessing, tree

from streamlearn.base import Task
from streamlearn.datasets import elec2
from streamlearn.models import (
    AdaptiveRandomForestClassifier,
    AdaptiveRandomForestRegressor,
    AMFClassifier,
    AMFRegressor,
    GaussianNB,
    HoeffdingAdaptiveTreeClassifier,
    HoeffdingAdaptiveTreeRegressor,
    HoeffdingTreeClassifier,
    HoeffdingTreeRegressor,
    KNNClassifier,
    KNNRegressor,
    LinearRegression,
    LogisticRegression,
    SoftmaxRegression,
)

DATASETS = ("Bananas", "Phishing", "ImageSegments", "Elec2", "TrumpApproval", "ChickWeights")
REGRESSIONS = {"TrumpApproval", "ChickWeights"}
# ours, River's (seed → learner), and whether the seed matters
PAIRS = {
    "Gaussian naive Bayes": (
        lambda seed: GaussianNB(),
        lambda seed: naive_bayes.GaussianNB(),
        False,
    ),
    "Hoeffding tree": (
        lambda seed: HoeffdingTreeClassifier(),
        lambda seed: tree.HoeffdingTreeClassifier(),
        False,
    ),
    "Hoeffding adaptive tree": (
        lambda seed: HoeffdingAdaptiveTreeClassifier(seed=seed),
        lambda seed: tree.HoeffdingAdaptiveTreeClassifier(seed=seed),
        True,
    ),
    "Adaptive random forest": (
        lambda seed: AdaptiveRandomForestClassifier(seed=seed),
        lambda seed: forest.ARFClassifier(seed=seed),
        True,
    ),
    "Aggregated Mondrian forest": (
        lambda seed: AMFClassifier(seed=seed),
        lambda seed: forest.AMFClassifier(seed=seed),
        True,
    ),
    "k-nearest neighbours": (
        lambda seed: KNNClassifier(),
        lambda seed: preprocessing.StandardScaler() | neighbors.KNNClassifier(),
        False,
    ),
}
REGRESSORS = {
    "Hoeffding tree": (
        lambda seed: HoeffdingTreeRegressor(),
        lambda seed: preprocessing.StandardScaler() | tree.HoeffdingTreeRegressor(),
        False,
    ),
    "Hoeffding adaptive tree": (
        lambda seed: HoeffdingAdaptiveTreeRegressor(seed=seed),
        lambda seed: (
            preprocessing.StandardScaler() | tree.HoeffdingAdaptiveTreeRegressor(seed=seed)
        ),
        True,
    ),
    "Adaptive random forest": (
        lambda seed: AdaptiveRandomForestRegressor(seed=seed),
        lambda seed: preprocessing.StandardScaler() | forest.ARFRegressor(seed=seed),
        True,
    ),
    # Both take the numbers as they come (a Mondrian process splits by distances).
    "Aggregated Mondrian forest": (
        lambda seed: AMFRegressor(seed=seed),
        lambda seed: forest.AMFRegressor(seed=seed),
        True,
    ),
    "k-nearest neighbours": (
        lambda seed: KNNRegressor(),
        lambda seed: preprocessing.StandardScaler() | neighbors.KNNRegressor(),
        False,
    ),
}


def load(name: str) -> list[tuple[dict, object]]:
    if name == "Elec2":
        return [(x, bool(y)) for x, y in elec2.stream()]
    data = list(getattr(datasets, name)())
    return [(x, float(y)) for x, y in data] if name in REGRESSIONS else data


def ours(make, data) -> tuple[float, float]:
    names = sorted({k for x, _ in data for k in x})
    columns = {k: [x.get(k) for x, _ in data] for k in names}
    labels = np.array([y for _, y in data], dtype=object)
    model = make()
    if model.task != Task.MULTICLASS:  # a number, or the probability of True
        targets = labels.astype(float)
        start = time.process_time()
        predictions = model.predict_learn_many(columns, targets)
        seconds = time.process_time() - start
        if model.task == Task.BINARY:
            return float(np.mean((predictions >= 0.5) == (targets == 1.0))), seconds
        return float(np.mean(np.abs(predictions - targets))), seconds
    start = time.process_time()
    proba = model.predict_learn_many(columns, labels)
    seconds = time.process_time() - start
    classes = np.array([*model.classes, None], dtype=object)
    best = np.where(proba.sum(axis=1) > 0, proba.argmax(axis=1), len(classes) - 1)
    return float(np.mean(classes[best] == labels)), seconds


def river(make, data) -> tuple[float, float]:
    model = make()
    regression = isinstance(data[0][1], float)
    score = metrics.MAE() if regression else metrics.Accuracy()
    start = time.process_time()
    for x, y in data:
        prediction = model.predict_one(x)
        score.update(y, 0.0 if regression and prediction is None else prediction)
        model.learn_one(x, y)
    return score.get(), time.process_time() - start


def linear(data) -> float:
    """The linear default's score, for scale: logistic on two classes, softmax on more,
    least squares on a regression."""
    if isinstance(data[0][1], float):
        return ours(LinearRegression, data)[0]
    if {y for _, y in data} <= {True, False}:
        names = sorted({k for x, _ in data for k in x})
        labels = np.array([y for _, y in data], dtype=bool)
        proba = LogisticRegression().predict_learn_many(
            {k: [x.get(k) for x, _ in data] for k in names}, labels
        )
        return float(np.mean((proba >= 0.5) == labels))
    return ours(SoftmaxRegression, data)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--seeds", default="42,7,1")
    parser.add_argument("--models", default=None, help="only these models (comma-separated)")
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    for data, pairs in ((load("Phishing")[:300], PAIRS), (load("TrumpApproval")[:300], REGRESSORS)):
        for make, _, _ in pairs.values():
            ours(partial(make, 0), data)  # compile, or load the compiled kernels
    rows = [
        "| dataset | model | metric | ours | River | ours CPU s | River CPU s | speed-up |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for name in args.datasets.split(","):
        data = load(name)
        metric = "MAE" if name in REGRESSIONS else "accuracy"
        print(f"{name}: {len(data)} events; linear default {metric} {linear(data):.4f}", flush=True)
        for model, (make_ours, make_river, seeded) in (
            REGRESSORS if name in REGRESSIONS else PAIRS
        ).items():
            if args.models and model not in args.models.split(","):
                continue
            runs = seeds if seeded else seeds[:1]
            mine = [ours(partial(make_ours, s), data) for s in runs]
            theirs = [river(partial(make_river, s), data) for s in runs]
            acc_o, cpu_o = np.mean([a for a, _ in mine]), np.sum([c for _, c in mine])
            acc_r, cpu_r = np.mean([a for a, _ in theirs]), np.sum([c for _, c in theirs])
            rows.append(
                f"| {name} | {model} | {metric} | {acc_o:.4f} | {acc_r:.4f} | {cpu_o:.3f} "
                f"| {cpu_r:.2f} | {cpu_r / cpu_o:.0f}× |"
            )
            print(rows[-1], flush=True)
    emit(rows, args.markdown)


if __name__ == "__main__":
    main()
