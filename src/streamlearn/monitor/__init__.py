"""Monitoring: latency percentiles, a run's time series and marked moments, Prometheus
exposition (:mod:`streamlearn.monitor.prometheus`, the ``[serve]`` extra), and reports of
offline runs."""

from streamlearn.monitor.latency import LatencyWindow
from streamlearn.monitor.monitor import Monitor

__all__ = ["LatencyWindow", "Monitor"]
