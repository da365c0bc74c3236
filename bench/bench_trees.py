"""Trees and forests against River's, on River's benchmark datasets and Elec2: progressive
accuracy with default hyper-parameters and CPU seconds, both in the same run.

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
from river import datasets, forest, metrics, naive_bayes, tree

from streamlearn.datasets import elec2
from streamlearn.models import (
    AdaptiveRandomForestClassifier,
    GaussianNB,
    HoeffdingTreeClassifier,
    LogisticRegression,
    SoftmaxRegression,
)

DATASETS = ("Bananas", "Phishing", "ImageSegments", "Elec2")
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
    "Adaptive random forest": (
        lambda seed: AdaptiveRandomForestClassifier(seed=seed),
        lambda seed: forest.ARFClassifier(seed=seed),
        True,
    ),
}


def load(name: str) -> list[tuple[dict, object]]:
    if name == "Elec2":
        return [(x, bool(y)) for x, y in elec2.stream()]
    return list(getattr(datasets, name)())


def ours(make, data) -> tuple[float, float]:
    names = sorted({k for x, _ in data for k in x})
    columns = {k: [x.get(k) for x, _ in data] for k in names}
    labels = np.array([y for _, y in data], dtype=object)
    model = make()
    start = time.process_time()
    proba = model.predict_learn_many(columns, labels)
    seconds = time.process_time() - start
    classes = np.array([*model.classes, None], dtype=object)
    best = np.where(proba.sum(axis=1) > 0, proba.argmax(axis=1), len(classes) - 1)
    return float(np.mean(classes[best] == labels)), seconds


def river(make, data) -> tuple[float, float]:
    model, accuracy = make(), metrics.Accuracy()
    start = time.process_time()
    for x, y in data:
        accuracy.update(y, model.predict_one(x))
        model.learn_one(x, y)
    return accuracy.get(), time.process_time() - start


def linear(data) -> float:
    """The linear default's accuracy, for scale: logistic on two classes, softmax on more."""
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
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    warm = load("Phishing")[:300]
    for make, _, _ in PAIRS.values():
        ours(lambda make=make: make(0), warm)  # compile, or load the compiled kernels
    rows = [
        "| dataset | model | ours accuracy | River accuracy | ours CPU s | River CPU s "
        "| speed-up |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name in args.datasets.split(","):
        data = load(name)
        print(f"{name}: {len(data)} events; linear default accuracy {linear(data):.4f}", flush=True)
        for model, (make_ours, make_river, seeded) in PAIRS.items():
            runs = seeds if seeded else seeds[:1]
            mine = [ours(partial(make_ours, s), data) for s in runs]
            theirs = [river(partial(make_river, s), data) for s in runs]
            acc_o, cpu_o = np.mean([a for a, _ in mine]), np.sum([c for _, c in mine])
            acc_r, cpu_r = np.mean([a for a, _ in theirs]), np.sum([c for _, c in theirs])
            rows.append(
                f"| {name} | {model} | {acc_o:.4f} | {acc_r:.4f} | {cpu_o:.2f} | {cpu_r:.2f} "
                f"| {cpu_r / cpu_o:.0f}× |"
            )
            print(rows[-1], flush=True)
    emit(rows, args.markdown)


if __name__ == "__main__":
    main()
