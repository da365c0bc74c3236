"""A multiclass learner through every door: the runner on a file, `streamlearn run`, the
HTTP service and Kafka, with its labels as class names; scored as `evaluate` scores it."""

from __future__ import annotations

import csv
import json
import time

import numpy as np
import pytest

from streamlearn.datasets import elec2
from streamlearn.models import SoftmaxRegression
from streamlearn.offline import evaluate_file
from streamlearn.registry import LocalRegistry
from streamlearn.runner import MemoryJoinStore, Runner, SQLiteJoinStore
from streamlearn.runner.join.redis import RedisJoinStore
from streamlearn.streams import CsvPredictions, FileEvents, RecordedEvents
from streamlearn.streams.decode import event_columns
from tests.test_runner_cli import run

N_SERVED = 6000  # events through the HTTP service


@pytest.fixture(scope="module")
def moves(tmp_path_factory):
    """Elec2 as three classes ("peak", "up", "down"), as a CSV file."""
    path = tmp_path_factory.mktemp("moves") / "moves.csv"
    rows = list(elec2.moves())
    names = list(rows[0][0])
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([*names, "move"])
        writer.writerows([[x[k] for k in names] + [y] for x, y in rows])
    return path, rows


def same_scores(ours: dict, expected: dict) -> None:
    assert ours["accuracy"] == expected["accuracy"]
    assert ours["macro_f1"] == pytest.approx(expected["macro_f1"], abs=1e-12)
    assert ours["log_loss"] == pytest.approx(expected["log_loss"], rel=1e-12)


def test_the_runner_on_a_multiclass_file_scores_exactly_as_evaluate(moves, tmp_path):
    path, rows = moves
    report, _ = evaluate_file(path, "move", model=SoftmaxRegression(bits=16))
    log = tmp_path / "predictions.csv"
    runner = Runner(SoftmaxRegression(bits=16), FileEvents(path, "move"), predictions=log)
    summary = runner.run()
    assert summary.served == summary.learned == len(rows)
    same_scores(summary.metrics, report.metrics)
    assert sorted(runner.model.classes) == ["down", "peak", "up"]
    with open(log) as fh:
        logged = list(csv.DictReader(fh))
    assert len(logged) == len(rows)
    answer = json.loads(logged[-1]["prediction"])
    assert answer["class"] in ("down", "peak", "up")
    assert sum(p["probability"] for p in answer["probabilities"]) == pytest.approx(1.0)


@pytest.mark.parametrize("store", ["sqlite", "redis"])
def test_delayed_class_labels_join_the_same_through_every_store(moves, tmp_path, store, request):
    """Rows of class probabilities wait in a durable store as in memory: the same run."""
    path, _ = moves

    def runner(join):
        return Runner(SoftmaxRegression(bits=14), FileEvents(path, "move"), delay=300, join=join)

    if store == "redis":
        durable = RedisJoinStore(request.getfixturevalue("redis_server"), prefix="multiclass")
    else:
        durable = SQLiteJoinStore(tmp_path / "join.sqlite")
    expected = runner(MemoryJoinStore()).run(limit=8000)
    summary = runner(durable).run(limit=8000)
    assert summary.learned == expected.learned > 7000
    assert summary.metrics == expected.metrics


def test_streamlearn_run_takes_a_multiclass_config_and_resumes(moves, tmp_path):
    path, rows = moves
    config = tmp_path / "run.toml"
    config.write_text(
        f'[source]\npath = "{path}"\ntarget = "move"\n\n[model]\nbits = 16\n\n'
        '[labels]\ndelay = 100\nttl = 1000\n\n[checkpoint]\nregistry = "registry"\n'
        "every_events = 5000\n"
    )
    first = run("run", str(config), "--limit", "20000", "--output", "json")
    assert first.returncode == 0, first.stderr
    rest = run("run", str(config), "--output", "json")
    assert rest.returncode == 0, rest.stderr
    summary = json.loads(rest.stdout)
    assert summary["served"] == summary["learned"] == len(rows)
    whole = Runner(SoftmaxRegression(bits=16), FileEvents(path, "move"), delay=100, ttl=1000)
    assert summary["metrics"]["accuracy"] == whole.run().metrics["accuracy"]


