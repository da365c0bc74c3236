"""A micro-batch that fails half way through learning: its failing events become dead
letters and the run ends exactly as a run on the stream without them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from streamlearn.base.state import register
from streamlearn.models import LogisticRegression
from streamlearn.registry import LocalRegistry
from streamlearn.runner import Runner
from streamlearn.runner.recovery import RunFailed
from streamlearn.streams import FileEvents
from tests.test_runner import delayed_file

POISON = 4.2  # a size no honest event has


@register
class BrittleClassifier(LogisticRegression):
    """Fails on an event of size POISON, after it has changed its weights (the worst case)."""

    def serve_many(self, X):
        out = super().serve_many(X)  # the scaler has seen the event now
        if np.any(np.asarray(X["size"]) == POISON):
            raise ArithmeticError("a poisoned event")
        return out


def timed(path):
    """Delays in event time (the row number), so that leaving rows out moves no label."""
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0] + ",t"] + [f"{x},{i}" for i, x in enumerate(lines[1:])]))
    return path


def poisoned(path, clean, rows):
    lines = clean.read_text().splitlines()
    for row in rows:
        colour, _, label, delay, t = lines[row].split(",")
        lines[row] = f"{colour},{POISON},{label},{delay},{t}"
    path.write_text("\n".join(lines) + "\n")
    return path


def without_rows(path, clean, rows):
    lines = clean.read_text().splitlines()
    path.write_text("\n".join(x for i, x in enumerate(lines) if i not in rows) + "\n")
    return path


def runner(path, tmp_path, name, registry=True, **options):
    return Runner(
        BrittleClassifier(bits=12),
        FileEvents(path, "y", delay_column="delay", time_column="t"),
        registry=LocalRegistry(tmp_path / name) if registry else None,
        dead_letters=tmp_path / f"{name}.jsonl",
        checkpoint_every=1000,
        ttl=50,
        expiry="default",
        micro_batch=256,
        **options,
    )


def test_failing_events_are_dead_lettered_and_the_run_goes_on(tmp_path):
    clean = timed(delayed_file(tmp_path / "clean.csv", n=4000))
    bad_rows = [300, 301, 1777, 3999]  # two in one batch, the last event of the file
    dirty = runner(poisoned(tmp_path / "dirty.csv", clean, bad_rows), tmp_path, "dirty")
    summary = dirty.run()
    reference = runner(without_rows(tmp_path / "ref.csv", clean, bad_rows), tmp_path, "ref")
    expected = reference.run()
    np.testing.assert_array_equal(dirty.model.table, reference.model.table)
    assert summary.learned == expected.learned
    assert summary.metrics == pytest.approx(expected.metrics, rel=1e-12)
    letters = [json.loads(line) for line in (tmp_path / "dirty.jsonl").read_text().splitlines()]
    assert [letter["row"] for letter in letters] == bad_rows
    assert all("ArithmeticError: a poisoned event" in letter["reason"] for letter in letters)
    assert dirty.counters["rejected"] == len(bad_rows) and summary.rejected == len(bad_rows)


def test_with_no_checkpoint_to_go_back_to_the_run_ends_saying_why(tmp_path):
    clean = timed(delayed_file(tmp_path / "clean.csv", n=1000))
    dirty = poisoned(tmp_path / "dirty.csv", clean, [500])
    with pytest.raises(RunFailed, match="no registry"):
        runner(dirty, tmp_path, "none", registry=False).run()


def test_the_live_trainer_dead_letters_a_failing_event_and_keeps_learning(tmp_path):
    from fastapi.testclient import TestClient

    from streamlearn.service import Trainer
    from streamlearn.service.app import create_app
    from streamlearn.streams import LiveEvents
    from tests.test_service import wait_for

    live = LiveEvents()
    runner = Runner(
        BrittleClassifier(bits=10),
        live,
        registry=LocalRegistry(tmp_path / "registry"),
        dead_letters=tmp_path / "dead.jsonl",
        checkpoint_every=100,
        drain_at_end=False,
    )
    trainer = Trainer(runner, live, publish_every=0.05)
    trainer.start()
    client = TestClient(create_app(trainer=trainer, token="t"))
    auth = {"Authorization": "Bearer t"}
    try:
        for size in (0.1, POISON, 0.3):
            body = {"events": [{"features": {"size": size, "colour": "red"}, "label": 1}] * 50}
            assert client.post("/learn", json=body, headers=auth).status_code == 200
        assert wait_for(lambda: runner.counters["learned"] == 100)
        assert trainer.alive and client.get("/health").status_code == 200
        assert runner.counters["rejected"] == 50
    finally:
        trainer.stop()
    letters = (tmp_path / "dead.jsonl").read_text().splitlines()
    assert len(letters) == 50 and "a poisoned event" in letters[0]
