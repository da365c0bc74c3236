"""Latency percentiles over a sliding time window, from mergeable quantile sketches.

Each slice of the window is a DDSketch (relative-accuracy quantiles: a p99 within 1% of
the true value whatever the distribution); the window's quantiles come from merging the
live slices, so old latencies age out without keeping every value.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Sequence

from ddsketch import DDSketch

RELATIVE_ACCURACY = 0.01


class LatencyWindow:
    """Quantiles of the values added in the last ``seconds`` (in ``slices`` steps).

    Thread-safe: requests add from the server's threads while a scrape reads.

    Parameters
    ----------
    seconds
        How far back the quantiles look.
    slices
        Steps in which the oldest values leave the window.

    Example
    -------
    >>> window = LatencyWindow(seconds=60)
    >>> for ms in range(1, 101):
    ...     window.add(ms / 1000, now=0.0)
    >>> [round(q * 1000) for q in window.quantiles((0.5, 0.99), now=1.0)]
    [50, 99]
    >>> window.quantiles((0.5,), now=120.0)  # the window has moved past them
    [nan]
    >>> window.count, round(window.total, 3)  # lifetime totals (a Prometheus summary's)
    (100, 5.05)
    """

    def __init__(self, seconds: float = 60.0, slices: int = 6) -> None:
        if seconds <= 0 or slices < 1:
            raise ValueError("need seconds > 0 and slices >= 1")
        self.seconds, self.slices = seconds, slices
        self._width = seconds / slices
        self._sketches: dict[int, DDSketch] = {}
        self._lock = threading.Lock()
        self.count = 0
        self.total = 0.0

    def _slice(self, now: float) -> DDSketch:
        key = int(now // self._width)
        sketch = self._sketches.get(key)
        if sketch is None:
            sketch = self._sketches[key] = DDSketch(RELATIVE_ACCURACY)
            oldest = key - self.slices
            for stale in [k for k in self._sketches if k <= oldest]:
                del self._sketches[stale]
        return sketch

    def add(self, seconds: float, now: float | None = None) -> None:
        self.add_many((seconds,), now)

    def add_many(self, values: Iterable[float], now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self._lock:
            sketch = self._slice(now)
            for value in values:
                if math.isfinite(value) and value >= 0:
                    sketch.add(value)
                    self.count += 1
                    self.total += value

    def quantiles(self, qs: Sequence[float], now: float | None = None) -> list[float]:
        """The window's quantiles (NaN when it holds nothing)."""
        now = time.time() if now is None else now
        first = int(now // self._width) - self.slices + 1
        merged = DDSketch(RELATIVE_ACCURACY)
        with self._lock:
            for key, sketch in self._sketches.items():
                if key >= first:
                    merged.merge(sketch)
        if merged.count == 0:
            return [math.nan] * len(qs)
        return [float(merged.get_quantile_value(q)) for q in qs]
