"""Checkpoint size and restore time against the weights a model uses.

A ``LogisticRegression(bits=20)`` (FTRL) learns events with 10k, 50k and 200k distinct user
ids; each model goes to a registry version. Printed per model: the weights in use, the
version's bytes, the dense table's bytes, the median of 5 restores (read, verify, rebuild
the learner), and River's ``LogisticRegression`` (weights in a dict) pickled after the same
events, with its unpickling time, as the peer.

python bench/bench_checkpoint.py [--markdown out.md]
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from _report import emit

from streamlearn.base import load_state
from streamlearn.models import LogisticRegression
from streamlearn.registry import LocalRegistry


def restore_ms(action, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def river_peer(users: np.ndarray, labels: np.ndarray) -> tuple[int, float]:
    """River's pickled model after the same events: its bytes and unpickling time (ms)."""
    from river import linear_model

    model = linear_model.LogisticRegression()
    for user, label in zip(users.tolist(), labels.tolist(), strict=True):
        model.learn_one({f"user={user}": 1.0}, label)
    data = pickle.dumps(model)
    return len(data), restore_ms(lambda: pickle.loads(data))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    rows = [
        "| distinct features | weights in use | version | dense table | restore | "
        "River pickle | River unpickle |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    folder = Path(tempfile.mkdtemp())
    for distinct in (10_000, 50_000, 200_000):
        users = np.array([f"u{i}" for i in range(distinct)], dtype=object)
        labels = np.arange(distinct) % 2 == 0
        model = LogisticRegression(bits=20)
        model.learn_many({"user": users}, labels)
        registry = LocalRegistry(folder / str(distinct))
        version = registry.save(model.state(), events=distinct)
        path = folder / str(distinct) / f"{version.id}.snap"
        used = int((model.table != 0).any(axis=1).sum())
        ms = restore_ms(lambda p=path: load_state(p).to_learner())
        river_bytes, river_ms = river_peer(users, labels)
        rows.append(
            f"| {distinct:,} | {used:,} | {path.stat().st_size / 1e6:.2f} MB | "
            f"{model.table.nbytes / 1e6:.1f} MB | {ms:.1f} ms | {river_bytes / 1e6:.2f} MB | "
            f"{river_ms:.1f} ms |"
        )
    emit(rows, args.markdown)


if __name__ == "__main__":
    main()
