"""Fraud detection on the ULB credit-card transactions (284,807 in time order, 492 frauds),
through the runner, with chargebacks that come late, against River's comparable pipeline.

The data is anonymized (no card ids), so the entity the feature store keys on is a
segment: deciles of V1 × deciles of V3 (up to 100 segments). Labels arrive as they would:
a fraud's chargeback an hour after the transaction; a transaction with no chargeback after
two hours is learned as legitimate (TTL with expiry "default"). The detector scores with a
rule until 5 frauds are learned, then with its model; its threshold keeps flagged
legitimate transactions at 0.5 %.

River gets the same features and the same label delays: ``Agg`` mean and variance of the
amount per segment (its per-group streaming aggregates), the raw columns, a
``StandardScaler`` and ``LogisticRegression``, evaluated by ``iter_progressive_val_score``
with the same delays (each label learned once the stream's time passes its arrival, as
River's ``simulate_qa`` / delayed ``progressive_val_score`` do).

python examples/fraud_creditcard.py [--data DIR] [--limit N] [--skip-river]
"""

from __future__ import annotations

import argparse
import heapq
import lzma
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from streamlearn.evaluate.metrics import average_precision, recall_at_fpr
from streamlearn.models import FraudDetector
from streamlearn.runner import Runner
from streamlearn.streams import FileEvents

FRAUD_DELAY, TTL, BUDGET = 3600.0, 7200.0, 0.005


def load(folder: Path, limit: int | None) -> pa.Table:
    with lzma.open(folder / "creditcard.csv.xz") as fh:
        table = pacsv.read_csv(fh)
    if limit:
        table = table.slice(0, limit)
    deciles = {c: np.quantile(table[c].to_numpy(), np.linspace(0.1, 0.9, 9)) for c in ("V1", "V3")}
    v1 = np.searchsorted(deciles["V1"], table["V1"].to_numpy())
    v3 = np.searchsorted(deciles["V3"], table["V3"].to_numpy())
    return table.append_column(
        "segment", pa.array([f"s{a}-{b}" for a, b in zip(v1, v3, strict=True)])
    )


def run_ours(table: pa.Table, folder: Path, **options) -> dict:
    labels = table["Class"].to_numpy()
    # The chargeback of a fraud comes an hour later; a legitimate one never comes (TTL).
    stream = (
        table.drop(["Class"])
        .append_column("Class", pa.array([1.0 if y else None for y in labels], pa.float64()))
        .append_column("delay", pa.array(np.where(labels == 1, FRAUD_DELAY, 0.0)))
    )
    path = folder / "transactions.parquet"
    pq.write_table(stream, path)
    detector = FraudDetector(
        entity="segment", time="seconds", amount="Amount", fp_budget=BUDGET, **options
    )
    thresholds: list[tuple[int, float]] = []
    runner = Runner(
        detector,
        FileEvents(
            path, "Class", categorical=["segment"], time_column="Time", delay_column="delay"
        ),
        ttl=TTL,
        expiry="default",
        default_label=0.0,
        micro_batch=2048,
        predictions=folder / "scores.csv",
    )

    def note(summary) -> None:  # the threshold in force for the next batch
        thresholds.append((summary.offset, runner.model.threshold))

    thresholds.append((0, detector.threshold))
    start = time.process_time()
    summary = runner.run(on_batch=note)
    cpu = time.process_time() - start
    scores = pacsv.read_csv(folder / "scores.csv")
    offsets, served = scores["offset"].to_numpy(), scores["prediction"].to_numpy()
    truth = labels[offsets - 1]
    # Each event was decided with the threshold in force when its batch began.
    starts = np.array([o for o, _ in thresholds])
    values = np.array([t for _, t in thresholds])
    in_force = values[np.searchsorted(starts, offsets, side="left") - 1]
    flagged = served >= in_force
    recall, precision = recall_at_fpr(served, truth, BUDGET)
    return {
        "events/s": len(served) / cpu,
        "cpu": cpu,
        "pr_auc": average_precision(served, truth),
        "online precision": truth[flagged].mean(),
        "online recall": flagged[truth == 1].mean(),
        "flagged legit": flagged[truth == 0].mean(),
        "recall@fpr": recall,
        "precision@fpr": precision,
        "learned": summary.learned,
    }


def run_river(table: pa.Table) -> dict:
    from river import compose, feature_extraction, linear_model, preprocessing
    from river import stats as river_stats

    columns = [c for c in table.column_names if c not in ("Class",)]
    rows = table.select(columns).to_pylist()
    labels = table["Class"].to_numpy()
    dataset = ((row, bool(y)) for row, y in zip(rows, labels, strict=True))
    model = compose.Pipeline(
        compose.TransformerUnion(
            compose.Select(*[c for c in columns if c not in ("segment", "Time")]),
            feature_extraction.Agg(on="Amount", by="segment", how=river_stats.Mean()),
            feature_extraction.Agg(on="Amount", by="segment", how=river_stats.Var()),
        ),
        preprocessing.StandardScaler(),
        linear_model.LogisticRegression(),
    )
    scores = np.empty(len(rows))
    waiting: list[tuple[float, int]] = []  # (when its label comes, event)
    start = time.process_time()
    for k, (x, y) in enumerate(dataset):
        while waiting and waiting[0][0] <= x["Time"]:  # labels due by now are learned first
            _, j = heapq.heappop(waiting)
            model.learn_one(rows[j], bool(labels[j]))
        scores[k] = model.predict_proba_one(x).get(True, 0.0)
        heapq.heappush(waiting, (x["Time"] + (FRAUD_DELAY if y else TTL), k))
    cpu = time.process_time() - start
    recall, precision = recall_at_fpr(scores, labels, BUDGET)
    return {
        "events/s": len(rows) / cpu,
        "cpu": cpu,
        "pr_auc": average_precision(scores, labels),
        "recall@fpr": recall,
        "precision@fpr": precision,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = Path(
        os.environ.get(
            "STREAMLEARN_DATA", Path(__file__).resolve().parents[2] / "shared" / "datasets"
        )
    )
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--skip-river", action="store_true")
    args = parser.parse_args()
    table = load(args.data, args.limit)
    with tempfile.TemporaryDirectory() as tmp:
        ours = run_ours(table, Path(tmp))
    river = None if args.skip_river else run_river(table)
    frauds = int(table["Class"].to_numpy().sum())
    print(
        f"{len(table):,} transactions, {frauds} frauds; chargebacks after {FRAUD_DELAY:.0f} s, "
        f"legitimate after {TTL:.0f} s; FP budget {BUDGET:.1%}\n"
    )
    print("| | streamlearn FraudDetector (runner) | River Agg + scaler + logistic |")
    print("|---|---:|---:|")
    rows = [
        ("progressive PR-AUC", "pr_auc", "{:.4f}"),
        (f"recall at {BUDGET:.1%} FPR (oracle threshold)", "recall@fpr", "{:.3f}"),
        (f"precision at {BUDGET:.1%} FPR (oracle threshold)", "precision@fpr", "{:.3f}"),
        ("online threshold: precision", "online precision", "{:.3f}"),
        ("online threshold: recall", "online recall", "{:.3f}"),
        ("online threshold: legitimate flagged", "flagged legit", "{:.3%}"),
        ("events/s (CPU)", "events/s", "{:,.0f}"),
    ]
    for name, key, fmt in rows:
        theirs = fmt.format(river[key]) if river and key in river else "—"
        print(f"| {name} | {fmt.format(ours[key])} | {theirs} |")


if __name__ == "__main__":
    main()
