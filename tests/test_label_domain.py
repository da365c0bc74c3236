"""Labels are checked by the model's task at every door: a binary model learns 0/1 (and
bools) only; anything else is a dead letter with its reason (a run, Kafka) or a 422 (HTTP),
and the model is not touched by it."""

from __future__ import annotations

import json

import numpy as np

from streamlearn.models import LinearRegression, LogisticRegression
from streamlearn.runner import Runner
from streamlearn.streams import RecordedEvents
from streamlearn.streams.decode import event_columns

BAD_BINARY = [2.0, -1.0, 0.5, 1e308]


def run_with_labels(model, labels, tmp_path, **options):
    n = len(labels)
    events = [{"x": float(i % 3), "colour": ["red", "blue"][i % 2]} for i in range(n)]
    times = np.arange(n, dtype=float)
    by_id = {"id": np.arange(1, n + 1), "time": times + 0.5, "label": labels}
    source = RecordedEvents(event_columns(events), times, feedback=by_id)
    dead = tmp_path / f"dead-{len(list(tmp_path.iterdir()))}.jsonl"
    runner = Runner(model, source, ttl=100, dead_letters=dead, **options)
    summary = runner.run()
    lines = dead.read_text().splitlines() if dead.exists() else []
    reasons = [json.loads(line)["reason"] for line in lines]
    return runner, summary, reasons


def test_a_binary_run_refuses_labels_that_are_not_0_or_1(tmp_path):
    good = [float(i % 2) for i in range(40)]
    clean, _, _ = run_with_labels(LogisticRegression(bits=8), good, tmp_path)
    labels = good[:20] + BAD_BINARY + good[20:]
    runner, summary, reasons = run_with_labels(LogisticRegression(bits=8), labels, tmp_path)
    assert summary.learned == 40 and summary.rejected == len(BAD_BINARY)
    assert len(reasons) == 4 and all("is not a binary label" in r for r in reasons)
    assert np.isfinite(runner.model.weights()).all()
    assert np.abs(runner.model.weights()).max() < 100
    # True and False are labels too.
    bools, summary, _ = run_with_labels(
        LogisticRegression(bits=8), [bool(v) for v in good], tmp_path
    )
    assert summary.learned == 40 and summary.rejected == 0
    np.testing.assert_array_equal(bools.model.weights(), clean.model.weights())


def test_a_regression_run_takes_numbers_within_its_bounds(tmp_path):
    labels = [float(i) for i in range(30)] + [float("inf"), -2.5, 1e308, -1e13]
    _, summary, reasons = run_with_labels(LinearRegression(bits=8), labels, tmp_path)
    assert summary.learned == 31 and summary.rejected == 3
    assert all("is not a number in [-1e+12, 1e+12]" in r for r in reasons)
    _, summary, reasons = run_with_labels(
        LinearRegression(bits=8), [1.0, 50.0, -7.0, 2.0], tmp_path, label_bounds=(0, 10)
    )
    assert summary.learned == 2 and summary.rejected == 2 and "in [0, 10]" in reasons[0]


def test_a_multiclass_model_takes_at_most_max_classes(tmp_path):
    from streamlearn.models import OneVsRest, SoftmaxRegression

    labels = ["a", "b", "c", "a", "d", "b", "e"]
    for model in (
        SoftmaxRegression(bits=8, max_classes=3),
        OneVsRest(LogisticRegression(bits=8), 3),
    ):
        runner, summary, reasons = run_with_labels(model, labels, tmp_path)
        assert summary.learned == 5 and summary.rejected == 2
        assert runner.model.classes == ["a", "b", "c"]
        assert all("of at most 3 classes" in r for r in reasons)
        assert type(model).from_state(runner.model.state()).index.limit == 3


def test_the_service_answers_422_for_a_binary_label_out_of_its_domain():
    from fastapi.testclient import TestClient

    from streamlearn.service import Trainer
    from streamlearn.service.app import create_app
    from streamlearn.streams.live import LiveEvents

    live = LiveEvents()
    trainer = Trainer(Runner(LogisticRegression(bits=8), live, drain_at_end=False), live)
    trainer.start()
    try:
        client = TestClient(create_app(trainer=trainer, token="t"))
        auth = {"Authorization": "Bearer t"}
        for label in (2, -1, 0.5, 1e308):
            learn = {"events": [{"features": {"a": 1}, "label": label}]}
            answer = client.post("/learn", json=learn, headers=auth)
            assert answer.status_code == 422 and "binary" in answer.text
            feedback = client.post("/feedback", json={"id": "e", "label": label}, headers=auth)
            assert feedback.status_code == 422
        ok = {"events": [{"features": {"a": 1}, "label": True}]}
        assert client.post("/learn", json=ok, headers=auth).status_code == 200
    finally:
        trainer.stop()


def test_the_service_answers_422_for_a_number_out_of_bounds_or_a_class_too_many():
    from fastapi.testclient import TestClient

    from streamlearn.models import SoftmaxRegression
    from streamlearn.service import Trainer
    from streamlearn.service.app import create_app
    from streamlearn.streams.live import LiveEvents
    from tests.test_service import wait_for

    auth = {"Authorization": "Bearer t"}
    for model, bad, good in [
        (LinearRegression(bits=8), 1e9, 5.0),
        (SoftmaxRegression(bits=8, max_classes=2), "c", "b"),
    ]:
        live = LiveEvents()
        runner = Runner(model, live, drain_at_end=False, label_bounds=(-1e6, 1e6))
        trainer = Trainer(runner, live)
        trainer.start()
        try:
            client = TestClient(create_app(trainer=trainer, token="t"))
            first = {"events": [{"features": {"a": 1}, "label": "a" if bad == "c" else 1.0}] * 2}
            first["events"][1] = {"features": {"a": 1}, "label": good}
            assert client.post("/learn", json=first, headers=auth).status_code == 200
            assert wait_for(lambda: runner.counters["learned"] == 2)  # noqa: B023
            learn = {"events": [{"features": {"a": 1}, "label": bad}]}
            answer = client.post("/learn", json=learn, headers=auth)
            assert answer.status_code == 422
            assert "outside this run's bounds" in answer.text or "new class" in answer.text
        finally:
            trainer.stop()


def test_bounds_and_max_classes_come_from_the_config():
    import pytest

    from streamlearn.config import ConfigError, build_model, build_runner, load_config_text

    config = load_config_text('[model]\ntask = "multiclass"\nmax_classes = 7\n')
    assert build_model(config).index.limit == 7
    ovr = load_config_text('[model]\nkind = "one_vs_rest"\nmax_classes = 5\n')
    assert build_model(ovr).index.limit == 5
    bounded = load_config_text('[model]\ntask = "regression"\n[labels]\nbounds = [-5, 5]\n')
    from streamlearn.streams.live import LiveEvents

    assert build_runner(bounded, source=LiveEvents()).champion.label_bounds == (-5.0, 5.0)
    with pytest.raises(ConfigError, match="max_classes: a setting of a multiclass model"):
        build_model(load_config_text('[model]\ntask = "binary"\nmax_classes = 3\n'))
