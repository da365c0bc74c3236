"""The HTTP API over a trainer that learns while serving, and a replica that follows the
registry (FastAPI's test client; a real server in tests/test_serve_cli.py)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from streamlearn.models import LogisticRegression
from streamlearn.registry import LocalRegistry
from streamlearn.runner import Runner
from streamlearn.service import Replica, Trainer
from streamlearn.service.app import MAX_BODY_BYTES, MAX_EVENTS, create_app
from streamlearn.streams.live import LiveEvents

TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def events(n, seed=0):
    """red ⇒ clicked, blue ⇒ not; sizes are noise."""
    rng = np.random.default_rng(seed)
    colours = rng.choice(["red", "blue"], n)
    return (
        [
            {"colour": str(c), "size": float(s)}
            for c, s in zip(colours, rng.normal(size=n), strict=True)
        ],
        [float(c == "red") for c in colours],
    )


def put(trainer, n, seed=0):
    features, labels = events(n, seed)
    trainer.events.put(features, labels=labels)


@pytest.fixture
def service(tmp_path):
    live = LiveEvents()
    registry = LocalRegistry(tmp_path / "registry")
    runner = Runner(
        LogisticRegression(bits=12),
        live,
        ttl=30.0,
        registry=registry,
        checkpoint_every=500,
        micro_batch=500,
        drain_at_end=False,
    )
    trainer = Trainer(runner, live, publish_every=0.05)
    trainer.start()
    client = TestClient(create_app(trainer=trainer, registry=registry, token=TOKEN))
    yield client, trainer, registry
    trainer.stop()


def wait_for(condition, timeout=120.0, interval=0.02):
    """True once ``condition()`` holds; the generous limit is for a cold CI machine, where
    the first service test also compiles the numba kernels it reaches."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False


def test_learn_then_predict_then_feedback(service):
    client, trainer, _ = service
    features, labels = events(2000)
    body = {"events": [{"features": f, "label": y} for f, y in zip(features, labels, strict=True)]}
    assert client.post("/learn", json=body, headers=AUTH).json() == {"accepted": 2000}
    assert wait_for(lambda: client.get("/health").json()["events_learned"] >= 1999)
    answer = client.post("/predict", json={"id": "e1", "features": {"colour": "red"}}).json()
    [prediction] = answer["predictions"]
    assert prediction["id"] == "e1" and prediction["prediction"] is True
    assert prediction["probability"] > 0.8 and prediction["model_version"].startswith("v")
    batch = client.post("/predict", json={"events": [{"features": {"colour": "blue"}}] * 3})
    assert [p["prediction"] for p in batch.json()["predictions"]] == [False] * 3
    # The tracked prediction e1 gets its label later: it is learned from what was served.
    before = trainer.runner.counters["learned"]
    assert client.post("/feedback", json={"id": "e1", "label": 1}, headers=AUTH).json() == {
        "accepted": 1
    }
    assert wait_for(lambda: trainer.runner.counters["learned"] == before + 1)
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["role"] == "trainer"
    text = client.get("/metrics").text
    assert 'streamlearn_events_total{kind="learned"}' in text
    assert "streamlearn_predict_seconds_bucket" in text
    assert "streamlearn_predictions_total 4.0" in text


def test_mutating_endpoints_need_the_token(service, tmp_path):
    client, _, _ = service
    body = {"events": [{"features": {"a": 1.0}, "label": 1}]}
    assert client.post("/learn", json=body).status_code == 401
    assert (
        client.post("/learn", json=body, headers={"Authorization": "Bearer nope"}).status_code
        == 401
    )
    assert client.post("/feedback", json={"id": "x", "label": 1}).status_code == 401
    assert client.post("/rollback", json={}).status_code == 401
    assert client.post("/models/v000001/promote").status_code == 401
    live = LiveEvents()
    trainer = Trainer(Runner(LogisticRegression(bits=8), live, drain_at_end=False), live)
    open_app = TestClient(create_app(trainer=trainer, token=None))
    refused = open_app.post("/learn", json=body, headers=AUTH)
    assert refused.status_code == 403 and "STREAMLEARN_TOKEN" in refused.json()["detail"]
    assert open_app.post("/predict", json={"features": {"a": 1.0}}).status_code == 200


