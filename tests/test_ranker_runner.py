"""The engagement ranker through the runner: impressions served, feedback per task by id,
each impression learned when its feedback window closes — the same as doing it by hand,
event by event; across a checkpoint; over HTTP; and from a Kafka-shaped label."""

from __future__ import annotations

import csv
import heapq
import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from streamlearn.config import ConfigError, build_runner, load_config_text
from streamlearn.datasets import synth
from streamlearn.models import EngagementRanker
from streamlearn.registry import LocalRegistry
from streamlearn.runner import Runner
from streamlearn.streams import RecordedEvents
from streamlearn.streams.kafka_messages import _parse_label

TASKS = {"click": "binary", "like": "binary", "dwell": "regression"}
WINDOW = 120.0


def make_ranker() -> EngagementRanker:
    return EngagementRanker(
        TASKS,
        weights={"click": 1.0, "like": 0.5, "dwell": 0.01},
        defaults={"click": 0.0},
        interactions=[("user", "topic")],
        standardize=False,
        bits=16,
    )


def recorded(n: int, seed: int = 1, text_ids: bool = True):
    """n impressions a second apart; each known label arrives 5–100 s later (within the
    window), a click only when there was one (no click is silence)."""
    events, labels = synth.timeline(n, seed=seed)
    rng = np.random.default_rng(seed)
    times = np.arange(n, dtype=float)
    ids = [f"i{k}" for k in range(n)] if text_ids else list(range(1, n + 1))
    feedback: dict[str, list] = {"id": [], "time": [], "label": [], "task": []}
    for k in range(n):
        for task in TASKS:
            value = labels[task][k]
            if np.isfinite(value) and (task != "click" or value > 0):
                feedback["id"].append(ids[k])
                feedback["time"].append(times[k] + rng.uniform(5, 100))
                feedback["label"].append(float(value))
                feedback["task"].append(task)
    return events, times, ids, feedback


def by_hand(ranker: EngagementRanker, events, times, ids, feedback):
    """The reference: in time order, serve each impression (its score) and learn each one
    when its window closes, one event at a time, with the feedback that came."""
    got: dict[str, dict[str, float]] = {}
    for event_id, task, label in zip(
        feedback["id"], feedback["task"], feedback["label"], strict=True
    ):
        got.setdefault(event_id, {})[task] = label
    rows = [{name: column[k] for name, column in events.items()} for k in range(len(times))]
    closing: list[tuple[float, int]] = []
    scores = []
    for k, now in enumerate(times):
        while closing and closing[0][0] < now:
            _, j = heapq.heappop(closing)
            ranker.learn_one(rows[j], {"click": 0.0} | got.get(ids[j], {}))
        scores.append(ranker.predict_one(rows[k]))
        heapq.heappush(closing, (now + WINDOW, k))
    while closing:
        _, j = heapq.heappop(closing)
        ranker.learn_one(rows[j], {"click": 0.0} | got.get(ids[j], {}))
    return np.array(scores)


def run_through(ranker, source, **options) -> tuple[Runner, np.ndarray]:
    served = []
    runner = Runner(ranker, source, ttl=WINDOW, micro_batch=50, **options)
    original = runner.step

    def step(batch):
        out = original(batch)
        served.append(out)
        return out

    runner.step = step
    runner.run()
    return runner, np.concatenate(served)


def test_the_runner_learns_each_impression_at_its_window_close_as_by_hand():
    events, times, ids, feedback = recorded(3000)
    runner, served = run_through(make_ranker(), RecordedEvents(events, times, ids, feedback))
    expected_scores = by_hand(reference := make_ranker(), events, times, ids, feedback)
    np.testing.assert_allclose(served, expected_scores, rtol=1e-12, atol=1e-12)
    for name, head in runner.model.heads.items():
        np.testing.assert_allclose(
            head.state().arrays["table"],
            reference.heads[name].state().arrays["table"],
            rtol=1e-12,
            atol=1e-12,
            err_msg=name,
        )
    counters = runner.counters
    assert counters["served"] == 3000 and counters["learned"] == 3000
    assert counters["late"] == 0 and counters["rejected"] == 0
    # An impression whose window closed with no feedback at all expired (learned as no click).
    assert counters["expired"] == len(set(ids) - set(feedback["id"])) > 0
    assert runner.model.heads["like"].n_learned == sum(t == "like" for t in feedback["task"])
    # The lane scores the score against the engagement that came (a regression).
    assert {"mae", "rmse"} <= set(runner.champion.metric_values())


