"""A recommender through the service: built from a ``kind = "mf"`` config, it learns
ratings from ``/learn``, predicts pairs with ``/predict`` and answers ``/recommend`` with
the user's top items, leaving out those already rated."""

from __future__ import annotations

import numpy as np
from fastapi.testclient import TestClient

from streamlearn.config.build import build_model
from streamlearn.config.schema import load_config_text
from streamlearn.models import LogisticRegression
from streamlearn.runner import Runner
from streamlearn.service import Trainer
from streamlearn.service.app import create_app
from streamlearn.streams.live import LiveEvents
from tests.test_service import AUTH, TOKEN, wait_for


def ratings(n, seed=0):
    """Users like items of their own parity: 5 stars, else 1."""
    rng = np.random.default_rng(seed)
    users, items = rng.integers(0, 20, n), rng.integers(0, 100, n)
    return [
        {"features": {"user": f"u{u}", "item": f"i{i}"}, "label": 5.0 if u % 2 == i % 2 else 1.0}
        for u, i in zip(users, items, strict=True)
    ]


def serving(model):
    live = LiveEvents()
    trainer = Trainer(Runner(model, live, drain_at_end=False), live, publish_every=0.0)
    trainer.start()
    return trainer, TestClient(create_app(trainer=trainer, token=TOKEN))


def test_a_factorization_from_toml_recommends_unseen_items_it_learned_the_user_likes():
    config = load_config_text('[model]\nkind = "mf"\nn_factors = 4\nlr_latent = 0.05\nseed = 3')
    model = build_model(config)
    assert (type(model).__name__, model.n_factors, model.seed) == ("BiasedMF", 4, 3)
    trainer, client = serving(model)
    try:
        events = ratings(3000)
        for start in range(0, len(events), 1000):
            body = {"events": events[start : start + 1000]}
            assert client.post("/learn", json=body, headers=AUTH).status_code == 200
        assert wait_for(lambda: trainer.serving.events_learned == 3000)
        seen = {e["features"]["item"] for e in events if e["features"]["user"] == "u4"}
        answer = client.post("/recommend", json={"user": "u4", "n": 5}).json()
        items = [entry["item"] for entry in answer["items"]]
        assert len(items) == 5 and not set(items) & seen and answer["model_version"]
        assert all(int(item[1:]) % 2 == 0 for item in items)  # what u4's parity likes
        scores = [entry["score"] for entry in answer["items"]]
        assert scores == sorted(scores, reverse=True)
        again = client.post("/recommend", json={"user": "u4", "n": 5, "exclude_seen": False})
        assert set(entry["item"] for entry in again.json()["items"]) & seen
        pair = {"features": {"user": "u4", "item": "i2"}}
        liked = client.post("/predict", json=pair).json()["predictions"][0]["prediction"]
        pair = {"features": {"user": "u4", "item": "i3"}}
        disliked = client.post("/predict", json=pair).json()["predictions"][0]["prediction"]
        assert liked > 3 > disliked
        too_many = client.post("/recommend", json={"user": "u4", "n": 5000})
        assert too_many.status_code == 422
    finally:
        trainer.stop()


def test_recommend_refuses_a_model_that_is_no_recommender():
    trainer, client = serving(LogisticRegression(bits=8))
    try:
        answer = client.post("/recommend", json={"user": "u1"})
        assert answer.status_code == 409 and "not a recommender" in answer.json()["detail"]
        for hostile in ({"user": ["u1"]}, {"user": "u1", "n": 1e300}, {"user": 1.5}, {}):
            assert client.post("/recommend", json=hostile).status_code == 422, hostile
        for raw in (b'{"user": "\\udcff"}', b'{"user": "\xff"}', b"{"):  # bad Unicode, JSON
            answer = client.post(
                "/recommend", content=raw, headers={"content-type": "application/json"}
            )
            assert answer.status_code in (400, 409, 422), raw  # an answer, never a 500
    finally:
        trainer.stop()
