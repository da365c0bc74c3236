"""A run's live record: time series of its metrics per model, and marked moments.

The runner hands over a *status* now and then (a plain dict: counters, one entry per lane
with its model, version and metrics, the drift / rollback / promotion records, dead-letter
counts); the monitor turns it into a point (with rates and latency percentiles added) and
keeps the last ``max_points`` of them, plus a marker for every drift, rollback and
promotion it has not seen before. The dashboard, ``/metrics`` and the terminal status read
from here; nothing here runs per event.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

from streamlearn.base.accounting import COUNTERS
from streamlearn.monitor.latency import LatencyWindow

QUANTILES = (0.5, 0.95, 0.99)
MARKED = {"drifts": "drift", "rollbacks": "rollback", "promotions": "promotion"}


class Monitor:
    """Keeps the recent history of a run for the dashboard, ``/metrics`` and the terminal.

    Parameters
    ----------
    max_points
        Points kept (older ones are dropped; at one a second, 3600 is an hour).
    latency_seconds
        The window of the latency percentiles.
    clock
        Wall-clock time in seconds (tests pass their own).

    Example
    -------
    >>> monitor = Monitor(clock=lambda: 100.0)
    >>> lane = {"lane": "champion", "model": "LogisticRegression", "version": "v1",
    ...         "metrics": {"rolling_log_loss": 0.41}}
    >>> _ = monitor.observe({"served": 10, "learned": 8, "lanes": [lane]}, now=100.0)
    >>> point = monitor.observe({"served": 30, "learned": 28, "lanes": [lane],
    ...                          "drifts": [{"index": 20, "detector": "ADWIN", "action": "reset"}]},
    ...                         now=102.0)
    >>> point["updates_per_second"], point["lanes"]["champion"]["rolling_log_loss"]
    (10.0, 0.41)
    >>> [(m["kind"], m["text"]) for m in monitor.markers]
    [('drift', 'ADWIN at label 20: reset')]
    """

    def __init__(
        self,
        max_points: int = 3600,
        latency_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        self.started = clock()
        self.predict_latency = LatencyWindow(latency_seconds)
        self.learn_latency = LatencyWindow(latency_seconds)
        self.points: deque[dict[str, Any]] = deque(maxlen=max_points)
        self.markers: deque[dict[str, Any]] = deque(maxlen=1000)
        self.status: dict[str, Any] = {}
        self.counts = dict.fromkeys(MARKED.values(), 0)
        self._seen: set[str] = set()
        self._seq = 0  # numbers points and markers, so that a reader asks for what is new
        self._lock = threading.Lock()

    def observe(self, status: dict[str, Any], now: float | None = None) -> dict[str, Any]:
        """Record ``status`` as the point at ``now``; returns the point."""
        now = self.clock() if now is None else now
        point = {"time": now} | {name: int(status.get(name, 0)) for name in COUNTERS}
        point["pending"] = int(status.get("pending", 0))
        previous = self.points[-1] if self.points else None
        for name, counter in (("updates_per_second", "learned"), ("served_per_second", "served")):
            point[name] = _rate(previous, point, counter)
        for name, window in (("predict", self.predict_latency), ("learn", self.learn_latency)):
            values = window.quantiles(QUANTILES, now)
            point |= {f"{name}_p{round(q * 100)}": v for q, v in zip(QUANTILES, values)}  # noqa: B905
        point["lanes"] = {
            lane["lane"]: {"model": lane.get("model", ""), "version": lane.get("version", "")}
            | {k: v for k, v in lane.get("metrics", {}).items() if _finite(v)}
            for lane in status.get("lanes", [])
        }
        with self._lock:
            self._mark(status, now)
            self._seq += 1
            point["seq"] = self._seq
            self.points.append(point)
            self.status = status
        return point

    def _mark(self, status: dict[str, Any], now: float) -> None:
        for field, kind in MARKED.items():
            for record in status.get(field, []):
                key = kind + json.dumps(record, sort_keys=True, default=str)
                if key in self._seen:
                    continue
                self._seen.add(key)
                self.counts[kind] += 1
                when, text = _record_time(record, now), _describe(kind, record)
                self._seq += 1
                self.markers.append(
                    {"seq": self._seq, "time": when, "kind": kind, "text": text, "record": record}
                )

    def snapshot(self, after: int = 0) -> dict[str, Any]:
        """The points and markers numbered above ``after`` (a marker can be stamped with a
        time before the last point's), and the latest status, as JSON."""
        with self._lock:
            points = [p for p in self.points if p["seq"] > after]
            markers = [m for m in self.markers if m["seq"] > after]
            status = dict(self.status)
        now = self.clock()
        return {
            "seq": self._seq,
            "now": now,
            "started": self.started,
            "uptime_seconds": now - self.started,
            "points": [_json_safe(p) for p in points],
            "markers": [_json_safe(m) for m in markers],
            "marker_counts": dict(self.counts),
            "lanes": status.get("lanes", []),
            "dead_letters": status.get("dead_letters", {}),
        }

    @property
    def latest(self) -> dict[str, Any] | None:
        return self.points[-1] if self.points else None


def _rate(previous: dict[str, Any] | None, point: dict[str, Any], counter: str) -> float:
    if previous is None or point["time"] <= previous["time"]:
        return 0.0
    return max(point[counter] - previous[counter], 0) / (point["time"] - previous["time"])


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _record_time(record: dict[str, Any], now: float) -> float:
    """When it happened: the record's wall-clock stamp if it has one, else now."""
    stamp = record.get("detected_at") or record.get("at")
    if isinstance(stamp, str):
        try:
            return datetime.fromisoformat(stamp).timestamp()
        except ValueError:
            pass
    return now


def _describe(kind: str, record: dict[str, Any]) -> str:
    if kind == "drift":
        detector, action = record.get("detector", "drift"), record.get("action", "")
        offset = record.get("offset")
        if isinstance(offset, int) and offset >= 0:
            return f"{detector} at event {offset}: {action}"
        # a live event has no offset in a file: say which label tipped the detector
        return f"{detector} at label {record.get('index', '?')}: {action}"
    if kind == "rollback":
        return f"rolled back to {record.get('to')} ({record.get('reason', '')})"
    return f"promoted {record.get('to', 'a challenger')} over {record.get('from', '')}"


def _json_safe(item: dict[str, Any]) -> dict[str, Any]:
    """NaN is not JSON: it becomes null."""
    out = {}
    for key, value in item.items():
        if isinstance(value, dict):
            value = _json_safe(value)
        elif isinstance(value, float) and not math.isfinite(value):
            value = None
        out[key] = value
    return out