def test_feedback_after_the_window_is_late_for_nobody_unknown_and_bad_feedback_rejected():
    events, times, ids, _ = recorded(400)
    feedback = {
        "id": ["i0", "nobody", "i1", "i2", "i3"],
        "time": [WINDOW + 60, 10.0, 11.0, 12.0, 13.0],
        "label": [1.0, 1.0, 1.0, float("nan"), 1.0],
        "task": ["click", "click", "share", "click", None],
    }
    runner, _ = run_through(make_ranker(), RecordedEvents(events, times, ids, feedback))
    counters = runner.counters
    assert counters["late"] == 1  # i0's click came after its window
    assert counters["unknown"] == 1  # nobody's had no event
    assert counters["rejected"] == 3  # an unknown task, a NaN, no task
    assert counters["learned"] == 400
    assert runner.model.heads["click"].n_learned == 400  # the default 0 for every one
    assert runner.model.heads["like"].n_learned == 0


def test_a_one_task_model_rejects_feedback_for_a_task():
    from streamlearn.models import LogisticRegression

    events, times, ids, _ = recorded(100)
    feedback = {
        "id": ["i1", "i2"],
        "time": [3.0, 4.0],
        "label": [1.0, 0.0],
        "task": ["click", None],
    }
    runner = Runner(LogisticRegression(), RecordedEvents(events, times, ids, feedback), ttl=WINDOW)
    runner.run()
    assert runner.counters["rejected"] == 1 and runner.counters["learned"] == 1


@pytest.mark.parametrize("text_ids", [True, False])
def test_resumed_from_a_checkpoint_with_feedback_waiting_it_ends_as_one_run(tmp_path, text_ids):
    events, times, ids, feedback = recorded(2000, seed=4, text_ids=text_ids)
    whole, _ = run_through(make_ranker(), RecordedEvents(events, times, ids, feedback))
    folder = tmp_path / "registry"

    def runner():
        source = RecordedEvents(events, times, ids, feedback)
        return Runner(
            make_ranker(),
            source,
            ttl=WINDOW,
            micro_batch=50,
            registry=LocalRegistry(folder),
            checkpoint_every=100,
        )

    first = runner()
    first.run(limit=1050)
    assert first.champion.feedback.collected  # feedback was waiting at the checkpoint
    second = runner()
    second.run()
    for name, head in whole.model.heads.items():
        np.testing.assert_array_equal(
            second.model.heads[name].state().arrays["table"],
            head.state().arrays["table"],
            err_msg=name,
        )
    assert second.counters["learned"] == 2000 and second.counters["late"] == 0


def test_the_rollback_guard_and_promotion_gate_judge_a_ranker(tmp_path):
    from streamlearn.models import LogisticRegression
    from streamlearn.runner.guards import PromotionGate, RollbackGuard

    events, times, ids, feedback = recorded(3000, seed=5)
    runner = Runner(
        make_ranker(),
        RecordedEvents(events, times, ids, feedback),
        ttl=WINDOW,
        micro_batch=100,
        registry=LocalRegistry(tmp_path / "registry"),
        checkpoint_every=500,
        rollback=RollbackGuard(min_events=200),
        gate=PromotionGate(min_events=200),
        challengers=[make_ranker(), LogisticRegression(bits=12)],
    )
    runner.run()
    assert runner.counters["learned"] == 3000
    assert len(runner.registry.versions()) >= 6  # checkpoints, each judged
    # A one-task challenger gets every task's feedback rejected and learns nothing.
    assert runner.lanes[2].counters["learned"] == 0
    assert runner.lanes[2].counters["rejected"] == len(feedback["id"])


def test_a_runner_needs_a_window_for_a_ranker():
    with pytest.raises(ValueError, match="feedback window"):
        Runner(make_ranker(), None)
    windowless = load_config_text('[model]\nkind = "ranker"\ntasks = {click = "binary"}\n')
    with pytest.raises(ConfigError, match=r"labels\.ttl"):  # evaluate needs none: run does
        build_runner(windowless)
    with pytest.raises(ConfigError, match="tasks"):
        load_config_text('[model]\nkind = "ranker"\n[labels]\nttl = 60\n')


def test_kafka_labels_may_name_their_task():
    assert _parse_label(b'{"id": "a", "label": 1, "task": "like"}') == ("a", 1.0, "like")
    assert _parse_label(b'{"id": "a", "label": 0}') == ("a", 0.0, None)
    for bad in (b'{"id": "a", "label": 1, "task": 3}', b'{"id": "a", "label": 1, "x": 1}'):
        with pytest.raises(ValueError, match="task"):
            _parse_label(bad)


