"""A forest's memory after a long drifting stream, against the cap its settings imply.

A 10-tree adaptive random forest learns a stream of 1,000,000 events (ten numbers and a
category; the concept, which side of a random plane, changes every 200,000 events) in
batches of 50,000, predicting each event before learning it. Printed per batch: accuracy,
leaves, trees replaced, the bytes of its arrays and the cap (``max_nbytes()``), the
process's peak RSS and CPU seconds.

python bench/bench_tree_memory.py [--events 1000000] [--max-leaves 1000] [--markdown out.md]
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
from _report import emit

from streamlearn.models import AdaptiveRandomForestClassifier

BATCH = 50_000


def batch(rng: np.random.Generator, planes: np.ndarray, start: int, n: int):
    X = rng.random((n, planes.shape[1]))
    concept = planes[start // 200_000 % len(planes)]
    labels = (X - 0.5) @ concept > 0
    colors = rng.choice(np.array(["red", "green", "blue", "grey"]), n)
    labels ^= (colors == "red") & (X[:, 0] > 0.8)
    columns = {f"x{j}": X[:, j] for j in range(X.shape[1])} | {"color": colors}
    return columns, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--max-leaves", type=int, default=1000)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    planes = rng.normal(size=(5, 10))
    forest = AdaptiveRandomForestClassifier(n_models=10, max_leaves=args.max_leaves, seed=1)
    rows = [
        "| events | accuracy (batch) | leaves | trees replaced | arrays MB | cap MB "
        "| peak RSS MB | CPU s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    start_cpu = time.process_time()
    for start in range(0, args.events, BATCH):
        columns, labels = batch(rng, planes, start, min(BATCH, args.events - start))
        proba = forest.predict_learn_many(columns, labels)
        best = np.array(forest.classes, dtype=object)[proba.argmax(axis=1)]
        accuracy = float(np.mean(best == labels))
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rows.append(
            f"| {start + len(labels):,} | {accuracy:.4f} | {forest.n_leaves:,} | "
            f"{forest.drifts} | {forest.tree.nbytes() / 1e6:.1f} | "
            f"{forest.max_nbytes() / 1e6:.1f} | {rss:.0f} | "
            f"{time.process_time() - start_cpu:.1f} |"
        )
        print(rows[-1], flush=True)
    assert forest.tree.nbytes() <= forest.max_nbytes(), "the forest outgrew its cap"
    emit(rows, args.markdown)


if __name__ == "__main__":
    main()
