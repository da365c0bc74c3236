"""Adaptation policies change the model exactly as documented, and drifts are recorded."""

from __future__ import annotations

import numpy as np
import pytest

from streamlearn.adaptation import Background, Boost, Reset, Shrink, adaptive
from streamlearn.datasets import synth
from streamlearn.drift import ADWIN, DDM, WindowErrorRate
from streamlearn.models import FTRL, SGD, AdaGrad, LinearRegression, LogisticRegression
from streamlearn.models.linear.optimizers import ALPHA, INTERCEPT_LR, LR
from tests.test_conformance import LEARNERS, labelled


def flipping_stream(n=6000, seed=0):
    """The label rule inverts at the midpoint: an abrupt concept drift."""
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "blue"], n)
    label = (colour == "red") ^ (np.arange(n) >= n // 2) ^ (rng.random(n) < 0.05)
    return {"colour": colour, "noise": rng.normal(size=n)}, label


@pytest.mark.parametrize(
    "name", ["adaptive-reset", "adaptive-boost", "adaptive-shrink", "adaptive-background"]
)
def test_conformance_streams_do_drift(name):
    model = LEARNERS[name]()
    events, targets = labelled(model)
    for x, y in zip(events, targets, strict=True):
        model.learn_one(x, y)
    assert len(model.drifts) >= 2
    expected = {"swap", "keep"} if name == "adaptive-background" else {model.policy.name}
    assert {d["action"] for d in model.drifts} <= expected


def test_background_model_starts_at_warning_and_wins_after_the_drift():
    columns, label = flipping_stream()
    model = adaptive(
        LogisticRegression(bits=10),
        WindowErrorRate(window=200, threshold=0.3, warning=0.1),
        Background(),
    )
    predictions = model.predict_learn_many(columns, label)
    [drift] = model.drifts
    assert drift["action"] == "swap" and 3000 < drift["index"] < 3200
    after = slice(drift["index"] + 1, drift["index"] + 200)
    assert np.mean((predictions[after] >= 0.5) == label[after]) > 0.9
    assert model.background is None


def test_reset_starts_over_and_recovers_faster():
    columns, label = flipping_stream()
    plain = LogisticRegression(bits=10).predict_learn_many(columns, label)
    model = adaptive(LogisticRegression(bits=10), WindowErrorRate(window=200, threshold=0.2))
    adapted = model.predict_learn_many(columns, label)
    [drift] = model.drifts
    assert 3000 < drift["index"] < 3100 and drift["action"] == "reset"
    assert drift["detector"] == "WindowErrorRate" and drift["statistic"] > 0.2
    after = slice(drift["index"] + 50, drift["index"] + 250)
    assert np.mean((adapted[after] >= 0.5) == label[after]) > 0.9
    assert np.mean((plain[after] >= 0.5) == label[after]) < 0.5
    fresh = LogisticRegression(bits=10)
    fresh.learn_many(
        {k: v[drift["index"] + 1 :] for k, v in columns.items()}, label[drift["index"] + 1 :]
    )
    np.testing.assert_array_equal(model.learner.table, fresh.table)


def test_boost_multiplies_the_rates_then_steps_back():
    policy = Boost(factor=5, hold=10, ramp=8, steps=4)
    assert [policy.multiplier(t) for t in (0, 9, 10, 11, 12, 15, 17, 18, 10**6)] == [
        5,
        5,
        4,
        4,
        3,
        2,
        1,
        1,
        1,
    ]
    model = adaptive(LogisticRegression(SGD(lr=0.1), bits=8), DDM(), policy)
    base = model.learner._hyper[[LR, ALPHA, INTERCEPT_LR]].copy()
    model.since_drift = 0
    model._set_rates()
    np.testing.assert_allclose(model.learner._hyper[[LR, ALPHA, INTERCEPT_LR]], 5 * base)
    model.since_drift = 18
    model._set_rates()
    np.testing.assert_allclose(model.learner._hyper[[LR, ALPHA, INTERCEPT_LR]], base)


def test_boost_raises_ftrl_rates_without_moving_its_weights():
    columns, label = flipping_stream(2000)
    model = adaptive(LogisticRegression(FTRL(l1=0.1), bits=8), DDM(), Boost(factor=4, hold=5))
    model.learner.learn_many(columns, label)
    weights, alpha = model.learner.weights(), model.learner._hyper[ALPHA]
    model.since_drift = 0
    model._set_rates(keep_weights=True)
    assert model.learner._hyper[ALPHA] == pytest.approx(4 * alpha)
    np.testing.assert_allclose(model.learner.weights(), weights, rtol=1e-12, atol=1e-15)
    model.since_drift = 10**6
    model._set_rates(keep_weights=True)
    assert model.learner._hyper[ALPHA] == pytest.approx(alpha)
    np.testing.assert_allclose(model.learner.weights(), weights, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("optimizer", [FTRL(l1=0.1), AdaGrad()])
def test_shrink_keeps_the_weights_and_raises_the_rates(optimizer):
    columns, label = flipping_stream(2000)
    learner = LogisticRegression(optimizer, bits=8)
    learner.learn_many(columns, label)
    weights, accumulators = learner.weights(), learner.table[:, 1].copy()
    Shrink(0.25).on_drift(learner)
    np.testing.assert_allclose(learner.weights(), weights, rtol=1e-12, atol=1e-15)
    expected = accumulators * (0.25 if isinstance(optimizer, FTRL) else 0.25**2)
    np.testing.assert_allclose(learner.table[:, 1], expected)
    with pytest.raises(ValueError, match="FTRL or AdaGrad"):
        adaptive(LogisticRegression(SGD()), DDM(), Shrink())


def test_bad_configurations_are_refused():
    with pytest.raises(ValueError, match="unknown policy"):
        adaptive(LogisticRegression(bits=8), DDM(), "pray")
    with pytest.raises(ValueError):
        Boost(factor=0)
    with pytest.raises(ValueError):
        Shrink(1.5)
    with pytest.raises(ValueError, match="DriftDetector"):
        adaptive(LinearRegression(bits=8), {"kind": "os.system"}, Reset())


def test_brier_signal_feeds_squared_errors():
    model = adaptive(LogisticRegression(bits=8), ADWIN(), Reset(), signal="brier")
    errors = model._errors(np.array([0.9, 0.2]), np.array([1.0, 1.0]))
    np.testing.assert_allclose(errors, [0.01, 0.64])
    assert model.params()["signal"] == "brier"
    with pytest.raises(ValueError, match="signal"):
        adaptive(LogisticRegression(bits=8), ADWIN(), Reset(), signal="vibes")


def test_log_loss_signal_catches_a_drift_that_barely_moves_the_error_rate():
    model = adaptive(LogisticRegression(bits=8), ADWIN(), Reset(), signal="log_loss")
    losses = model._errors(np.array([0.9, 0.2, 0.0]), np.array([1.0, 1.0, 1.0]))
    np.testing.assert_allclose(losses, [-np.log(0.9), -np.log(0.2), -np.log(1e-15)])
    with pytest.raises(ValueError, match="regressors"):
        adaptive(LinearRegression(bits=8), ADWIN(), Reset(), signal="log_loss")
    # The click stream's drift (at its midpoint) hardly changes how often FTRL is wrong, but
    # its log loss jumps: ADWIN on rises of the log loss fires once, right after it.
    clicks = synth.click_stream(240_000, seed=1)
    X, y = clicks.drop(["click"]), clicks.column("click").to_numpy()
    watched = adaptive(LogisticRegression(bits=18), ADWIN(direction="up"), Reset(), "log_loss")
    watched.learn_many(X, y)
    assert [120_000 < d["index"] < 125_000 for d in watched.drifts] == [True]
    on_errors = adaptive(LogisticRegression(bits=18), ADWIN(direction="up"), Reset())
    on_errors.learn_many(X, y)
    assert on_errors.drifts == []
