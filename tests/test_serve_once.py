"""Serve once: what a client got from ``/predict`` is what the prediction log holds, what
waits in the label join, what is scored and what is learned — the trainer never predicts or
encodes a served event a second time."""

from __future__ import annotations

import csv
import threading

import numpy as np
from fastapi.testclient import TestClient

from streamlearn.base.losses import log_losses
from streamlearn.models import LogisticRegression
from streamlearn.registry import LocalRegistry
from streamlearn.runner import Runner
from streamlearn.service import Trainer
from streamlearn.service.app import create_app
from streamlearn.streams.live import LiveEvents
from tests.test_service import AUTH, TOKEN, events, wait_for


def test_predictions_logged_joined_scored_and_learned_are_the_ones_served(tmp_path):
    live = LiveEvents()
    log = tmp_path / "predictions.csv"
    runner = Runner(
        LogisticRegression(bits=12),  # numbers standardized online: the scaler moves too
        live,
        ttl=600.0,
        registry=LocalRegistry(tmp_path / "registry"),
        checkpoint_every=300,
        micro_batch=64,
        drain_at_end=False,
        predictions=log,
    )
    runner.champion.recent.keeps_rows = True  # the rows learned, to compare (see Recent)
    trainer = Trainer(runner, live, publish_every=0.0)  # a new serving copy at every batch
    served_records = []
    put = live.put

    def spy(events, ids=None, labels=None, served=None):  # observes what the service queues
        if served is not None:
            served_records.append((list(ids), served))
        return put(events, ids=ids, labels=labels, served=served)

    live.put = spy
    trainer.start()
    client = TestClient(create_app(trainer=trainer, token=TOKEN))
    stop = threading.Event()
    posted = []

    def keep_learning():
        seed = 0
        while not stop.is_set():
            features, labels = events(50, seed)
            body = [{"features": f, "label": y} for f, y in zip(features, labels, strict=True)]
            posted.append(client.post("/learn", json={"events": body}, headers=AUTH).json())
            seed += 1

    feeder = threading.Thread(target=keep_learning)
    try:
        feeder.start()
        assert wait_for(lambda: trainer.serving.events_learned > 200)
        probes, labels = events(200, seed=99)
        answers = {}
        for k, probe in enumerate(probes):
            body = {"events": [{"id": f"p{k}", "features": probe}]}
            [answer] = client.post("/predict", json=body).json()["predictions"]
            answers[answer["id"]] = answer
        stop.set()
        feeder.join()
        versions = {a["model_version"] for a in answers.values()}
        assert "" not in versions and len(versions) > 1  # served while the model moved on
        learned = sum(p["accepted"] for p in posted)

        def served_and_learned():
            counters = trainer.runner.counters
            return counters["served"], counters["learned"]

        # Every event served, those of /learn learned; the probes wait for their labels.
        assert wait_for(lambda: served_and_learned() == (learned + 200, learned))
        feedback = [{"id": f"p{k}", "label": y} for k, y in enumerate(labels)]
        assert client.post("/feedback", json={"labels": feedback}, headers=AUTH).status_code == 200
        assert wait_for(lambda: trainer.runner.counters["learned"] == learned + 200)
    finally:
        stop.set()
        trainer.stop()

    # The prediction log: exactly what each client received, with its version.
    with open(log) as fh:
        logged = {row["id"]: row for row in csv.DictReader(fh) if row["id"] in answers}
    assert len(logged) == 200
    for event_id, answer in answers.items():
        assert float(logged[event_id]["prediction"]) == answer["probability"]
        assert logged[event_id]["version"] == answer["model_version"]
    # Scored and learned: the last 200 labels learned are the probes', in feedback order;
    # each scored the prediction its client got, and was learned from the row it was served.
    recent = trainer.runner.champion.recent
    served = [answers[f"p{k}"]["probability"] for k in range(200)]
    np.testing.assert_array_equal(recent.targets[-200:], labels)
    np.testing.assert_array_equal(recent.losses[-200:], log_losses(np.array(labels), served))
    rows_served = {
        event_id: (record.rows.hashes[i], record.rows.values[i])
        for ids, record in served_records
        for i, event_id in enumerate(ids)
    }
    learned_rows = recent.stacked_rows()
    for k in range(200):
        hashes, values = rows_served[f"p{k}"]
        width = len(hashes)
        np.testing.assert_array_equal(learned_rows.hashes[-200 + k][:width], hashes)
        np.testing.assert_array_equal(learned_rows.values[-200 + k][:width], values)
        assert not learned_rows.values[-200 + k][width:].any()  # only padding beyond


