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


def run_with_labels(model, labels, tmp_path):
    n = len(labels)
    events = [{"x": float(i % 3), "colour": ["red", "blue"][i % 2]} for i in range(n)]
    times = np.arange(n, dtype=float)
    by_id = {"id": np.arange(1, n + 1), "time": times + 0.5, "label": labels}
    source = RecordedEvents(event_columns(events), times, feedback=by_id)
    dead = tmp_path / f"dead-{len(list(tmp_path.iterdir()))}.jsonl"
    runner = Runner(model, source, ttl=100, dead_letters=dead)
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


def test_a_regression_run_takes_any_finite_number(tmp_path):
    labels = [float(i) for i in range(30)] + [float("inf"), -2.5]
    _, summary, reasons = run_with_labels(LinearRegression(bits=8), labels, tmp_path)
    assert summary.learned == 31 and summary.rejected == 1 and "has no value" in reasons[0]


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
