"""What a run reports: its status for a monitor and its summary at each micro-batch."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from streamlearn.base import drift_records
from streamlearn.runner.summary import RunSummary

if TYPE_CHECKING:
    from streamlearn.runner.engine import Runner


def status(runner: Runner, recent: int = 50) -> dict[str, Any]:
    """Counters, each lane's model, version and metrics, the latest ``recent`` drift,
    rollback and promotion records, dead letters and checkpoint failures."""
    lanes = [
        {
            "lane": "champion" if i == 0 else f"challenger {i}",
            "name": lane.name,
            "model": lane.model.display_name(),
            "version": lane.version,
            "metrics": lane.metric_values(),
        }
        for i, lane in enumerate(runner.lanes)
    ]
    summary = runner.summary
    return runner.counters | {
        "pending": len(runner.join),
        "offset": runner.champion.offset,
        "lanes": lanes,
        "drifts": list(drift_records(runner.model))[-recent:],
        "rollbacks": summary.rollbacks[-recent:],
        "promotions": summary.promotions[-recent:],
        "dead_letters": dict(runner.dead_letters.by_reason),
        "versions": summary.versions[-recent:],
        "checkpoint_failures": runner.checkpoints.failures,
    }


def summarize(runner: Runner, wall: float, cpu: float) -> RunSummary:
    """The run's summary brought up to date (``wall`` and ``cpu``: when the run started, by
    ``time.perf_counter`` and ``time.process_time``)."""
    summary = runner.summary
    for name, value in runner.counters.items():
        setattr(summary, name, value)
    summary.offset = runner.champion.offset
    summary.checkpoint_failures = runner.checkpoints.failures
    summary.seconds = time.perf_counter() - wall
    summary.cpu_seconds = time.process_time() - cpu
    summary.compile_seconds = runner.kernel_clock.seconds
    summary.metrics = runner.champion.metric_values()
    summary.drifts = list(drift_records(runner.model))
    summary.challengers = [
        {"name": lane.name, "model": type(lane.model).__name__} | lane.metric_values()
        for lane in runner.lanes[1:]
    ]
    return summary
