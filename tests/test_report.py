"""Offline reports: metric curves in constant memory, the HTML page and its PNG plots, the
`evaluate --report` command comparing learners on one stream."""

from __future__ import annotations

import json

import numpy as np
import pytest

from streamlearn.datasets import elec2
from streamlearn.evaluate import Curve, LogLoss
from streamlearn.evaluate.metrics import RMSE
from streamlearn.offline import evaluate_file
from tests.test_runner_cli import run


@pytest.mark.parametrize("chunk", [1, 7, 1000, 100_003])
def test_a_curve_holds_bucket_means_of_the_per_event_metric(chunk):
    rng = np.random.default_rng(chunk)
    y, p = rng.integers(0, 2, 100_003).astype(float), rng.uniform(0.01, 0.99, 100_003)
    curve = Curve(LogLoss(), points=50)
    for start in range(0, len(y), chunk):
        curve.update_many(y[start : start + chunk], p[start : start + chunk])
    events, means = curve.series()
    per_event = LogLoss().per_event(y, p)
    full = len(curve.sums) * curve.width
    assert 50 <= len(curve.sums) < 100 and events[-1] == len(y)
    assert np.allclose(means[: len(curve.sums)], per_event[:full].reshape(-1, curve.width).mean(1))
    assert np.isclose(means[-1], per_event[full:].mean())


def test_an_rmse_curve_is_the_root_of_each_bucket_mean():
    curve = Curve(RMSE(), points=2)
    curve.update_many(np.zeros(4), np.array([1.0, 1.0, 3.0, 3.0]))
    assert curve.series()[1].tolist() == [1.0, 3.0]


def test_evaluate_report_compares_learners_with_drift_markers(tmp_path):
    report = tmp_path / "out" / "elec2.html"
    result = run(
        "evaluate",
        str(elec2.path()),
        "--target",
        "target",
        "--model",
        "ftrl,sgd",
        "--drift",
        "ADWIN",
        "--report",
        str(report),
        "--output",
        "json",
    )
    assert result.returncode == 0, result.stderr
    runs = json.loads(result.stdout)["models"]
    assert set(runs) == {"ftrl", "sgd"} and runs["ftrl"]["events"] == elec2.N_EVENTS
    page = report.read_text()
    assert page.count("data:image/png;base64,") == 2  # log loss and accuracy, embedded
    for picture in ("elec2_log_loss.png", "elec2_accuracy.png"):
        assert (report.parent / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<th>ftrl</th><th>sgd</th>" in page
    assert f"{runs['ftrl']['log_loss']:.4f}" in page and f"{runs['sgd']['log_loss']:.4f}" in page
    first_drift = runs["ftrl"]["drift_events"][0]
    assert f"<td>ftrl</td><td>{first_drift['index']}</td><td>ADWIN</td>" in page  # no time
    settings = page[page.index("<h2>Settings</h2>") :]
    for shown in ("<td>streamlearn</td><td>0.", str(elec2.path()), "<td>drift</td><td>ADWIN</td>"):
        assert shown in settings, shown


def test_report_curves_match_the_reported_metric():
    report, _ = evaluate_file(elec2.path(), "target", curves=100)
    log_loss = next(c for c in report.curves if c.name == "log_loss")
    events, means = log_loss.series()
    counts = np.diff(np.concatenate([[0], events]))
    assert events[-1] == report.events
    assert np.average(means, weights=counts) == pytest.approx(report.metrics["log_loss"])


def test_a_trailing_window_is_each_points_mean_over_its_last_events():
    rng = np.random.default_rng(3)
    y, p = rng.integers(0, 2, 9_985).astype(float), rng.uniform(0.01, 0.99, 9_985)
    curve = Curve(LogLoss(), points=50)
    curve.update_many(y, p)
    window = curve.smoothing_window()
    events, means = curve.series(window)
    per_event = LogLoss().per_event(y, p)
    starts = np.concatenate([np.zeros(window, int), events[:-window]])
    expected = [per_event[a:b].mean() for a, b in zip(starts, events, strict=True)]
    assert window > 1 and np.allclose(means, expected)
    raw = curve.series()[1]
    # the plotted line: smoother than the buckets, and no jump from a one-event last bucket
    assert curve.partial_n == 1 and abs(raw[-1] - raw[-2]) > 5 * abs(means[-1] - means[-2])
    assert np.abs(np.diff(means)).sum() < np.abs(np.diff(raw)).sum() / 3
