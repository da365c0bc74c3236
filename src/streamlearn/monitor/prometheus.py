"""Prometheus exposition of a :class:`~streamlearn.monitor.Monitor`, read at scrape time.

Names follow Prometheus' conventions: counters end in ``_total``, times are in seconds,
what varies (the kind of event, the lane, the metric) is a label. A model's version is a
label of the ``streamlearn_model_info`` gauge only, so that a new version does not start
new series for every metric.

==========================================  ======================================================
``streamlearn_events_total{kind}``           served, learned, expired, late, unlabeled, rejected
``streamlearn_join_pending``                 events waiting for their label
``streamlearn_updates_per_second``           learning rate over the last interval
``streamlearn_model_metric{lane,metric}``    progressive and rolling metrics of each lane's model
``streamlearn_model_info{lane,model,version}``  1 for each lane's current model
``streamlearn_drifts_total``                 drifts detected (likewise rollbacks, promotions)
``streamlearn_dead_letters_total{reason}``   rejected records by reason
``streamlearn_latency_seconds{op,quantile}`` p50/p95/p99 of ``predict`` (per request) and
                                             ``learn`` (per micro-batch) over the last minute
``streamlearn_uptime_seconds``               since the monitor started
==========================================  ======================================================

>>> from prometheus_client import CollectorRegistry, generate_latest
>>> from streamlearn.monitor import Monitor
>>> monitor = Monitor()
>>> _ = monitor.observe({"served": 5, "lanes": [{"lane": "champion", "model": "FTRL",
...                      "version": "v3", "metrics": {"log_loss": 0.5}}]})
>>> registry = CollectorRegistry()
>>> registry.register(MonitorCollector(monitor))
>>> text = generate_latest(registry).decode()
>>> 'streamlearn_events_total{kind="served"} 5.0' in text
True
>>> 'streamlearn_model_metric{lane="champion",metric="log_loss"} 0.5' in text
True
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from streamlearn.monitor.monitor import COUNTERS, QUANTILES, Monitor


class MonitorCollector:
    """A prometheus-client collector over a monitor's latest point.

    Parameters
    ----------
    monitor
        The monitor whose latest point is exported at each scrape.

    Example
    -------
    >>> from prometheus_client import CollectorRegistry, generate_latest
    >>> monitor = Monitor(clock=lambda: 100.0)
    >>> _ = monitor.observe({"served": 10, "learned": 8, "lanes": []}, now=100.0)
    >>> registry = CollectorRegistry()
    >>> registry.register(MonitorCollector(monitor))
    >>> b'streamlearn_events_total{kind="served"} 10.0' in generate_latest(registry)
    True
    """

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor

    def collect(self) -> Iterator[Metric]:
        monitor = self.monitor
        point = monitor.latest
        yield _gauge(
            "streamlearn_uptime_seconds",
            "Seconds since the service started",
            monitor.clock() - monitor.started,
        )
        yield self._latency()
        if point is None:
            return
        events = CounterMetricFamily(
            "streamlearn_events", "Events by what became of them", labels=["kind"]
        )
        for kind in COUNTERS:
            events.add_metric([kind], point[kind])
        yield events
        yield _gauge("streamlearn_join_pending", "Events waiting for their label", point["pending"])
        yield _gauge(
            "streamlearn_updates_per_second",
            "Model updates per second",
            point["updates_per_second"],
        )
        yield from self._models(point)
        for kind, count in monitor.counts.items():
            yield _counter(f"streamlearn_{kind}s", f"{kind.capitalize()}s so far", count)
        dead = CounterMetricFamily(
            "streamlearn_dead_letters", "Rejected records by reason", labels=["reason"]
        )
        for reason, count in monitor.status.get("dead_letters", {}).items():
            dead.add_metric([reason], count)
        yield dead

    def _models(self, point: dict) -> Iterator[Metric]:
        values = GaugeMetricFamily(
            "streamlearn_model_metric", "Metrics of each lane's model", labels=["lane", "metric"]
        )
        info = GaugeMetricFamily(
            "streamlearn_model_info",
            "The model each lane runs",
            labels=["lane", "model", "version"],
        )
        for name, entry in point["lanes"].items():
            lane = "_".join(name.split())  # label values without spaces: "challenger_1"
            info.add_metric([lane, entry["model"], entry["version"]], 1)
            for metric, value in entry.items():
                if metric not in ("model", "version"):
                    values.add_metric([lane, metric], value)
        yield values
        yield info

    def _latency(self) -> Metric:
        summary = Metric("streamlearn_latency_seconds", "Latency over the last minute", "summary")
        for op, window in (
            ("predict", self.monitor.predict_latency),
            ("learn", self.monitor.learn_latency),
        ):
            for q, value in zip(QUANTILES, window.quantiles(QUANTILES), strict=True):
                if not math.isnan(value):
                    summary.add_sample(
                        "streamlearn_latency_seconds", {"op": op, "quantile": str(q)}, value
                    )
            summary.add_sample("streamlearn_latency_seconds_count", {"op": op}, window.count)
            summary.add_sample("streamlearn_latency_seconds_sum", {"op": op}, window.total)
        return summary


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=float(value))
