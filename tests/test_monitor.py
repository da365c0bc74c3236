"""Monitoring: latency sketches, the run's time series and markers, Prometheus names, the
monitor fed by a learning service."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from streamlearn.adaptation import adaptive
from streamlearn.drift import ADWIN
from streamlearn.models import LogisticRegression
from streamlearn.monitor import LatencyWindow, Monitor
from streamlearn.monitor.prometheus import MonitorCollector
from streamlearn.runner import Runner
from streamlearn.service import Trainer
from streamlearn.service.app import create_app
from streamlearn.streams.live import LiveEvents
from tests.test_service import AUTH, TOKEN, wait_for


def test_latency_quantiles_are_within_the_sketch_accuracy():
    values = np.random.default_rng(0).lognormal(-7, 1.0, 50_000)
    window = LatencyWindow(seconds=60)
    window.add_many(values, now=10.0)
    measured = window.quantiles((0.5, 0.95, 0.99), now=10.0)
    exact = np.quantile(values, (0.5, 0.95, 0.99))
    assert np.allclose(measured, exact, rtol=0.02)
    assert window.count == len(values) and window.total == pytest.approx(values.sum())


def test_latency_window_forgets_old_slices_and_ignores_bad_values():
    window = LatencyWindow(seconds=10, slices=5)
    window.add_many([1.0] * 100, now=0.0)
    window.add_many([0.001] * 100 + [math.nan, -1.0, math.inf], now=9.0)
    assert window.quantiles((0.99,), now=9.5)[0] == pytest.approx(1.0, rel=0.02)
    assert window.quantiles((0.99,), now=10.5)[0] == pytest.approx(0.001, rel=0.02)
    assert math.isnan(window.quantiles((0.5,), now=30.0)[0])
    assert window.count == 200  # NaN, negative and infinite latencies are not counted


def lane(version="v1", loss=0.5):
    return {
        "lane": "champion",
        "model": "LogisticRegression",
        "version": version,
        "metrics": {"rolling_log_loss": loss, "roc_auc": math.nan},
    }


def test_points_carry_rates_and_lane_metrics_and_markers_are_counted_once():
    monitor = Monitor(max_points=3)
    drift = {
        "index": 7,
        "detector": "ADWIN",
        "action": "reset",
        "detected_at": "2026-01-01T00:00:00+00:00",
    }
    monitor.observe({"served": 0, "learned": 0, "lanes": [lane()]}, now=10.0)
    monitor.observe({"served": 50, "learned": 40, "lanes": [lane()], "drifts": [drift]}, now=12.0)
    point = monitor.observe(
        {
            "served": 90,
            "learned": 80,
            "lanes": [lane("v2", 0.4)],
            "drifts": [drift],
            "rollbacks": [{"to": "v1", "reason": "r"}],
        },
        now=14.0,
    )
    assert point["updates_per_second"] == 20.0 and point["served_per_second"] == 20.0
    assert point["lanes"]["champion"] == {
        "model": "LogisticRegression",
        "version": "v2",
        "rolling_log_loss": 0.4,
    }  # NaN is left out
    assert [m["kind"] for m in monitor.markers] == ["drift", "rollback"]
    assert monitor.markers[0]["time"] == 1767225600.0  # the record's own time
    assert monitor.markers[1]["time"] == 14.0  # no time of its own: when it was seen
    assert monitor.counts == {"drift": 1, "rollback": 1, "promotion": 0}
    monitor.observe({"served": 95, "lanes": [lane()]}, now=15.0)
    assert len(monitor.points) == 3  # bounded
    later = monitor.snapshot(after=point["seq"])
    assert [p["time"] for p in later["points"]] == [15.0] and later["markers"] == []
    everything = monitor.snapshot()
    assert [m["kind"] for m in everything["markers"]] == ["drift", "rollback"]
    assert everything["points"][0]["predict_p99"] is None  # NaN becomes null in JSON


def scrape(monitor):
    registry = CollectorRegistry()
    registry.register(MonitorCollector(monitor))
    families = text_string_to_metric_families(generate_latest(registry).decode())
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in families
        for s in family.samples
    }


def test_prometheus_names_types_and_labels():
    monitor = Monitor()
    monitor.predict_latency.add_many([0.001] * 99 + [0.1])
    monitor.observe(
        {
            "served": 9,
            "learned": 7,
            "rejected": 2,
            "lanes": [lane("v3", 0.25)],
            "dead_letters": {"label … is not …/…": 2},
            "drifts": [{"index": 1}, {"index": 2}],
        }
    )
    samples = scrape(monitor)
    assert samples[("streamlearn_events_total", (("kind", "learned"),))] == 7
    assert samples[("streamlearn_events_total", (("kind", "rejected"),))] == 2
    assert (
        samples[
            ("streamlearn_model_metric", (("lane", "champion"), ("metric", "rolling_log_loss")))
        ]
        == 0.25
    )
    assert (
        samples[
            (
                "streamlearn_model_info",
                (("lane", "champion"), ("model", "LogisticRegression"), ("version", "v3")),
            )
        ]
        == 1
    )
    assert samples[("streamlearn_drifts_total", ())] == 2
    assert samples[("streamlearn_dead_letters_total", (("reason", "label … is not …/…"),))] == 2
    p50 = samples[("streamlearn_latency_seconds", (("op", "predict"), ("quantile", "0.5")))]
    assert p50 == pytest.approx(0.001, rel=0.02)
    assert samples[("streamlearn_latency_seconds_count", (("op", "predict"),))] == 100


def concept(n, flip, seed):
    rng = np.random.default_rng(seed)
    colours = rng.choice(["red", "blue"], n)
    return [{"features": {"colour": str(c)}, "label": int((c == "red") != flip)} for c in colours]


def test_a_learning_service_reports_its_run_and_a_drift(tmp_path):
    live = LiveEvents()
    model = adaptive(LogisticRegression(bits=10), ADWIN(), "reset", signal="log_loss")
    runner = Runner(model, live, micro_batch=200, drain_at_end=False)
    trainer = Trainer(runner, live, observe_every=0.05)
    trainer.start()
    client = TestClient(create_app(trainer=trainer, token=TOKEN))
    try:
        client.post("/learn", json={"events": concept(3000, False, 1)}, headers=AUTH)
        for _ in range(20):
            client.post("/predict", json={"features": {"colour": "red"}, "track": False})
        assert wait_for(lambda: client.get("/monitor").json()["points"][-1]["learned"] == 3000)
        before = client.get("/monitor").json()
        drifts_before = before["marker_counts"]["drift"]
        client.post("/learn", json={"events": concept(3000, True, 2)}, headers=AUTH)
        assert wait_for(lambda: client.get("/monitor").json()["points"][-1]["learned"] == 6000)
        after = client.get("/monitor", params={"after": before["seq"]}).json()
    finally:
        trainer.stop()
    assert after["marker_counts"]["drift"] > drifts_before  # the flip was detected
    assert any(m["kind"] == "drift" and m["record"]["offset"] > 3000 for m in after["markers"])
    last = after["points"][-1]
    assert last["lanes"]["champion"]["model"] == "LogisticRegression + ADWIN (reset)"
    assert 0 < last["lanes"]["champion"]["rolling_log_loss"] < 5
    assert last["predict_p99"] > 0 and last["learn_p50"] > 0
    text = client.get("/metrics").text
    assert 'streamlearn_latency_seconds{op="predict",quantile="0.99"}' in text
    assert 'streamlearn_events_total{kind="learned"} 6000.0' in text
    assert "process_resident_memory_bytes" in text


def test_the_terminal_status_shows_the_latest_point():
    from rich.console import Console

    from streamlearn.cli.status import status_table

    monitor = Monitor()
    console = Console(record=True, width=100)
    console.print(status_table(monitor, "run x"))
    assert "starting" in console.export_text()
    monitor.learn_latency.add(0.004)
    monitor.observe(
        {"served": 1234, "learned": 1200, "lanes": [lane("v7", 0.3456)], "drifts": [{"index": 5}]}
    )
    console.print(status_table(monitor, "run x"))
    text = console.export_text()
    assert "served 1,234" in text and "learned 1,200" in text and "drifts 1" in text
    assert "champion v7" in text and "log_loss 0.3456" in text
    p99 = float(re.search(r"learn p99 ([0-9.]+)ms", text).group(1))
    assert p99 == pytest.approx(4.0, rel=0.02)
