"""Drift detectors: CPU time per update, ours (the batch path, and one value at a time)
against River (one value at a time), one run.

python bench/bench_drift.py [--events 1000000] [--markdown out.md]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _report import emit
from river import drift as river_drift

from streamlearn.drift import ADWIN, DDM, DRIFT, EDDM, KSWIN, PageHinkley

PAIRS = {
    "ADWIN": (ADWIN, river_drift.ADWIN, "errors"),
    "Page-Hinkley": (PageHinkley, river_drift.PageHinkley, "values"),
    "DDM": (DDM, river_drift.binary.DDM, "errors"),
    "EDDM": (EDDM, river_drift.binary.EDDM, "errors"),
    "KSWIN": (lambda: KSWIN(seed=1), lambda: river_drift.KSWIN(seed=1), "values"),
}
SLOW = {"KSWIN": 10_000}  # River runs a SciPy test per value: a shorter prefix


def streams(n: int, change: int) -> dict[str, np.ndarray]:
    """One change at ``change`` (inside River's prefix, so that detections are compared)."""
    rng = np.random.default_rng(0)
    rate = np.where(np.arange(n) >= change, 0.4, 0.1)
    return {
        "errors": (rng.random(n) < rate).astype(float),
        "values": np.concatenate([rng.normal(0, 1, change), rng.normal(1, 1, n - change)]),
    }


def one_at_a_time(detector, values: np.ndarray) -> tuple[float, list[int]]:
    """CPU ns per value of ``update`` then ``drift_detected`` (River's loop), and where
    it detected."""
    drifts = []
    start = time.process_time()
    for i, value in enumerate(values.tolist()):
        detector.update(value)
        if detector.drift_detected:
            drifts.append(i)
    return (time.process_time() - start) / len(values) * 1e9, drifts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--river-events", type=int, default=200_000)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()
    data = streams(args.events, change=min(args.events, args.river_events) * 3 // 4)
    rows = [
        "| detector | ours, batch ns/value | ours, one value ns | River ns/value | "
        "ratio batch | ratio one value | drifts (ours = River, prefix) |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, (ours, theirs, kind) in PAIRS.items():
        values = data[kind]
        ours().update_many(values[:1000])  # compile off the clock
        start = time.process_time()
        signals = ours().update_many(values)
        ours_ns = (time.process_time() - start) / len(values) * 1e9
        prefix = values[: min(args.river_events, SLOW.get(name, args.river_events))]
        river_ns, river_drifts = one_at_a_time(theirs(), prefix)
        one_ns, single_drifts = one_at_a_time(ours(), prefix)
        same_alone = single_drifts == river_drifts
        same = np.flatnonzero(signals[: len(prefix)] == DRIFT).tolist() == river_drifts
        rows.append(
            f"| {name} | {ours_ns:.1f} | {one_ns:.0f} | {river_ns:.0f} | "
            f"{river_ns / ours_ns:.0f}× | {river_ns / one_ns:.2f}× | "
            f"{len(river_drifts)}, {'equal' if same and same_alone else 'DIFFERENT'} |"
        )
    emit(rows, args.markdown)


if __name__ == "__main__":
    main()
