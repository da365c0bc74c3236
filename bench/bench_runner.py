"""The full runner (label join, checkpoints) against the bare learner, on the click stream.

python bench/bench_runner.py [--events 1000000] [--markdown out.md]

Every row reads the same CSV file. "bare learner" is what the runner wraps, alone: read the
file in batches and call ``predict_learn_many``. ``evaluate_file`` (``streamlearn
evaluate``) runs the runner with each label right after its event, scored. The runner rows
add micro-batching, the schedule of serves and labels, the join store, metrics and
checkpoints to a registry. CPU seconds (the bare learner and evaluate: the best of two
runs); the ratio is bare CPU / runner CPU (1.0 = no cost).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import pyarrow.csv as pacsv
from _report import emit

from streamlearn.datasets import synth
from streamlearn.models import LogisticRegression
from streamlearn.offline import evaluate_file
from streamlearn.registry import LocalRegistry
from streamlearn.runner import Runner, SQLiteJoinStore
from streamlearn.streams import FileEvents, FileSource

CROSSES = [("C1", "C2"), ("C3", "C4")]


def model() -> LogisticRegression:
    return LogisticRegression(interactions=CROSSES)


def bare(path: Path, target: str) -> tuple[float, int]:
    learner = model()
    start = time.process_time()
    events = 0
    for batch in FileSource(path, target):
        learner.predict_learn_many(batch.features, batch.target)
        events += len(batch)
    return time.process_time() - start, events


def evaluated(path: Path, target: str) -> tuple[float, int, float]:
    start = time.process_time()
    report, _ = evaluate_file(path, target, model=model())
    return time.process_time() - start, report.events, report.metrics["log_loss"]


def runner_row(path: Path, target: str, folder: Path, **options) -> tuple[float, int, float]:
    sqlite = options.pop("sqlite", False)
    join = SQLiteJoinStore(folder / "join.sqlite") if sqlite else None
    runner = Runner(
        model(),
        FileEvents(path, target, delay_column=options.pop("delay_column", None)),
        registry=LocalRegistry(folder / "registry"),
        join=join,
        checkpoint_every=100_000,
        **options,
    )
    start = time.process_time()
    summary = runner.run()
    runner.close()
    return time.process_time() - start, summary.served, summary.metrics.get("log_loss", math.nan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clicks, delayed = folder / "clicks.csv", folder / "delayed.csv"
        synth.write_csv(str(clicks), n=args.events, seed=0)
        pacsv.write_csv(synth.delayed_clicks(args.events, seed=0), delayed)
        bare_cpu, n = min(bare(clicks, "click") for _ in range(2))
        evaluate_cpu, evaluated_n, evaluated_loss = min(
            evaluated(clicks, "click") for _ in range(2)
        )
        rows = [
            "| run | events | CPU s | events/s (CPU) | log loss | bare / runner |",
            "|---|---:|---:|---:|---:|---:|",
            f"| bare learner (predict_learn_many) | {n:,} | {bare_cpu:.2f} | "
            f"{n / bare_cpu:,.0f} | — | 1.00 |",
            f"| streamlearn evaluate (the runner, labels with their events) | {evaluated_n:,} | "
            f"{evaluate_cpu:.2f} | {evaluated_n / evaluate_cpu:,.0f} | {evaluated_loss:.4f} | "
            f"{bare_cpu / evaluate_cpu:.2f} |",
        ]
        cases = {
            "runner, labels with their events, checkpoints": (clicks, {}),
            "runner, labels 1,000 events late (memory join), checkpoints": (
                clicks,
                {"delay": 1000},
            ),
            "runner, labels 1,000 events late (SQLite join), checkpoints": (
                clicks,
                {"delay": 1000, "sqlite": True},
            ),
            "runner, clicks late (mean 300), no-clicks expire after 2,000 as 0 (SQLite)": (
                delayed,
                {"delay_column": "delay", "ttl": 2000, "expiry": "default", "sqlite": True},
            ),
        }
        for i, (name, (path, options)) in enumerate(cases.items()):
            cpu, served, loss = runner_row(path, "click", folder / f"run{i}", **options)
            rows.append(
                f"| {name} | {served:,} | {cpu:.2f} | {served / cpu:,.0f} | "
                f"{loss:.4f} | {bare_cpu / cpu:.2f} |"
            )
    emit(rows, args.markdown)


if __name__ == "__main__":
    main()
