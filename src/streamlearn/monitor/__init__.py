"""Monitoring: latency percentiles, a run's time series and marked moments, Prometheus
exposition, and reports of offline runs."""

from streamlearn.monitor.latency import LatencyWindow
from streamlearn.monitor.monitor import Monitor
from streamlearn.monitor.prometheus import MonitorCollector

__all__ = ["LatencyWindow", "Monitor", "MonitorCollector"]
