"""The compact live status that ``streamlearn run`` and ``serve`` show on a terminal: one
table refreshed from the run's monitor (events, rates, latency, each model's rolling
metric, drifts, rollbacks, the champion's version)."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from rich.table import Table

if TYPE_CHECKING:
    from streamlearn.monitor import Monitor


def status_table(monitor: Monitor, title: str) -> Table:
    """The latest point of ``monitor`` as a two-row-per-line grid."""
    point = monitor.latest
    table = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2))
    uptime = time.time() - monitor.started
    if point is None:
        table.add_row("starting …", f"up {_duration(uptime)}")
        return table
    table.add_row(
        f"served [b]{point['served']:,}[/b]",
        f"learned [b]{point['learned']:,}[/b]",
        f"updates/s [b]{point['updates_per_second']:,.0f}[/b]",
        f"up {_duration(uptime)}",
    )
    table.add_row(
        f"waiting [b]{point['pending']:,}[/b]",
        f"rejected [b]{point['rejected']:,}[/b]",
        f"drifts [b]{monitor.counts['drift']}[/b]",
        f"rollbacks [b]{monitor.counts['rollback']}[/b]",
    )
    table.add_row(
        f"predict p99 [b]{_ms(point['predict_p99'])}[/b]",
        f"learn p99 [b]{_ms(point['learn_p99'])}[/b]",
        f"promotions [b]{monitor.counts['promotion']}[/b]",
        "",
    )
    for lane, entry in point["lanes"].items():
        table.add_row(f"{lane} {entry['version']}", *_metrics(entry))
    return table


def _metrics(entry: dict[str, Any]) -> list[str]:
    rolling = [(k, v) for k, v in entry.items() if k.startswith("rolling_")][:3]
    cells = [f"{k.removeprefix('rolling_')} [b]{v:.4f}[/b]" for k, v in rolling]
    return [*cells, "", "", ""][:3]


def _ms(seconds: float) -> str:
    return "—" if seconds is None or math.isnan(seconds) else f"{seconds * 1000:.2f}ms"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