def test_a_fraud_transaction_is_learned_with_the_entity_features_it_was_served_with():
    from streamlearn.models import FraudDetector
    from streamlearn.models.fraud import ENTITY_SLOT, Z_SLOT

    live = LiveEvents()
    detector = FraudDetector(entity="card", time="t", amount="amount", min_frauds=0, bits=10)
    runner = Runner(detector, live, ttl=600.0, micro_batch=64, drain_at_end=False)
    runner.champion.recent.keeps_rows = True  # the rows learned, to compare (see Recent)
    trainer = Trainer(runner, live, publish_every=3600.0)  # the serving copy stays behind
    served_records = []
    put = live.put

    def spy(events, ids=None, labels=None, served=None):
        if served is not None:
            served_records.append(served)
        return put(events, ids=ids, labels=labels, served=served)

    live.put = spy
    trainer.start()
    client = TestClient(create_app(trainer=trainer, token=TOKEN))
    rng = np.random.default_rng(3)
    try:
        history = [
            {"features": {"card": "c1", "t": float(t), "amount": float(a)}, "label": 0}
            for t, a in enumerate(rng.normal(10, 1, 200))
        ]
        assert client.post("/learn", json={"events": history}, headers=AUTH).status_code == 200
        assert wait_for(lambda: trainer.runner.counters["learned"] == 200)
        probe = {"id": "tx", "features": {"card": "c1", "t": 200.0, "amount": 500.0}}
        assert client.post("/predict", json=probe).status_code == 200
        later = [
            {"features": {"card": "c1", "t": 201.0 + t, "amount": float(a)}, "label": 0}
            for t, a in enumerate(rng.normal(500, 1, 50))  # the card's history moves on
        ]
        assert client.post("/learn", json={"events": later}, headers=AUTH).status_code == 200
        feedback = {"id": "tx", "label": 1}
        assert client.post("/feedback", json=feedback, headers=AUTH).status_code == 200
        assert wait_for(lambda: trainer.runner.counters["learned"] == 251)
    finally:
        trainer.stop()
    [served] = served_records
    recent = trainer.runner.champion.recent
    [probe_at] = np.flatnonzero(recent.targets == 1)  # the one fraud: the probe
    rows = recent.stacked_rows()
    learned_hashes, learned_values = rows.hashes[probe_at], rows.values[probe_at]
    width = served.rows.hashes.shape[1]
    features = served.rows.hashes[0] != ENTITY_SLOT
    np.testing.assert_array_equal(learned_hashes[:width], served.rows.hashes[0])
    np.testing.assert_array_equal(learned_values[:width][features], served.rows.values[0][features])
    z = served.rows.values[0][served.rows.hashes[0] == Z_SLOT]
    assert z == learned_values[learned_hashes == Z_SLOT]


def test_rows_from_a_featurizer_of_other_settings_are_served_again_by_the_lane():
    """After a promotion the champion may hash otherwise than the copy that answered: the
    lane then encodes and predicts those events itself (and names its own version)."""
    from streamlearn.runner.lane import Lane
    from streamlearn.service.trainer import Serving
    from streamlearn.streams.batch import EventBatch
    from streamlearn.streams.decode import event_columns

    features, _ = events(20, seed=5)
    copy = Serving(LogisticRegression(bits=10), "v000007", 0, 0.0)
    scores, served = copy.answer(features)
    ids = np.array([f"e{k}" for k in range(20)], dtype=object)
    offsets = np.arange(1, 21)
    batch = EventBatch(
        event_columns(features), np.full(20, np.nan), ids, offsets, offsets * 1.0, served=served
    )
    same, other = Lane(LogisticRegression(bits=10)), Lane(LogisticRegression(bits=12))
    np.testing.assert_array_equal(same.step(batch), scores)
    assert set(same.versions_of(batch)) == {"v000007"}
    mine = other.step(batch)
    expected = LogisticRegression(bits=12).predict_proba_many(event_columns(features))
    np.testing.assert_allclose(mine, expected)
    assert set(other.versions_of(batch)) == {"unsaved"}