def test_multiclass_through_the_service_scores_as_evaluate(moves):
    """Labelled events posted to /learn are scored as `evaluate` scores the file; /predict
    answers the best class and every class's probability, and a class label by id joins
    what was served."""
    from fastapi.testclient import TestClient

    from streamlearn.service import Trainer
    from streamlearn.service.app import create_app
    from streamlearn.streams.live import LiveEvents

    path, rows = moves
    report, _ = evaluate_file(path, "move", model=SoftmaxRegression(bits=16), limit=N_SERVED)
    live = LiveEvents()
    runner = Runner(SoftmaxRegression(bits=16), live, ttl=1e9, drain_at_end=False)
    trainer = Trainer(runner, live, publish_every=0)
    trainer.start()
    auth = {"Authorization": "Bearer t"}
    client = TestClient(create_app(trainer=trainer, token="t"))
    try:
        for start in range(0, N_SERVED, 1000):
            body = [{"features": x, "label": y} for x, y in rows[start : start + 1000]]
            assert client.post("/learn", json={"events": body}, headers=auth).status_code == 200
        wait_for(lambda: trainer.runner.counters["learned"] == N_SERVED)
        same_scores(trainer.runner.champion.metric_values(), report.metrics)
        wait_for(lambda: trainer.serving.events_learned == N_SERVED)
        x, y = rows[N_SERVED]
        answer = client.post("/predict", json={"id": "next", "features": x}).json()
        (served,) = answer["predictions"]
        pairs = {p["class"]: p["probability"] for p in served["probabilities"]}
        assert set(pairs) == {"down", "peak", "up"} and sum(pairs.values()) == pytest.approx(1)
        assert served["prediction"] == max(pairs, key=pairs.get)
        expected = trainer.serving.model.predict_proba_one(x)
        assert pairs == pytest.approx(expected, rel=1e-12)
        feedback = {"id": "next", "label": y}
        assert client.post("/feedback", json=feedback, headers=auth).status_code == 200
        wait_for(lambda: trainer.runner.counters["learned"] == N_SERVED + 1)
        recent = trainer.runner.champion.recent
        assert recent.targets[-1] == runner.model.classes.index(y)
        bad = client.post("/learn", json={"events": [{"features": x, "label": "x" * 300}]})
        assert bad.status_code in (401, 422)
    finally:
        trainer.stop()


def test_a_binary_service_refuses_text_labels():
    from fastapi.testclient import TestClient

    from streamlearn.models import LogisticRegression
    from streamlearn.service import Trainer
    from streamlearn.service.app import create_app
    from streamlearn.streams.live import LiveEvents

    live = LiveEvents()
    trainer = Trainer(Runner(LogisticRegression(), live, drain_at_end=False), live)
    trainer.start()
    try:
        client = TestClient(create_app(trainer=trainer, token="t"))
        body = {"events": [{"features": {"a": 1}, "label": "yes"}]}
        answer = client.post("/learn", json=body, headers={"Authorization": "Bearer t"})
        assert answer.status_code == 422 and "numbers" in answer.text
    finally:
        trainer.stop()


