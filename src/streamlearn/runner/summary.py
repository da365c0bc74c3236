"""What a run did: counters and metrics over the whole stream (across restarts), the
versions it wrote, drifts, rollbacks and promotions."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RunSummary:
    """What a run did; counters and metrics cover the whole stream, across restarts.

    Parameters
    ----------
    served, learned, expired, late, unknown, unlabeled, rejected
        The champion's counts: events served, labels learned, events whose label did not come
        in time (a multi-task model's: whose window closed with no feedback), labels that came
        after it, labels for an id that no event had (within the TTL), events with no label,
        rows and labels rejected.
    offset
        The offset of the last event served.
    resumed_from
        The version the run resumed from (None: a fresh run).
    stopped
        The run stopped on request (a signal, the service's shutdown).
    served_this_run
        Events served since this process started.
    seconds, cpu_seconds
        Wall-clock and CPU seconds of this run.
    metrics
        The champion's progressive metrics.
    versions
        The versions saved.
    drifts, rollbacks, promotions
        The drifts detected, and the rollbacks and promotions made, as records.
    challengers
        Each challenger's name, counts and metrics.
    checkpoint_failures
        Periodic checkpoints that could not be written.
    batch_events, batch_seconds
        The last micro-batch: its events and the seconds it took.
    compile_seconds
        The seconds this run spent compiling its kernels (on a fresh install) or loading
        them from the cache: throughput is reported without them.

    Example
    -------
    >>> summary = RunSummary()
    >>> summary.served, summary.learned, summary.versions, summary.rollbacks
    (0, 0, [], [])
    """

    served: int = 0
    learned: int = 0
    expired: int = 0
    late: int = 0
    unknown: int = 0
    unlabeled: int = 0
    rejected: int = 0
    offset: int = 0
    resumed_from: str | None = None
    stopped: bool = False
    served_this_run: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    metrics: dict[str, float] = field(default_factory=dict)
    versions: list[str] = field(default_factory=list)
    drifts: list[dict[str, Any]] = field(default_factory=list)
    rollbacks: list[dict[str, Any]] = field(default_factory=list)
    promotions: list[dict[str, Any]] = field(default_factory=list)
    challengers: list[dict[str, Any]] = field(default_factory=list)
    checkpoint_failures: int = 0  # periodic checkpoints that could not be written
    batch_events: int = 0  # the last micro-batch: its events and the seconds it took
    batch_seconds: float = 0.0
    compile_seconds: float = 0.0

    @property
    def events_per_second(self) -> float:
        """Events served by this run (not those before a resume) per second, the kernels'
        compilation or loading left out."""
        seconds = self.seconds - self.compile_seconds
        return self.served_this_run / seconds if seconds > 0 else math.inf

    def as_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        return out | {"events_per_second": round(self.events_per_second, 1)}
