"""Hedge ensembles against their definition, and learning-rate search."""

from __future__ import annotations

import math

import numpy as np
import pyarrow.csv as pacsv
import pytest

from streamlearn.datasets import elec2
from streamlearn.evaluate.search import bisect_rate, successive_halving
from streamlearn.models import (
    SGD,
    HedgeClassifier,
    HedgeRegressor,
    LinearRegression,
    LogisticRegression,
)


@pytest.fixture(scope="module")
def stream():
    table = pacsv.read_csv(elec2.path())
    return table.drop(["target"]), table["target"].to_numpy().astype(float)


def test_hedge_weights_follow_the_discounted_log_loss(stream):
    X, y = stream
    rates = (0.001, 0.5)
    members = [LogisticRegression(SGD(lr=lr), bits=12) for lr in rates]
    ensemble = HedgeClassifier([m.clone() for m in members], eta=0.5, discount=0.99)
    mixed = ensemble.predict_learn_many(X, y)
    alone = np.column_stack([m.predict_learn_many(X, y) for m in members])
    losses = np.zeros(2)
    expected = np.empty(len(y))
    for e in range(len(y)):  # the definition, event by event
        w = np.exp(-0.5 * (losses - losses.min()))
        expected[e] = (w / w.sum()) @ alone[e]
        p = np.clip(alone[e], 1e-15, 1 - 1e-15)
        losses = 0.99 * losses + np.where(y[e] >= 0.5, -np.log(p), -np.log1p(-p))
    np.testing.assert_allclose(mixed, expected, rtol=1e-12)
    np.testing.assert_allclose(ensemble.losses, losses, rtol=1e-12)


def log_loss(p, y):
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return float(-np.mean(np.where(y >= 0.5, np.log(p), np.log1p(-p))))


def test_an_ensemble_of_rates_is_about_as_good_as_its_best_member(stream):
    X, y = stream
    rates = (0.001, 0.01, 0.1, 1.0)
    members = [LogisticRegression(SGD(lr=lr), bits=12) for lr in rates]
    alone = [log_loss(m.clone().predict_learn_many(X, y), y) for m in members]
    mixed = log_loss(HedgeClassifier(members, eta=2.0).predict_learn_many(X, y), y)
    assert mixed <= min(alone) + 0.01 and mixed < np.mean(alone)


def test_hedge_regressor_and_specs():
    rng = np.random.default_rng(0)
    X = {"a": rng.normal(size=5000)}
    y = 3 * X["a"] + rng.normal(size=5000)
    ensemble = HedgeRegressor(
        [
            {"kind": "LinearRegression", "params": {"bits": 8}},
            LinearRegression(SGD(lr=1e-6), bits=8),
        ]
    )
    predictions = ensemble.predict_learn_many(X, y)
    assert ensemble.weights[0] > 0.99  # the member that learns wins
    assert np.mean((predictions[-1000:] - y[-1000:]) ** 2) < 1.5
    with pytest.raises(ValueError, match="binary"):
        HedgeClassifier([LogisticRegression(), LinearRegression()])
    with pytest.raises(ValueError, match="two"):
        HedgeRegressor([LinearRegression()])


def test_successive_halving_keeps_the_best_half_each_round(stream):
    X, y = stream
    rates = [1e-4, 1e-3, 1e-2, 0.1, 1.0, 3.0]
    result = successive_halving(
        lambda lr: LogisticRegression(SGD(lr=lr), bits=12), X, y, rates=rates, first_round=1000
    )
    seen = result.table[0]["events"]  # the winner's prefix: 1,000 + 2,000 events
    prefix = X.slice(0, seen), y[:seen]
    full = {
        lr: log_loss(LogisticRegression(SGD(lr=lr), bits=12).predict_learn_many(*prefix), prefix[1])
        for lr in rates
    }
    assert seen == 3000 and result.best == min(full, key=full.get)
    rounds = {r["rate"]: r["round"] for r in result.table}
    assert rounds[max(full, key=full.get)] == 1  # the worst left first
    assert [r["events"] for r in result.table if r["round"] == 1] == [1000] * 3
    assert "rate" in str(result)


def test_bisection_finds_the_minimum_of_a_unimodal_loss(stream):
    X, y = stream
    head = X.slice(0, 5000), y[:5000]
    result = bisect_rate(
        lambda lr: LogisticRegression(SGD(lr=lr), bits=12), *head, low=1e-4, high=10.0, steps=10
    )
    grid = {
        lr: log_loss(LogisticRegression(SGD(lr=lr), bits=12).predict_learn_many(*head), head[1])
        for lr in np.geomspace(1e-4, 10, 41)
    }
    best = min(grid.values())
    assert result.table[0]["loss"] <= best + 0.002
    assert len(result.table) <= 12 and math.isfinite(result.best)
