"""The dashboard: a page of live plots served by the service itself, with no CDN.

``GET /dashboard`` is the page; it polls ``GET /monitor?after=N`` (the monitor's points and
markers numbered above N, JSON) every second and ``GET /models`` for the version history,
and draws with uPlot (MIT, vendored in ``static/``): each rolling metric over time with
one line per lane (champion, challengers), drift / rollback / promotion markers as
vertical lines, latency percentiles, throughput; plus the version history and dead-letter
counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from streamlearn.monitor import Monitor

STATIC = Path(__file__).parent / "static"


def add_dashboard(app: FastAPI, monitor: Monitor) -> None:
    """Routes for the page, its files, and the monitor's JSON."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/dashboard", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(STATIC / "dashboard.html", media_type="text/html")

    @app.get("/monitor")
    def monitor_points(
        after: int = Query(0, ge=0, description="Only points and markers numbered above this."),
    ) -> dict[str, Any]:
        """The run's recent time series: points (counters, rates, latency percentiles,
        each lane's metrics), markers (drifts, rollbacks, promotions), dead letters."""
        return monitor.snapshot(after)
