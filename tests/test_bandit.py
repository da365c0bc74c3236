"""Contextual bandits against closed forms and known answers."""

from __future__ import annotations

import numpy as np
import pytest

from streamlearn.models import HybridLinUCB, LinearBandit

ARMS = ["left", "middle", "right"]


def environment(n, seed=0):
    """Three arms; which one pays depends on the context: a known best arm per event."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    means = np.column_stack([0.5 + 0.4 * x[:, 0], 0.5 - 0.4 * x[:, 0], 0.5 + 0.3 * x[:, 1]])
    return x, means


def ctx(row):
    return {"u": float(row[0]), "v": float(row[1])}


def test_linucb_scores_are_the_closed_form():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 2))
    pulled = rng.integers(0, 3, 200)
    rewards = rng.normal(size=200)
    policy = LinearBandit(ARMS, rule="ucb", explore=0.7, alpha=2.0, standardize=False)
    policy.learn_many({"u": X[:, 0], "v": X[:, 1]}, ([ARMS[a] for a in pulled], rewards))
    probe = np.array([0.3, -1.2])
    scores = []
    for arm in range(3):
        phi = np.column_stack([X[pulled == arm], np.ones((pulled == arm).sum())])
        A = 2.0 * np.eye(3) + phi.T @ phi
        theta = np.linalg.solve(A, phi.T @ rewards[pulled == arm])
        z = np.append(probe, 1.0)
        scores.append(z @ theta + 0.7 * np.sqrt(z @ np.linalg.solve(A, z)))
    expected = policy.expected_rewards_one(ctx(probe))
    decision = policy.decide_one(ctx(probe))
    assert decision.arm == ARMS[int(np.argmax(scores))] and decision.propensity == 1.0
    for arm in range(3):
        phi = np.column_stack([X[pulled == arm], np.ones((pulled == arm).sum())])
        theta = np.linalg.solve(2.0 * np.eye(3) + phi.T @ phi, phi.T @ rewards[pulled == arm])
        assert expected[ARMS[arm]] == pytest.approx(np.append(probe, 1.0) @ theta, rel=1e-9)


@pytest.mark.parametrize("rule,explore", [("greedy", 0.3), ("softmax", 0.05), ("thompson", 1.0)])
def test_propensities_are_the_frequencies_of_the_choices(rule, explore):
    policy = LinearBandit(ARMS, rule=rule, explore=explore, draws=400, standardize=False)
    x, means = environment(300)
    pulled = np.arange(300) % 3
    policy.learn_many(
        {"u": x[:, 0], "v": x[:, 1]}, ([ARMS[a] for a in pulled], means[np.arange(300), pulled])
    )
    context = ctx(np.array([1.0, 0.5]))
    first = policy.decide_one(context).probabilities
    assert sum(first.values()) == pytest.approx(1.0)
    n = 4000
    out = policy.decide_many({"u": np.full(n, 1.0), "v": np.full(n, 0.5)}, details=True)
    frequencies = {arm: out.arms.count(arm) / n for arm in ARMS}
    for arm in ARMS:  # what it chose, as often as it said it would
        assert frequencies[arm] == pytest.approx(first[arm], abs=0.035)
    chosen = np.array([ARMS.index(a) for a in out.arms])
    np.testing.assert_allclose(out.propensities, out.probabilities[np.arange(n), chosen])
    if rule == "greedy":
        best = max(first, key=first.get)
        assert first[best] == pytest.approx(0.8) and min(first.values()) == pytest.approx(0.1)
    if rule == "softmax":
        mu = np.array([policy.expected_rewards_one(context)[a] for a in ARMS]) / explore
        softmax = np.exp(mu - mu.max()) / np.exp(mu - mu.max()).sum()
        np.testing.assert_allclose([first[a] for a in ARMS], softmax, rtol=1e-9)


@pytest.mark.parametrize("rule", ["ucb", "thompson", "greedy", "softmax"])
def test_policies_learn_to_choose_the_best_arm(rule):
    x, means = environment(4000, seed=2)
    rng = np.random.default_rng(3)
    explore = {"softmax": 0.05, "thompson": 0.3, "ucb": 0.5, "greedy": 0.05}[rule]
    policy = LinearBandit(ARMS, rule=rule, explore=explore, standardize=False)
    regret = []
    for i in range(4000):
        arm = ARMS.index(policy.decide_one(ctx(x[i])).arm)
        reward = float(rng.random() < np.clip(means[i, arm], 0, 1))
        policy.learn_one(ctx(x[i]), (ARMS[arm], reward))
        regret.append(means[i].max() - means[i, arm])
    random_regret = (means.max(axis=1) - means.mean(axis=1)).mean()
    assert np.mean(regret[-1000:]) < 0.35 * random_regret


def test_arms_come_and_go():
    policy = LinearBandit(["a", "b"], rule="greedy", explore=1.0)  # uniform choices
    policy.retire_arm("a")
    out = policy.decide_many({"u": np.zeros(200)}, details=True)
    assert set(out.arms) == {"b"} and (out.propensities == 1.0).all()
    policy.add_arm("c")
    decision = policy.decide_one({"u": 0.0})
    assert decision.probabilities == {"a": 0.0, "b": 0.5, "c": 0.5}
    policy.learn_one({"u": 1.0}, ("c", 1.0))  # a new arm learns like any other
    assert policy.expected_rewards_one({"u": 1.0})["c"] > 0
    policy.add_arm("a")
    assert policy.arms == ["a", "b", "c"]
    with pytest.raises(KeyError):
        policy.retire_arm("zzz")
    empty = LinearBandit()
    with pytest.raises(ValueError, match="no arm"):
        empty.decide_one({"u": 1.0})


def test_hybrid_linucb_is_the_joint_ridge_regression():
    rng = np.random.default_rng(4)
    n, z = 400, {"left": [1.0, 0.0], "middle": [0.0, 1.0], "right": [0.5, -0.5]}
    X = rng.normal(size=(n, 2))
    pulled = rng.integers(0, 3, n)
    rewards = rng.normal(size=n)
    features = {arm: dict(zip("st", v, strict=True)) for arm, v in z.items()}
    policy = HybridLinUCB(ARMS, shared=["s", "t"], standardize=False, arm_features=features)
    policy.learn_many({"u": X[:, 0], "v": X[:, 1]}, ([ARMS[a] for a in pulled], rewards))
    # One ridge regression (λ = 1) over [z_a, x in arm a's block] gives β and every θ_a.
    design = np.zeros((n, 2 + 3 * 3))
    for i, a in enumerate(pulled):
        design[i, :2] = z[ARMS[a]]
        design[i, 2 + 3 * a : 5 + 3 * a] = [*X[i], 1.0]
    w = np.linalg.solve(np.eye(design.shape[1]) + design.T @ design, design.T @ rewards)
    probe = np.array([0.4, -0.8, 1.0])
    expected = policy.expected_rewards_one(ctx(probe))
    for a, arm in enumerate(ARMS):
        truth = np.array(z[arm]) @ w[:2] + probe @ w[2 + 3 * a : 5 + 3 * a]
        assert expected[arm] == pytest.approx(truth, rel=1e-8, abs=1e-12)


def test_hybrid_without_shared_features_is_disjoint_linucb():
    x, means = environment(500, seed=5)
    pulled = [ARMS[i % 3] for i in range(500)]
    rewards = means[np.arange(500), np.arange(500) % 3]
    hybrid = HybridLinUCB(ARMS, explore=0.4, standardize=False)
    disjoint = LinearBandit(ARMS, rule="ucb", explore=0.4, standardize=False)
    for policy in (hybrid, disjoint):
        policy.learn_many({"u": x[:, 0], "v": x[:, 1]}, (pulled, rewards))
    probes = {"u": x[:50, 0], "v": x[:50, 1]}
    a, b = hybrid.decide_many(probes, details=True), disjoint.decide_many(probes, details=True)
    np.testing.assert_allclose(a.expected, b.expected, rtol=1e-9, atol=1e-12)
    assert a.arms == b.arms


def test_a_new_arm_starts_from_what_arms_like_it_earned():
    rng = np.random.default_rng(6)
    features = {"cheap-1": {"cheap": 1.0}, "cheap-2": {"cheap": 1.0}, "dear-1": {"dear": 1.0}}
    policy = HybridLinUCB(list(features), shared=["cheap", "dear"], arm_features=features)
    arms = rng.choice(list(features), 3000)
    rewards = np.array([float(rng.random() < (0.6 if "cheap" in a else 0.1)) for a in arms])
    policy.learn_many({"u": rng.normal(size=3000)}, (list(arms), rewards))
    policy.add_arm("cheap-3", features={"cheap": 1.0})
    policy.add_arm("dear-2", features={"dear": 1.0})
    expected = policy.expected_rewards_one({"u": 0.0})
    assert expected["cheap-3"] > 0.3 > 0.2 > expected["dear-2"]
