"""River interop: our learners in River's pipelines and evaluation, River's estimators in
our runner and service (their pickled snapshots only by explicit consent)."""

from __future__ import annotations

import numpy as np
import pyarrow.csv as pacsv
import pytest
from fastapi.testclient import TestClient
from river import compose, ensemble, evaluate, linear_model, metrics, preprocessing

from streamlearn.base import load_state, save_state
from streamlearn.config import ConfigError, load_config_text
from streamlearn.datasets import elec2
from streamlearn.evaluate import progressive_val_score_one
from streamlearn.interop import river as interop
from streamlearn.models import LinearRegression, LogisticRegression
from streamlearn.registry import LocalRegistry
from streamlearn.runner import Runner
from streamlearn.service.serve import build_service
from streamlearn.streams import FileEvents
from tests.test_service import wait_for


def test_our_learner_scores_the_same_inside_river():
    ours = progressive_val_score_one(LogisticRegression(bits=12), elec2.stream(limit=8000))
    metric = evaluate.progressive_val_score(
        elec2.stream(limit=8000), interop.to_river(LogisticRegression(bits=12)), metrics.LogLoss()
    )
    assert metric.get() == pytest.approx(ours.metrics["log_loss"], rel=1e-9)
    pipeline = compose.Pipeline(
        preprocessing.StandardScaler(), interop.to_river(LinearRegression(bits=10))
    )
    for x, y in elec2.stream(limit=200):
        pipeline.learn_one(x, float(y))
    assert isinstance(pipeline.predict_one(x), float)
    with pytest.raises(ValueError, match="classifiers and regressors"):
        interop.to_river(object())


def test_rivers_meta_models_clone_our_learners_fresh():
    trained = interop.to_river(LogisticRegression(bits=12))
    for x, y in elec2.stream(limit=500):
        trained.learn_one(x, y)
    fresh = trained.clone()
    assert fresh.learner.params() == trained.learner.params()
    assert fresh.predict_proba_one(x) == {False: 0.5, True: 0.5}  # untrained
    assert trained.predict_proba_one(x) != fresh.predict_proba_one(x)
    bagging = ensemble.BaggingClassifier(
        interop.to_river(LogisticRegression(bits=12)), n_models=3, seed=1
    )
    accuracy = evaluate.progressive_val_score(elec2.stream(limit=3000), bagging, metrics.Accuracy())
    assert accuracy.get() > 0.75
    weights = [member.learner.state().arrays["table"] for member in bagging]
    assert len({id(member.learner) for member in bagging}) == 3
    assert not np.array_equal(weights[0], weights[1])  # each learned its own bootstrap


def river_reference(limit=None):
    model = compose.Pipeline(preprocessing.StandardScaler(), linear_model.LogisticRegression())
    out = []
    for x, y in elec2.stream(limit=limit):
        out.append(model.predict_proba_one(x).get(True, 0.0))
        model.learn_one(x, y)
    return np.array(out)


def test_a_river_model_runs_in_our_runner_with_checkpoints(tmp_path):
    make = lambda: interop.RiverModel(  # noqa: E731
        compose.Pipeline(preprocessing.StandardScaler(), linear_model.LogisticRegression())
    )
    registry = LocalRegistry(tmp_path / "registry")
    runner = Runner(
        make(),
        FileEvents(elec2.path(), "target"),
        micro_batch=3000,
        registry=registry,
        checkpoint_every=20_000,
        predictions=tmp_path / "p.csv",
    )
    summary = runner.run()  # writing its pickled checkpoints needs no consent
    served = pacsv.read_csv(tmp_path / "p.csv")["prediction"].to_numpy()
    np.testing.assert_allclose(served, river_reference(), rtol=1e-12)
    assert summary.learned == elec2.N_EVENTS and len(summary.versions) >= 2
    resume = Runner(make(), FileEvents(elec2.path(), "target"), registry=registry)
    with pytest.raises(ValueError, match="pickle"):  # loading one does
        resume.run()
    interop.allow_pickle(True)
    try:
        resumed = Runner(make(), FileEvents(elec2.path(), "target"), registry=registry).run()
        assert resumed.resumed_from == summary.versions[-1] and resumed.served_this_run == 0
        save_state(runner.model.state(), tmp_path / "river.snapshot")
        restored = load_state(tmp_path / "river.snapshot").to_learner()
        x, _ = next(elec2.stream(limit=1))
        assert restored.predict_proba_one(x) == runner.model.predict_proba_one(x)
    finally:
        interop.allow_pickle(False)


def test_a_river_model_serves_over_http(tmp_path):
    config = load_config_text("""
[model]
kind = "river"
river = "preprocessing.StandardScaler | linear_model.LogisticRegression"
allow_pickle = true
[labels]
store = "memory"
[service]
token = "t"
publish_every = 0.05
""")
    app, trainer = build_service(config)
    client = TestClient(app)
    try:
        events = [
            {"features": {"x": float(i % 2), "noise": (i * 7 % 11) / 11}, "label": i % 2}
            for i in range(400)
        ]
        client.post("/learn", json={"events": events}, headers={"Authorization": "Bearer t"})
        assert wait_for(lambda: trainer.serving.events_learned == 400)
        one, zero = (
            client.post("/predict", json={"features": {"x": x, "noise": 0.5}}).json()[
                "predictions"
            ][0]["probability"]
            for x in (1.0, 0.0)
        )
        assert one > 0.7 and zero < 0.3
    finally:
        trainer.stop()
        interop.allow_pickle(False)
    with pytest.raises(ConfigError, match="allow_pickle"):
        load_config_text('[model]\nkind = "river"\nriver = "linear_model.LogisticRegression"')
    with pytest.raises(ValueError, match="unknown River estimator"):
        interop.river_estimator("linear_model.Nope")
