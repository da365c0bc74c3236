"""Drift: detection delay and false alarms per detector, and recovery with each policy.

Part 1, on error streams whose rate goes from 10% to 40% (10 seeds): the delay of the first
detection after the change and the false alarms before it, for each of our detectors (whose
detections equal River's; see tests/test_drift.py).

Part 2, progressive log loss over the 10% of the stream right after the drift and over the
last 10%, on the generated click stream (abrupt drift at the midpoint) and Elec2: our FTRL
alone, with ADWIN and each policy, plain constant-rate SGD, and River's
``DriftRetrainingClassifier`` (DDM, retraining in the background) around its
``StandardScaler | LogisticRegression``. One run, CPU seconds.

    python bench/bench_adapt.py [--events 400000] [--markdown out.md]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from _report import emit

from streamlearn.adaptation import Background, Boost, Reset, Shrink, adaptive
from streamlearn.datasets import elec2, synth
from streamlearn.drift import ADWIN, DDM, DRIFT, EDDM, PageHinkley, WindowErrorRate
from streamlearn.models import SGD, LogisticRegression

DETECTORS = {
    "ADWIN": ADWIN,
    "DDM": DDM,
    "EDDM": EDDM,
    "Page-Hinkley": PageHinkley,
    "window error rate (1000, +0.1)": lambda: WindowErrorRate(1000, 0.1),
}


def detection_table(n: int = 50_000, seeds: int = 10) -> list[str]:
    rows = [
        "| detector | mean delay (events) | missed | false alarms (all seeds) |",
        "|---|---:|---:|---:|",
    ]
    for name, make in DETECTORS.items():
        delays, missed, false_alarms = [], 0, 0
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            errors = (rng.random(2 * n) < np.where(np.arange(2 * n) < n, 0.1, 0.4)).astype(float)
            drifts = np.flatnonzero(make().update_many(errors) == DRIFT)
            false_alarms += int((drifts < n).sum())
            after = drifts[drifts >= n]
            if len(after):
                delays.append(int(after[0]) - n)
            else:
                missed += 1
        mean = f"{np.mean(delays):.0f}" if delays else "—"
        rows.append(f"| {name} | {mean} | {missed} | {false_alarms} |")
    return rows


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def ours(make):
    def run(X: pa.Table, y: np.ndarray) -> np.ndarray:
        model = make()
        return np.concatenate(
            [
                model.predict_learn_many(X.slice(s, 65536), y[s : s + 65536])
                for s in range(0, len(y), 65536)
            ]
        )

    return run


def river_retraining(X: pa.Table, y: np.ndarray) -> np.ndarray:
    from river import compose, drift, linear_model, preprocessing

    text = [n for n in X.column_names if pa.types.is_string(X.schema.field(n).type)]
    numbers = [n for n in X.column_names if n not in text]
    features = compose.Select(*numbers) | preprocessing.StandardScaler()
    if text:
        features += compose.Select(*text) | preprocessing.OneHotEncoder(drop_zeros=True)
    model = drift.DriftRetrainingClassifier(
        features | linear_model.LogisticRegression(), drift_detector=drift.binary.DDM()
    )
    out = np.empty(len(y))
    for i, (x, label) in enumerate(zip(X.to_pylist(), (y == 1).tolist(), strict=True)):
        out[i] = model.predict_proba_one(x).get(True, 0.5)
        model.learn_one(x, label)
    return out


def watched(policy, signal="error", direction="up"):
    """FTRL with ADWIN on its errors (rises only, by default) and ``policy``."""
    return ours(lambda: adaptive(LogisticRegression(), ADWIN(direction=direction), policy, signal))


CONTENDERS = {
    "FTRL": ours(lambda: LogisticRegression()),
    "FTRL + ADWIN (both ways) on errors, reset": watched(Reset(), direction="both"),
    "FTRL + ADWIN (rises) on errors, reset": watched(Reset()),
    "FTRL + ADWIN (rises) on Brier, reset": watched(Reset(), "brier"),
    "FTRL + ADWIN (rises) on log loss, reset": watched(Reset(), "log_loss"),
    "FTRL + ADWIN (rises) on log loss, shrink ×0.5": watched(Shrink(0.5), "log_loss"),
    "FTRL + ADWIN (rises) on log loss, boost ×2": watched(Boost(factor=2), "log_loss"),
    "FTRL + DDM, background": ours(lambda: adaptive(LogisticRegression(), DDM(), Background())),
    "SGD, constant rate 0.03": ours(lambda: LogisticRegression(SGD(lr=0.03))),
    "River DriftRetrainingClassifier (DDM)": river_retraining,
}


def recovery_table(events: int) -> list[str]:
    clicks = synth.click_stream(events, seed=1)
    streams = {
        "clicks": (clicks.drop(["click"]), clicks.column("click").to_numpy().astype(float)),
    }
    table = pacsv.read_csv(elec2.path())
    streams["elec2"] = (table.drop(["target"]), table.column("target").to_numpy().astype(float))
    rows = [
        "| stream | learner | log loss, 10% after drift | log loss, last 10% | overall | CPU s |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for stream, (X, y) in streams.items():
        n = len(y)
        after = slice(n // 2, n // 2 + n // 10)  # the click stream drifts at its midpoint
        last = slice(n - n // 10, n)
        for name, run in CONTENDERS.items():
            start = time.process_time()
            p = run(X, y)
            cpu = time.process_time() - start
            first = f"{log_loss(y[after], p[after]):.4f}" if stream == "clicks" else "—"
            rows.append(
                f"| {stream} | {name} | {first} | {log_loss(y[last], p[last]):.4f} | "
                f"{log_loss(y, p):.4f} | {cpu:.1f} |"
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=400_000)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()
    emit([*detection_table(), "", *recovery_table(args.events)], args.markdown)


if __name__ == "__main__":
    main()
