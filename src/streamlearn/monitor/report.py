"""Reports of offline runs: one HTML page (self-contained) and a PNG per metric.

Each plot has one line per learner: its metric as a trailing mean over the last 5% of the
events at each point (from the reports' curves), with each learner's drifts as dashed
vertical lines in its colour.
The page adds the final metrics side by side and the drift records.

>>> import tempfile
>>> from pathlib import Path
>>> from streamlearn.datasets import elec2
>>> from streamlearn.offline import evaluate_file
>>> runs = {name: evaluate_file(elec2.path(), "target", model=name, curves=200)[0]
...         for name in ("ftrl", "sgd")}
>>> folder = Path(tempfile.mkdtemp())
>>> pictures = write_report(folder / "elec2.html", runs, title="Elec2")
>>> sorted(p.name for p in pictures)
['elec2_accuracy.png', 'elec2_log_loss.png']
>>> "<table" in (folder / "elec2.html").read_text()
True
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path
from typing import Any

from streamlearn.base.extras import require
from streamlearn.evaluate import Report

DRIFT_FIELDS = ("time", "detector", "action")
COLOURS = ("#1f6feb", "#d9480f", "#2f9e44", "#9c36b5", "#0c8599", "#e8590c", "#5c940d")


def write_report(
    path: str | Path,
    runs: Mapping[str, Report],
    title: str = "",
    settings: Mapping[str, Any] | None = None,
) -> list[Path]:
    """Write ``path`` (HTML) and ``<stem>_<metric>.png`` beside it; returns the PNGs.

    ``runs``: learner name → its report, recorded with curves, on the same stream.
    ``settings``: how the runs were made (the data file, the options), recorded on the
    page with streamlearn's version. Drift times are shown when they are the stream's
    (``settings["time_column"]``), not the moment a batch was processed.
    """
    if not runs:
        raise ValueError("no runs to report")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [curve.name for curve in next(iter(runs.values())).curves]
    if not names:
        raise ValueError("the reports hold no curves: evaluate with curves=True")
    pictures = []
    for metric in names:
        picture = path.with_name(f"{path.stem}_{metric}.png")
        _plot(picture, metric, runs, title)
        pictures.append(picture)
    path.write_text(_page(title or path.stem, runs, pictures, dict(settings or {})))
    return pictures


def _plot(picture: Path, metric: str, runs: Mapping[str, Report], title: str) -> None:
    matplotlib = require("matplotlib", "report")
    matplotlib.use("Agg")  # files only: no display needed
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(10, 4), dpi=110)
    first = next(iter(runs.values())).curves[0]
    window = first.smoothing_window()
    for (name, report), colour in zip(runs.items(), COLOURS * 10, strict=False):
        curve = next((c for c in report.curves if c.name == metric), None)
        if curve is None:
            continue
        events, values = curve.series(window)
        axes.plot(events, values, color=colour, linewidth=1.2, label=name)
        for drift in report.drift_events:
            axes.axvline(drift["index"], color=colour, linestyle="--", linewidth=0.8, alpha=0.7)
    axes.set_xlabel("events")
    over = f"trailing mean over {window * first.width:,} events"
    axes.set_ylabel(f"{metric.replace('_', ' ')}\n({over})")
    axes.set_title(f"{title} — {metric.replace('_', ' ')}" if title else metric)
    axes.grid(alpha=0.3)
    if any(report.drift_events for report in runs.values()):
        axes.plot([], [], color="grey", linestyle="--", linewidth=0.8, label="drift")
    axes.legend(loc="best", fontsize=9)
    figure.tight_layout()
    figure.savefig(picture)
    plt.close(figure)


def _page(
    title: str, runs: Mapping[str, Report], pictures: list[Path], settings: dict[str, Any]
) -> str:
    esc = html.escape
    reports = list(runs.values())
    keys = list(reports[0].metrics) + [k for k in reports[0].extra if k != "sparsity"]
    header = "".join(f"<th>{esc(name)}</th>" for name in runs)
    rows = [
        _row("events", [f"{r.events:,}" for r in reports]),
        _row("events/s", [f"{r.events_per_second:,.0f}" for r in reports]),
        _row("CPU seconds", [f"{r.cpu_seconds:.2f}" for r in reports]),
    ]
    for key in keys:
        rows.append(_row(key, [_number(r.metrics.get(key, r.extra.get(key))) for r in reports]))
    images = "".join(
        f'<figure><img alt="{esc(p.stem)}" src="data:image/png;base64,'
        f'{base64.b64encode(p.read_bytes()).decode()}"></figure>'
        for p in pictures
    )
    fields = DRIFT_FIELDS if settings.get("time_column") else DRIFT_FIELDS[1:]
    drifts = [
        _row(name, [str(d["index"])] + [esc(str(d.get(k, ""))) for k in fields])
        for name, report in runs.items()
        for d in report.drift_events
    ]
    drift_header = "".join(f"<th>{field}</th>" for field in fields)
    drift_table = (
        f"<table><tr><th>learner</th><th>event</th>{drift_header}</tr>{''.join(drifts)}</table>"
        if drifts
        else "<p>No drift detector ran, or none fired.</p>"
    )
    made = {"streamlearn": version("streamlearn")} | settings
    settings_table = "".join(
        f"<tr><td>{esc(str(k))}</td><td>{esc(str(v))}</td></tr>" for k, v in made.items()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>body{{font:14px system-ui,sans-serif;margin:2rem;color:#1d232b}}
table{{border-collapse:collapse;margin:1rem 0}}th,td{{padding:.25rem .75rem;
border-bottom:1px solid #e3e6ea;text-align:right}}th:first-child,td:first-child{{text-align:left}}
img{{max-width:100%}}figure{{margin:1rem 0}}</style></head>
<body><h1>{esc(title)}</h1>
<p>Progressive validation: every event is predicted, then learned. {reports[0].task} task.</p>
<table><tr><th></th>{header}</tr>{"".join(rows)}</table>
{images}
<h2>Drifts</h2>{drift_table}
<h2>Settings</h2><table class="settings">{settings_table}</table>
</body></html>
"""


def _row(name: str, cells: list[str]) -> str:
    return f"<tr><td>{html.escape(name)}</td>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _number(value: object) -> str:
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:.4f}"
    return "—" if value is None else html.escape(str(value))