def test_bad_bodies_get_clear_4xx(service):
    client, _, _ = service
    nested = client.post("/predict", json={"features": {"colour": ["red"]}})
    assert nested.status_code == 422 and "features" in str(nested.json()["detail"])
    assert client.post("/predict", json={}).status_code == 422
    unknown = client.post("/learn", json={"events": [{"features": {}, "lable": 1}]}, headers=AUTH)
    assert unknown.status_code == 422 and "lable" in str(unknown.json()["detail"])
    too_many = {"events": [{"features": {"a": 1.0}}] * (MAX_EVENTS + 1)}
    assert client.post("/predict", json=too_many).status_code == 422
    huge = client.post(
        "/predict",
        content=b"{" + b" " * MAX_BODY_BYTES + b"}",
        headers={"content-type": "application/json"},
    )
    assert huge.status_code == 413

    def chunks():  # no Content-Length: the limit holds while the body is read
        yield b'{"events": ['
        for _ in range(MAX_BODY_BYTES // 65536 + 1):
            yield b" " * 65536
        yield b"]}"

    streamed = client.post(
        "/learn", content=chunks(), headers=AUTH | {"content-type": "application/json"}
    )
    assert streamed.status_code == 413 and "body over" in streamed.json()["detail"]
    assert client.get("/models/v999999").status_code == 404


def test_events_without_features_are_learned_not_fatal(service):
    """``{"features": {}}`` is a valid event (everything absent: the intercept serves it);
    it once stopped the trainer."""
    client, trainer, _ = service
    empty = {"events": [{"id": f"e{i}", "features": {}, "label": 1} for i in range(3)]}
    assert client.post("/learn", json=empty, headers=AUTH).json() == {"accepted": 3}
    assert wait_for(lambda: trainer.serving.events_learned == 3)
    assert client.get("/health").json()["status"] == "ok"


def test_models_promote_and_rollback(service):
    client, trainer, registry = service
    features, labels = events(2000, seed=1)
    for start in range(0, 2000, 250):
        trainer.events.put(features[start : start + 250], labels=labels[start : start + 250])
    assert wait_for(lambda: len(registry.versions()) >= 3)
    listing = client.get("/models").json()
    ids = [v["id"] for v in listing["versions"]]
    assert listing["tags"]["champion"] in ids
    record = client.get(f"/models/{ids[0]}").json()
    assert record["id"] == ids[0] and "offsets" in record and "metrics" in record
    assert client.post(f"/models/{ids[0]}/promote", headers=AUTH).json() == {"champion": ids[0]}
    put(trainer, 10)  # the trainer swaps at its next batch
    assert wait_for(lambda: any(r["to"] == ids[0] for r in trainer.runner.summary.rollbacks))
    chosen = client.post("/rollback", json={"version": ids[1]}, headers=AUTH).json()
    assert chosen == {"champion": ids[1]}
    bare = client.post("/rollback", headers=AUTH)  # no body: the previous champion
    assert bare.status_code == 200
    assert bare.json()["champion"] in {v.id for v in registry.versions()}  # the trainer goes on


def test_openapi_documents_what_predict_answers(service):
    from streamlearn.service.app import ColumnAnswers, PredictAnswers

    client, _, _ = service
    spec = client.get("/openapi.json").json()
    answered = spec["paths"]["/predict"]["post"]["responses"]["200"]["content"]
    refs = {s["$ref"] for s in answered["application/json"]["schema"]["anyOf"]}
    assert refs == {"#/components/schemas/PredictAnswers", "#/components/schemas/ColumnAnswers"}
    schemas = spec["components"]["schemas"]
    for name in ("Answer", "ColumnAnswers", "PredictRequest", "LearnRequest"):
        assert schemas[name]["examples"], name
    one = client.post("/predict", json={"id": "q", "features": {"colour": "red"}}).json()
    assert PredictAnswers.model_validate(one).predictions[0].id == "q"  # the schema holds
    columns = client.post("/predict", json={"columns": {"x": [1.0, 2.0]}, "track": False})
    assert ColumnAnswers.model_validate(columns.json()).probabilities is not None


def test_learn_takes_one_event_as_predict_does(service):
    client, trainer, _ = service
    one = {"id": "solo", "features": {"colour": "red"}, "label": 1}
    assert client.post("/learn", json=one, headers=AUTH).json() == {"accepted": 1}
    assert wait_for(lambda: trainer.serving.events_learned == 1)
    both = {"features": {"x": 1.0}, "label": 0, "events": [{"features": {}, "label": 1}]}
    refused = client.post("/learn", json=both, headers=AUTH)
    assert refused.status_code == 422 and "give one of" in refused.text


def test_predictions_never_see_a_half_swapped_model(service):
    """Predictions run while the trainer learns and publishes: each answer is consistent
    with one published copy (same version for a whole batch, probabilities finite)."""
    client, trainer, _ = service
    stop, problems = threading.Event(), []

    def feed():
        while not stop.is_set():
            put(trainer, 500, seed=int(time.time() * 1000) % 1000)
            time.sleep(0.01)

    feeder = threading.Thread(target=feed)
    feeder.start()
    try:
        for _ in range(100):
            answer = client.post(
                "/predict", json={"events": [{"features": {"colour": "red"}}] * 50, "track": False}
            ).json()
            versions = {p["model_version"] for p in answer["predictions"]}
            probabilities = {p["probability"] for p in answer["predictions"]}
            if len(versions) != 1 or len(probabilities) != 1:
                problems.append(answer)
    finally:
        stop.set()
        feeder.join()
    assert not problems
    assert trainer.runner.counters["learned"] > 1000


def test_a_replica_follows_the_registry_champion(service):
    _, trainer, registry = service
    for seed in range(6):
        put(trainer, 400, seed)
    assert wait_for(lambda: len(registry.versions()) >= 2)
    replica = Replica(registry, poll_every=0.05)
    replica.start()
    try:
        first = replica.serving.version
        for seed in range(6, 12):
            put(trainer, 400, seed)
        assert wait_for(lambda: replica.serving.version != first)
        api = TestClient(create_app(replica=replica, registry=registry, token=TOKEN))
        serving = replica.serving  # it may move on while the request is answered
        answer = api.post("/predict", json={"features": {"colour": "red"}}).json()
        newest = replica.serving.version
        assert serving.version <= answer["predictions"][0]["model_version"] <= newest
        assert api.get("/health").json()["role"] == "replica"
        assert (
            api.post("/learn", json={"events": [{"features": {}}]}, headers=AUTH).status_code == 404
        )
    finally:
        replica.stop()


def test_columns_score_many_events_at_once(service):
    client, trainer, _ = service
    features, labels = events(1000, seed=7)
    trainer.events.put(features, labels=labels)
    assert wait_for(lambda: client.get("/health").json()["events_learned"] >= 999)
    body = {
        "columns": {"colour": ["red", "blue", None], "size": [0.1, None, 2]},
        "ids": ["a", "b", "c"],
    }
    answer = client.post("/predict", json=body).json()
    assert answer["ids"] == ["a", "b", "c"] and answer["predictions"][:2] == [True, False]
    one = client.post(
        "/predict", json={"features": {"colour": "red", "size": 0.1}, "track": False}
    ).json()["predictions"][0]
    assert answer["probabilities"][0] == one["probability"]  # same model, same answer
    ragged = client.post("/predict", json={"columns": {"a": [1], "b": [1, 2]}})
    assert ragged.status_code == 422 and "same length" in ragged.json()["detail"]


def test_serve_warms_up_on_a_file_then_learns_over_http(tmp_path):
    from streamlearn.config import load_config_text
    from streamlearn.datasets import elec2
    from streamlearn.service.serve import build_service

    config = load_config_text(
        f"""
[source]
path = "{elec2.path()}"
target = "target"
[checkpoint]
registry = "registry"
[service]
token = "{TOKEN}"
""",
        base=tmp_path,
    )
    app, trainer = build_service(config)
    try:
        client = TestClient(app)
        assert client.get("/health").json()["events_learned"] == elec2.N_EVENTS
        row = dict(next(elec2.stream(limit=1))[0])
        body = {"events": [{"features": row, "label": 1}] * 10}
        assert client.post("/learn", json=body, headers=AUTH).json() == {"accepted": 10}
        assert wait_for(lambda: trainer.runner.counters["learned"] == elec2.N_EVENTS + 10)
        assert trainer.runner.counters["served"] == elec2.N_EVENTS + 10
    finally:
        trainer.stop()


def test_health_says_down_with_a_503_once_the_trainer_has_stopped():
    """A supervisor or a load balancer sees a dead trainer: 503 and why, not a 200."""
    live = LiveEvents()
    trainer = Trainer(Runner(LogisticRegression(bits=8), live, drain_at_end=False), live)
    trainer.start()
    client = TestClient(create_app(trainer=trainer, token="t"))
    alive = client.get("/health")
    assert alive.status_code == 200 and alive.json()["status"] == "ok"
    assert client.get("/livez").status_code == client.get("/readyz").status_code == 200
    trainer.stop()
    down = client.get("/health")
    assert down.status_code == 503
    assert down.json()["status"] == "down" and "trainer has stopped" in down.json()["error"]
    assert client.get("/livez").json() == {"live": False}
    assert client.get("/livez").status_code == client.get("/readyz").status_code == 503


def test_an_event_wider_than_the_limit_is_refused(service):
    """A batch's rows are as wide as its widest event: 1,001 features are a 422."""
    client, _, _ = service
    wide = {"features": {f"k{i}": i for i in range(1001)}}
    answer = client.post("/predict", json=wide)
    assert answer.status_code == 422 and "at most 1000" in answer.text
    assert client.post("/predict", json={"features": {"k": 1}}).status_code == 200


def test_a_trainer_behind_gets_back_pressure_not_unbounded_memory():
    """Events and labels waiting for the trainer are bounded: past the bound a put is a 503
    with Retry-After (tracked predictions too), and once it catches up all is well."""
    live = LiveEvents(max_queued=100)
    trainer = Trainer(Runner(LogisticRegression(bits=8), live, drain_at_end=False), live)
    client = TestClient(create_app(trainer=trainer, token="t"))  # the trainer not started
    auth = {"Authorization": "Bearer t"}
    batch = {"events": [{"features": {"a": i}, "label": i % 2} for i in range(60)]}
    assert client.post("/learn", json=batch, headers=auth).status_code == 200
    full = client.post("/learn", json=batch, headers=auth)
    assert full.status_code == 503 and full.headers["Retry-After"] == "1"
    tracked = {"events": [{"id": f"p{i}", "features": {"a": i}} for i in range(50)]}
    assert client.post("/predict", json=tracked).status_code == 503
    untracked = client.post("/predict", json=tracked | {"track": False})
    assert untracked.status_code == 200  # answering without queueing is never refused
    feedback = {"labels": [{"id": f"p{i}", "label": 1} for i in range(50)]}
    assert client.post("/feedback", json=feedback, headers=auth).status_code == 503
    trainer.start()
    try:
        assert wait_for(lambda: trainer.runner.counters["learned"] == 60)
        assert client.post("/learn", json=batch, headers=auth).status_code == 200
    finally:
        trainer.stop()


def test_live_accounting_counts_each_served_event_once():
    """Tracked predictions, labels for a third of them, the TTL: learned, expired and late
    are each event's own fate, counted once (they tell an operator whether labels come)."""
    live = LiveEvents()
    runner = Runner(LogisticRegression(bits=8), live, ttl=1.5, expiry="drop", drain_at_end=False)
    trainer = Trainer(runner, live, publish_every=0.05)
    trainer.start()
    client = TestClient(create_app(trainer=trainer, token=TOKEN))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        events = [{"id": f"e{i}", "features": {"a": i % 3}} for i in range(300)]
        assert client.post("/predict", json={"events": events}).status_code == 200
        labels = [{"id": f"e{i}", "label": 1} for i in range(100)]
        assert client.post("/feedback", json={"labels": labels}, headers=auth).status_code == 200
        assert wait_for(lambda: runner.counters["learned"] == 100)
        assert (runner.counters["expired"], runner.counters["late"]) == (0, 0)
        assert wait_for(lambda: runner.counters["expired"] == 200)  # at the TTL
        late = {"id": "e250", "label": 0}  # its entry expired: late
        assert client.post("/feedback", json=late, headers=auth).status_code == 200
        assert wait_for(lambda: runner.counters["late"] == 1)
        stray = {"id": "never-served", "label": 1}  # waits a TTL for its event, in vain
        assert client.post("/feedback", json=stray, headers=auth).status_code == 200
        assert wait_for(lambda: runner.counters["unknown"] == 1)
        time.sleep(0.5)
        kinds = ("served", "learned", "expired", "late", "unknown")
        counted = {k: runner.counters[k] for k in kinds}
        assert counted == {"served": 300, "learned": 100, "expired": 200, "late": 1, "unknown": 1}
    finally:
        trainer.stop()


def test_a_pinned_version_serves_whatever_the_trainer_checkpoints(service):
    client, trainer, registry = service
    features, labels = events(3000)

    def learn(start, stop):
        body = {
            "events": [
                {"features": x, "label": y}
                for x, y in zip(features[start:stop], labels[start:stop], strict=True)
            ]
        }
        assert client.post("/learn", json=body, headers=AUTH).status_code == 200
        assert wait_for(lambda: trainer.runner.counters["learned"] == stop)

    def served():
        answer = client.post("/predict", json={"features": features[0], "track": False})
        (prediction,) = answer.json()["predictions"]
        return prediction["model_version"], prediction["probability"]

    learn(0, 1000)  # checkpoints every 500 events
    pinned = registry.tagged("champion").id
    state, _ = registry.load(pinned)
    expected = state.without_parts().to_learner().predict_proba_one(features[0])[True]
    assert client.post(f"/models/{pinned}/pin", headers=AUTH).json() == {"pinned": pinned}
    learn(1000, 2500)  # more checkpoints: none takes the champion tag
    assert wait_for(lambda: served()[0] == pinned)
    assert served() == (pinned, pytest.approx(expected, abs=1e-12))
    assert registry.tags()["champion"] == pinned and registry.pinned() == pinned
    assert registry.versions()[-1].id > pinned  # the trainer checkpointed on
    assert client.post("/unpin", headers=AUTH).json() == {"unpinned": pinned}
    learn(2500, 3000)
    assert wait_for(lambda: registry.tags()["champion"] != pinned)
    assert wait_for(lambda: served()[0] == registry.tags()["champion"])
