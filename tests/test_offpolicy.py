"""Off-policy estimators against known answers: simulated logs whose true policy values are
known, interval coverage, and the real Open Bandit logs (a uniform policy evaluated on the
Thompson-sampling log must find the click rate the uniform logger measured)."""

from __future__ import annotations

import numpy as np
import pytest

from streamlearn.datasets import obd
from streamlearn.evaluate.offpolicy import (
    doubly_robust,
    evaluate_policy,
    ips,
    snips,
    wilson,
)
from streamlearn.models import LinearBandit

K = 4


def simulated_log(n, rng):
    """Contexts in {0, 1}; a skewed logger; Bernoulli rewards with known means."""
    context = rng.integers(0, 2, n)
    means = np.where(context[:, None] == 1, [0.1, 0.5, 0.2, 0.3], [0.6, 0.1, 0.2, 0.1])
    logger = np.where(context[:, None] == 1, [0.4, 0.1, 0.3, 0.2], [0.1, 0.4, 0.2, 0.3])
    actions = np.array([rng.choice(K, p=p) for p in logger])
    rows = np.arange(n)
    rewards = (rng.random(n) < means[rows, actions]).astype(float)
    target = np.where(context[:, None] == 1, [0.0, 1.0, 0.0, 0.0], [0.7, 0.1, 0.1, 0.1])
    truth = 0.5 * (0.5) + 0.5 * (0.7 * 0.6 + 0.1 * 0.1 + 0.1 * 0.2 + 0.1 * 0.1)
    return actions, rewards, logger[rows, actions], target, means, truth


def test_estimators_are_unbiased_and_their_intervals_cover():
    rng = np.random.default_rng(0)
    covered = {"ips": 0, "snips": 0, "dr": 0}
    values = {name: [] for name in covered}
    for _ in range(200):
        actions, rewards, propensities, target, means, truth = simulated_log(2000, rng)
        rows = np.arange(len(actions))
        noisy_model = means + rng.normal(0, 0.1, means.shape)  # a reward model, not exact
        estimates = {
            "ips": ips(rewards, target[rows, actions], propensities),
            "snips": snips(rewards, target[rows, actions], propensities),
            "dr": doubly_robust(rewards, actions, target, noisy_model, propensities),
        }
        for name, estimate in estimates.items():
            covered[name] += estimate.low <= truth <= estimate.high
            values[name].append(estimate.value)
    for name in covered:
        assert np.mean(values[name]) == pytest.approx(truth, abs=0.005)
        assert 0.90 <= covered[name] / 200 <= 0.99


def test_a_good_reward_model_makes_doubly_robust_tighter():
    rng = np.random.default_rng(1)
    actions, rewards, propensities, target, means, _ = simulated_log(5000, rng)
    rows = np.arange(len(actions))
    plain = ips(rewards, target[rows, actions], propensities)
    robust = doubly_robust(rewards, actions, target, means, propensities)
    assert robust.high - robust.low < 0.8 * (plain.high - plain.low)


def test_wilson_interval_known_values():
    none = wilson(0, 118)
    assert none.value == 0 and none.low == pytest.approx(0, abs=1e-12)
    assert none.high == pytest.approx(1.959964**2 / (118 + 1.959964**2), rel=1e-6)
    half = wilson(50, 100)
    assert (half.low, half.high) == pytest.approx((0.4038, 0.5962), abs=1e-4)


def test_propensities_must_be_positive():
    with pytest.raises(ValueError, match="propensity"):
        ips([1.0], [1.0], [0.0])


def test_a_uniform_policy_on_the_thompson_log_finds_the_uniform_loggers_click_rate():
    uniform = obd.load("random")
    truth = uniform.rewards.mean()  # what the uniform logger measured on its own traffic
    table = evaluate_policy(LinearBandit(range(80), rule="greedy", explore=1.0), obd.load("bts"))
    for name in ("ips", "snips", "dr"):
        assert table[name].low <= truth <= table[name].high
    # On the uniform log, replay keeps about 1 event in 80.
    replayed = evaluate_policy(LinearBandit(range(80), rule="ucb"), uniform)["replay"]
    assert 80 <= replayed.n <= 170
