"""The compiled optimizers against plain-Python transcriptions of their published updates."""

from __future__ import annotations

import math

import numpy as np
import pytest

from streamlearn.models import FTRL, SGD, AdaGrad, LinearRegression, LogisticRegression


def stream(n=400, seed=3):
    rng = np.random.default_rng(seed)
    events = [{"a": f"v{rng.integers(0, 15)}", "b": f"w{rng.integers(0, 5)}"} for _ in range(n)]
    labels = [float((x["a"] in ("v1", "v2", "v3")) ^ (rng.random() < 0.1)) for x in events]
    return events, labels


def active(model, x):
    event = model.features.encode_one(x)
    slots = (event.hashes & model.features.mask).tolist()
    return [(i, v) for i, v in zip(slots, event.values.tolist(), strict=True) if v != 0.0]


def sigmoid(m):
    m = min(max(m, -35.0), 35.0)
    return 1.0 / (1.0 + math.exp(-m))


def test_ftrl_proximal_matches_mcmahan_algorithm_1():
    alpha, beta, l1, l2 = 0.2, 1.0, 0.3, 0.1
    model = LogisticRegression(FTRL(alpha=alpha, beta=beta, l1=l1, l2=l2), bits=12)
    z, n, b = {}, {}, 0.0
    events, labels = stream()
    for x, y in zip(events, labels, strict=True):
        feats = active(model, x)
        w = {}
        for i, _ in feats:
            zi, ni = z.get(i, 0.0), n.get(i, 0.0)
            w[i] = (
                0.0
                if abs(zi) <= l1
                else -(zi - math.copysign(l1, zi)) / ((beta + math.sqrt(ni)) / alpha + l2)
            )
        p = sigmoid(b + sum(w[i] * v for i, v in feats))
        assert model.predict_proba_one(x)[True] == pytest.approx(p, abs=1e-12)
        model.learn_one(x, y)
        b -= model.intercept_lr * (p - y)
        for i, v in feats:
            g = (p - y) * v
            ni = n.get(i, 0.0)
            sigma = (math.sqrt(ni + g * g) - math.sqrt(ni)) / alpha
            z[i] = z.get(i, 0.0) + g - sigma * w[i]
            n[i] = ni + g * g
    assert model.sparsity > 0.99  # L1 keeps all but a few weights at exactly zero


def test_sgd_and_adagrad_match_their_updates():
    events, labels = stream()
    for opt in (SGD(lr=0.1, l2=0.01), AdaGrad(lr=0.2)):
        model = LinearRegression(opt, bits=12, standardize=False, scale_target=False)
        w, acc, b = {}, {}, 0.0
        for x, y in zip(events, labels, strict=True):
            feats = active(model, x)
            pred = b + sum(w.get(i, 0.0) * v for i, v in feats)
            assert model.predict_one(x) == pytest.approx(pred, abs=1e-12)
            model.learn_one(x, y)
            b -= model.intercept_lr * (pred - y)
            for i, v in feats:
                g = (pred - y) * v + opt.l2 * w.get(i, 0.0)
                if isinstance(opt, AdaGrad):
                    acc[i] = acc.get(i, 0.0) + g * g
                    w[i] = w.get(i, 0.0) - opt.lr * g / (math.sqrt(acc[i]) + opt.eps)
                else:
                    w[i] = w.get(i, 0.0) - opt.lr * g


def test_l1_makes_ftrl_sparser():
    events, labels = stream(2000)
    rng = np.random.default_rng(0)
    for x in events:  # rare, uninformative values: L1 should keep their weights at zero
        x["noise"] = f"n{rng.integers(0, 1000)}"
    dense = LogisticRegression(FTRL(l1=0.0), bits=12)
    sparse = LogisticRegression(FTRL(l1=2.0), bits=12)
    for model in (dense, sparse):
        for x, y in zip(events, labels, strict=True):
            model.learn_one(x, y)
    assert np.count_nonzero(sparse.weights()) < np.count_nonzero(dense.weights())


def test_logistic_regression_learns_a_separable_rule():
    events, labels = stream(3000)
    model = LogisticRegression(bits=12)
    predictions = model.predict_learn_many(
        {"a": np.array([x["a"] for x in events]), "b": np.array([x["b"] for x in events])},
        np.array(labels),
    )
    late = slice(2000, None)
    accuracy = np.mean((predictions[late] >= 0.5) == np.array(labels)[late])
    assert accuracy > 0.85  # 10% of labels are flipped: 0.9 is the best possible


def test_target_scaling_makes_regression_unit_free():
    events, labels = stream(1500)
    small = LinearRegression(bits=12)
    large = LinearRegression(bits=12)
    for i, (x, y) in enumerate(zip(events, labels, strict=True)):
        p_small, p_large = small.predict_one(x), large.predict_one(x)
        if i >= 1:  # the first prediction is 0 in any units
            assert p_large == pytest.approx(5e4 + 1000 * p_small, rel=1e-9)
        small.learn_one(x, y)
        large.learn_one(x, 5e4 + 1000 * y)


def test_ftrl_rate_floor_stops_the_per_coordinate_decay():
    events, labels = stream(3000)
    floored = LogisticRegression(FTRL(alpha=0.4, beta=1.0, rate_floor=0.05), bits=12)
    free = LogisticRegression(FTRL(alpha=0.4, beta=1.0), bits=12)
    for model in (floored, free):
        model.learn_many(
            {"a": np.array([x["a"] for x in events]), "b": np.array([x["b"] for x in events])},
            np.array(labels),
        )
    cap = 0.4 / 0.05 - 1.0  # alpha / floor - beta
    assert floored.table[:, 1].max() == pytest.approx(cap)
    assert free.table[:, 1].max() > cap  # without the floor the rates keep decaying
    assert FTRL(rate_floor=0.0).hyper()[-1] == np.inf