RANKER_SERVICE = """
[model]
kind = "ranker"
tasks = {click = "binary", like = "binary"}
weights = {click = 1.0, like = 0.5}
defaults = {click = 0.0}
categorical = ["user", "post"]
[labels]
ttl = 0.5
store = "memory"
"""


def test_the_service_serves_a_ranker_and_takes_feedback_per_task(tmp_path):
    from streamlearn.service.serve import build_service
    from tests.test_service import wait_for

    config = load_config_text(RANKER_SERVICE + '[service]\ntoken = "t"\n', tmp_path)
    app, trainer = build_service(config)
    with TestClient(app) as client:
        auth = {"Authorization": "Bearer t"}
        for k in range(200):
            liked = k % 2 == 0
            response = client.post(
                "/predict",
                json={
                    "id": f"e{k}",
                    "features": {"user": "u1", "post": "good" if liked else "dull"},
                },
            )
            assert response.status_code == 200, response.text
            if liked:
                for task in ("click", "like"):
                    body = {"id": f"e{k}", "label": 1, "task": task}
                    answer = client.post("/feedback", headers=auth, json=body)
                    assert answer.status_code == 200, answer.text
        wrong = client.post("/feedback", headers=auth, json={"id": "e1", "label": 1})
        assert wrong.status_code == 422 and "task" in wrong.json()["detail"]
        twice = client.post(
            "/feedback", headers=auth, json={"id": "e0", "label": 2, "task": "like"}
        )
        assert twice.status_code == 422 and "like is a binary task" in twice.json()["detail"]
        assert wait_for(lambda: trainer.runner.counters["learned"] == 200)

        def score(post):
            body = {"features": {"user": "u1", "post": post}, "track": False}
            return client.post("/predict", json=body).json()["predictions"][0]["prediction"]

        assert score("good") > score("dull") + 0.2
        assert trainer.runner.model.heads["like"].n_learned == 100
        served = trainer.runner.counters["served"]
        ranked = client.post(
            "/rank",
            json={
                "context": {"user": "u1"},
                "candidates": [
                    {"id": "r1", "features": {"post": "dull"}},
                    {"features": {"post": "good"}},
                    {"id": "r3", "features": {"post": "new"}},
                ],
            },
        ).json()
        assert ranked["ranked"][0]["index"] == 1  # the good post first
        assert ranked["ranked"][0]["score"] >= ranked["ranked"][-1]["score"]
        assert {r["id"] for r in ranked["ranked"]} >= {"r1", "r3"}
        assert wait_for(lambda: trainer.runner.counters["served"] == served + 3)  # impressions
        body = {"id": "r3", "label": 1, "task": "click"}
        assert client.post("/feedback", headers=auth, json=body).status_code == 200
    trainer.stop()


def test_a_ranker_learns_feedback_per_task_from_kafka_topics(kafka_broker):
    """Impressions on one topic, clicks and likes by id (and task) on another, read side
    by side: every impression is served once with a version, learned when its window
    closes with the feedback that came, and the ranker's clicks follow the stream's."""
    from confluent_kafka import Producer

    from streamlearn.config import build_runner, kafka_events
    from tests.conftest import consume_all, create_topics
    from tests.test_kafka import run_until

    n = 400
    events, labels = synth.timeline(n, seed=3)
    topics = {part: f"{part}-ranker" for part in ("events", "labels", "predictions")}
    create_topics(kafka_broker, *topics.values())
    producer = Producer({"bootstrap.servers": kafka_broker})
    for k in range(n):
        x = {name: column[k] for name, column in events.items()}
        x["hour"] = int(x["hour"])
        producer.produce(topics["events"], json.dumps({"id": f"r{k}", "features": x}).encode())
    clicks = 0
    for k in range(n):
        for task in ("click", "like"):
            if labels[task][k] > 0:  # NaN (no click: no like to judge) and 0 are silence
                clicks += task == "click"
                feedback = {"id": f"r{k}", "task": task, "label": 1.0}
                producer.produce(topics["labels"], json.dumps(feedback).encode())
    producer.flush(30)
    config = load_config_text(
        '[model]\nkind = "ranker"\ntasks = {click = "binary", like = "binary"}\nbits = 14\n'
        "defaults = {click = 0.0}  # no click is silence\n\n"
        '[labels]\nttl = 1.0\nstore = "memory"\n\n'
        f'[kafka]\nbootstrap_servers = "{kafka_broker}"\ngroup = "ranker-door"\n'
        f'events_topic = "{topics["events"]}"\nlabels_topic = "{topics["labels"]}"\n'
        f'predictions_topic = "{topics["predictions"]}"\n'
    )
    runner = build_runner(config, source=kafka_events(config), drain_at_end=False)
    summary = run_until(runner, lambda s: s.learned >= n)
    assert (summary.served, summary.learned, summary.rejected, summary.late) == (n, n, 0, 0)
    published = [json.loads(v) for _, v, _ in consume_all(kafka_broker, topics["predictions"], n)]
    assert {p["id"] for p in published} == {f"r{k}" for k in range(n)}
    assert all(p["model_version"] for p in published)
    predicted = runner.model.predict_all(events)["click"]  # learned from the feedback
    assert abs(predicted.mean() - clicks / n) < 0.1 and 0 < clicks < n