def test_labels_that_name_no_class_are_rejected_and_the_run_goes_on(tmp_path):
    """Labels by id that name no class (too long, a lone surrogate, NaN, a list, a dict)
    are rejected; the rest are learned."""
    events = [{"x": float(i % 3)} for i in range(8)]
    labels = ["a", "b" * 300, "\ud800", "b", ["c"], float("nan"), "a", {"d": 1}]
    times = np.arange(8, dtype=float)
    labels_by_id = {"id": np.arange(1, 9), "time": times + 0.5, "label": labels}
    source = RecordedEvents(event_columns(events), times, feedback=labels_by_id)
    dead = tmp_path / "dead.jsonl"
    summary = Runner(SoftmaxRegression(bits=8), source, ttl=100, dead_letters=dead).run()
    assert summary.learned == 3 and summary.rejected == 5
    assert summary.served == 8
    reasons = [json.loads(line)["reason"] for line in dead.read_text().splitlines()]
    assert len(reasons) == 5 and sum("is not a class label" in r for r in reasons) == 4
    assert sum("has no value" in r for r in reasons) == 1  # the NaN
    assert any("'bbbbbbbbb" in r and r.count("b") < 100 for r in reasons)  # cut short


def test_multiclass_through_kafka_with_class_names(kafka_broker, tmp_path):
    from confluent_kafka import Producer

    from streamlearn.streams.kafka import KafkaEvents, KafkaPredictions
    from tests.test_kafka import consume_all, create_topics, run_until

    topics = {name: f"{name}-mc" for name in ("events", "labels", "predictions", "dead")}
    create_topics(kafka_broker, *topics.values())
    producer = Producer({"bootstrap.servers": kafka_broker})
    n = 1500
    for i in range(n):
        colour = ["red", "green", "blue"][i % 3]
        record = {"id": f"e{i}", "features": {"colour": colour, "i": i % 7}}
        if i % 2:
            record["label"] = colour.upper()
        producer.produce(topics["events"], json.dumps(record).encode())
        if not i % 2:
            label = {"id": f"e{i}", "label": colour.upper()}
            producer.produce(topics["labels"], json.dumps(label).encode())
    producer.produce(topics["labels"], json.dumps({"id": "e0", "label": {"no": 1}}).encode())
    producer.flush(30)
    events = KafkaEvents(
        {"bootstrap.servers": kafka_broker, "group.id": "mc"},
        topics["events"],
        topics["labels"],
        topics["dead"],
        class_labels=True,
    )
    runner = Runner(
        SoftmaxRegression(bits=10),
        events,
        ttl=600.0,
        registry=LocalRegistry(tmp_path / "registry"),
        checkpoint_every=500,
        micro_batch=300,
        drain_at_end=False,
        predictions=KafkaPredictions({"bootstrap.servers": kafka_broker}, topics["predictions"]),
    )
    summary = run_until(runner, lambda s: s.learned >= n and s.rejected >= 1)
    assert summary.learned == n and summary.rejected == 1
    assert sorted(runner.model.classes) == ["BLUE", "GREEN", "RED"]
    assert summary.metrics["accuracy"] > 0.95
    published = [
        json.loads(value) for _, value, _ in consume_all(kafka_broker, topics["predictions"], n)
    ]
    last = published[-1]
    assert last["prediction"]["class"] in ("BLUE", "GREEN", "RED") and last["model_version"]
    (dead,) = [json.loads(v) for _, v, _ in consume_all(kafka_broker, topics["dead"], 1)]
    assert "class name" in dead["reason"]


def test_the_prediction_log_holds_the_class_and_probabilities(tmp_path):
    log = tmp_path / "predictions.csv"
    events = [{"x": float(i % 2)} for i in range(6)]
    times = np.arange(6, dtype=float)
    labels = ["odd" if i % 2 else "even" for i in range(6)]
    by_id = {"id": np.arange(1, 7), "time": times + 0.5, "label": labels}
    source = RecordedEvents(event_columns(events), times, feedback=by_id)
    Runner(SoftmaxRegression(bits=8), source, ttl=100, predictions=CsvPredictions(log)).run()
    with open(log) as fh:
        logged = [json.loads(row["prediction"]) for row in csv.DictReader(fh)]
    assert logged[0] == {"class": None, "probabilities": []}  # nothing learned yet
    assert logged[1]["class"] == "even" and logged[1]["probabilities"] == [
        {"class": "even", "probability": 1.0}
    ]
    assert {p["class"] for p in logged[-1]["probabilities"]} == {"even", "odd"}


def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
