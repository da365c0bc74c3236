"""Bandits and Bayesian regression in the runner and the service: configs, /decide with
rewards as feedback by decision id, the decision log."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from fastapi.testclient import TestClient

from streamlearn.config import ConfigError, build_runner, load_config_text
from streamlearn.datasets import obd
from streamlearn.models import BayesianLinearRegression, LinearBandit
from streamlearn.runner import Runner
from streamlearn.service.serve import build_service
from streamlearn.streams import FileEvents
from tests.test_service import wait_for

CONTEXT = list(obd.CONTEXT)


def logged_file(tmp_path, n=3000):
    log = obd.load("random", limit=n)
    table = pa.table(
        {
            **{k: list(v) for k, v in log.contexts.items()},
            "item_id": log.actions,
            "click": log.rewards,
        }
    )
    path = tmp_path / "obd.csv"
    pacsv.write_csv(table, path)
    return path, log


def test_the_runner_learns_a_bandit_from_a_log_as_learn_many_does(tmp_path):
    path, log = logged_file(tmp_path)
    runner = Runner(
        LinearBandit(range(80), capacity=32, arm_column="item_id"),
        FileEvents(path, "click", categorical=CONTEXT),
        micro_batch=512,
    )
    summary = runner.run()
    reference = LinearBandit(range(80), capacity=32, arm_column="item_id")
    reference.learn_many(log.contexts, (log.actions, log.rewards))
    np.testing.assert_array_equal(runner.model.means, reference.means)
    np.testing.assert_array_equal(runner.model.covs, reference.covs)
    assert summary.learned == 3000 and "mae" in summary.metrics


def test_configs_build_bayesian_and_bandit_models(tmp_path):
    path, _ = logged_file(tmp_path, 500)
    bandit = build_runner(
        load_config_text(f"""
[source]
path = "{path}"
target = "click"
categorical = {json.dumps(CONTEXT)}
[model]
kind = "bandit"
arms = {json.dumps(list(range(80)))}
rule = "thompson"
arm_column = "item_id"
capacity = 32
""")
    )
    assert isinstance(bandit.model, LinearBandit) and bandit.model.rule == "thompson"
    assert bandit.run().learned == 500
    bayes = build_runner(
        load_config_text(f"""
[source]
path = "{path}"
target = "click"
categorical = {json.dumps([*CONTEXT, "item_id"])}
[model]
kind = "bayesian"
beta = 20.0
covariance = "diagonal"
""")
    )
    assert isinstance(bayes.model, BayesianLinearRegression)
    assert bayes.model.covariance == "diagonal" and bayes.run().learned == 500
    with pytest.raises(ConfigError, match="arms"):
        load_config_text('[model]\nkind = "bandit"')
    with pytest.raises(ConfigError, match="linear"):
        text = f'[source]\npath = "{path}"\ntarget = "click"\n[model]\nkind = "bayesian"\n'
        build_runner(load_config_text(text + '[drift]\ndetector = "DDM"'))


SERVICE = """
[model]
kind = "bandit"
arms = ["red", "blue", "green"]
rule = "greedy"
explore = 0.2
[labels]
ttl = 60
store = "memory"
[output]
decisions = "decisions.jsonl"
[checkpoint]
registry = "registry"
every_seconds = 0.2
[service]
token = "t"
publish_every = 0.05
"""


def test_decide_then_reward_by_decision_id(tmp_path):
    config = load_config_text(SERVICE, base=tmp_path)
    app, trainer = build_service(config)
    client, auth = TestClient(app), {"Authorization": "Bearer t"}
    try:
        answers = [
            client.post("/decide", json={"context": {"user": f"u{i % 3}"}}).json()
            for i in range(300)
        ]
        assert {a["arm"] for a in answers} == {"red", "blue", "green"}
        assert all(0 < a["propensity"] <= 1 for a in answers)
        # All arms tie before any reward (1/3 each); then ε/K and 1 - ε + ε/K.
        allowed = {round(1 / 3, 4), round(0.2 / 3, 4), round(0.8 + 0.2 / 3, 4)}
        assert {round(a["propensity"], 4) for a in answers} <= allowed
        # Users like blue: reward it, not the others.
        rewards = [{"id": a["id"], "label": float(a["arm"] == "blue")} for a in answers]
        assert client.post("/feedback", json={"labels": rewards}, headers=auth).json() == {
            "accepted": 300
        }
        assert wait_for(lambda: trainer.runner.counters["learned"] == 300, timeout=30), (
            trainer.runner.counters,
            trainer.problems(),
        )
        assert wait_for(
            lambda: (
                client.post("/decide", json={"context": {"user": "u1"}}).json()["model_version"]
                != answers[0]["model_version"]
            )
        )
        later = [
            client.post("/decide", json={"id": f"d{i}", "context": {"user": "u1"}}).json()
            for i in range(200)
        ]
        assert sum(a["arm"] == "blue" for a in later) > 150  # greedy now picks blue
        assert later[0]["id"] == "d0"
        assert client.post("/predict", json={"features": {"user": "u1"}}).status_code == 409
        assert client.post("/decide", json={"context": {"user": [1]}}).status_code == 422
    finally:
        trainer.stop()
    logged = [json.loads(line) for line in (tmp_path / "decisions.jsonl").read_text().splitlines()]
    assert len(logged) > 500 and logged[0]["context"] == {"user": "u0"}
    assert [r["id"] for r in logged[-200:]] == [f"d{i}" for i in range(200)]
    assert logged[0]["propensity"] == answers[0]["propensity"] and "time" in logged[0]


def test_a_hybrid_linucb_decides_and_learns_its_rewards_over_http(tmp_path):
    """Arms with features of their own (``shared``, ``arm_features``): a hybrid LinUCB
    through /decide and /feedback, its shared part learning what blue arms earn."""
    hybrid = SERVICE.replace('rule = "greedy"\nexplore = 0.2', "explore = 0.1").replace(
        "[labels]",
        'shared = ["blue"]\narm_features = {blue = {blue = 1.0}, green = {blue = 0.5}}\n[labels]',
    )
    app, trainer = build_service(load_config_text(hybrid, base=tmp_path))
    client, auth = TestClient(app), {"Authorization": "Bearer t"}
    try:
        assert type(trainer.runner.model).__name__ == "HybridLinUCB"
        answers = [
            client.post("/decide", json={"context": {"user": f"u{i % 3}"}}).json()
            for i in range(300)
        ]
        assert all(a["model_version"] and 0 < a["propensity"] <= 1 for a in answers)
        rewards = [{"id": a["id"], "label": float(a["arm"] == "blue")} for a in answers]
        assert client.post("/feedback", json={"labels": rewards}, headers=auth).json() == {
            "accepted": 300
        }
        assert wait_for(lambda: trainer.runner.counters["learned"] == 300, timeout=30)
        model = trainer.runner.model
        assert (model.a0_inv @ model.b0)[0] > 0  # the shared part: being blue pays
        expected = model.expected_rewards_one({"user": "u1"})
        assert expected["blue"] > expected["red"]
    finally:
        trainer.stop()