def impressions_file(folder, n: int = 1500):
    """Impressions with their engagement in a CSV: a column per task, empty where none
    came (no like to judge without a click)."""
    events, labels = synth.timeline(n, seed=4)
    path = folder / "impressions.csv"
    names = list(events)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([*names, *TASKS])
        for k in range(n):
            got = [labels[task][k] for task in TASKS]
            writer.writerow(
                [events[name][k] for name in names] + ["" if np.isnan(v) else v for v in got]
            )
    return path, events, labels


def test_evaluate_serves_each_impression_then_learns_it_with_its_engagement(tmp_path):
    """``streamlearn evaluate`` on a file of impressions and their engagement, a column per
    task: each impression is scored, then learned with what it got, as one by one."""
    from streamlearn.checks.helpers import assert_same_state
    from streamlearn.offline import evaluate_file

    path, events, labels = impressions_file(tmp_path)
    ranker, by_hand = make_ranker(), make_ranker()
    report, rejects = evaluate_file(path, target="click", model=ranker)
    assert (report.events, report.task, rejects.count) == (1500, "ranking", 0)
    for k in range(1500):
        x = {name: column[k] for name, column in events.items()}
        x["hour"] = int(x["hour"])
        by_hand.predict_one(x)
        got = {task: labels[task][k] for task in TASKS if np.isfinite(labels[task][k])}
        by_hand.learn_one(x, {"click": 0.0} | got)
    assert_same_state(ranker, by_hand)
    config = tmp_path / "ranker.toml"
    config.write_text(
        '[model]\nkind = "ranker"\nbits = 16\n'
        'tasks = {click = "binary", like = "binary", dwell = "regression"}\n'
    )
    from typer.testing import CliRunner

    from streamlearn.cli.main import app

    arguments = ["evaluate", str(path), "--target", "click", "--config", str(config)]
    result = CliRunner().invoke(app, [*arguments, "--output", "json"])
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.stdout)["models"].values()
    assert report["events"] == 1500


def test_evaluate_rejects_bad_engagement_in_a_task_column_and_learns_the_rest(tmp_path):
    """A click of 2, a dwell of "inf", a like of 1e300: each a reject naming its event, which
    is still served and learned with the engagement that is valid; a dwell of "long" does
    not parse: its row is a reject."""
    from streamlearn.offline import evaluate_file

    path, _, _ = impressions_file(tmp_path, n=300)
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    bad = {5: ("click", "2"), 9: ("dwell", "long"), 12: ("dwell", "inf"), 20: ("like", "1e300")}
    for row, (task, value) in bad.items():
        cells = lines[row].split(",")
        cells[header.index(task)] = value
        lines[row] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    ranker = make_ranker()
    report, rejects = evaluate_file(path, target="click", model=ranker)
    assert report.events == 299  # a value that does not parse rejects its row, as in any file
    reasons = sorted(r.reason for r in rejects.first)
    assert rejects.count == len(bad) and len(reasons) == len(bad)
    assert "column 'dwell': cannot parse 'long' as a number" in reasons
    assert "label 2.0 of 5 is not a binary label (0/1 or a bool)" in reasons
    assert any(r.startswith("label inf of 12 is not a number") for r in reasons)
    assert any(r.startswith("label 1e+300 of 20 is not a binary label") for r in reasons)
    assert all(np.isfinite(head.state().arrays["table"]).all() for head in ranker.heads.values())
    assert ranker.heads["click"].n_learned == 299  # its bad click is no click (no feedback)
