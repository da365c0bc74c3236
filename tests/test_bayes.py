"""Bayesian online linear regression against the closed-form posterior, and its behaviour
under drift, capacity limits and in the runner."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from streamlearn.models import BayesianLinearRegression
from streamlearn.runner import Runner
from streamlearn.streams import FileEvents

ALPHA, BETA = 2.0, 4.0


def data(n, seed=0, coefs=(1.5, -2.0, 0.5, 0.0, 3.0)):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(coefs)))
    y = X @ np.array(coefs) + 0.7 + rng.normal(0, 0.5, n)
    return X, y


def columns(X):
    return {f"f{j}": X[:, j] for j in range(X.shape[1])}


def closed_form(X, y, tests):
    """Bishop (3.53–3.59): S = (αI + βΦ'Φ)^-1, m = βSΦ'y on features plus an intercept."""
    phi = np.column_stack([X, np.ones(len(X))])
    cov = np.linalg.inv(ALPHA * np.eye(phi.shape[1]) + BETA * phi.T @ phi)
    mean = BETA * cov @ phi.T @ y
    psi = np.column_stack([tests, np.ones(len(tests))])
    return psi @ mean, 1 / BETA + np.einsum("ij,jk,ik->i", psi, cov, psi)


@pytest.mark.parametrize("one_by_one", [True, False])
def test_the_online_posterior_equals_the_closed_form(one_by_one):
    X, y = data(2000)
    model = BayesianLinearRegression(alpha=ALPHA, beta=BETA, standardize=False)
    if one_by_one:
        for row, target in zip(X, y, strict=True):
            model.learn_one({f"f{j}": v for j, v in enumerate(row)}, target)
    else:
        model.learn_many(columns(X), y)
    tests, _ = data(50, seed=1)
    means, variances = model.predict_dist_many(columns(tests))
    expected_means, expected_variances = closed_form(X, y, tests)
    np.testing.assert_allclose(means, expected_means, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(variances, expected_variances, rtol=1e-9)
    first = model.predict_dist_one({f"f{j}": v for j, v in enumerate(tests[0])})
    assert first.mean == pytest.approx(expected_means[0], rel=1e-9)
    low, high = first.interval(0.95)
    assert high - low == pytest.approx(2 * 1.959964 * np.sqrt(expected_variances[0]), rel=1e-6)


def test_progressive_predictions_are_the_closed_form_on_the_past():
    X, y = data(300, seed=3)
    model = BayesianLinearRegression(alpha=ALPHA, beta=BETA, standardize=False)
    predictions = model.predict_learn_many(columns(X), y)
    for t in (1, 17, 299):  # each event is predicted from the posterior on those before it
        expected, _ = closed_form(X[:t], y[:t], X[t : t + 1])
        assert predictions[t] == pytest.approx(expected[0], rel=1e-9)


def test_intervals_cover_as_promised():
    X, y = data(20_000, seed=4)
    model = BayesianLinearRegression(alpha=1.0, beta=1 / 0.25, standardize=False)  # true noise
    model.learn_many(columns(X[:10_000]), y[:10_000])
    means, variances = model.predict_dist_many(columns(X[10_000:]))
    inside = np.abs(y[10_000:] - means) <= 1.959964 * np.sqrt(variances)
    assert inside.mean() == pytest.approx(0.95, abs=0.01)


def test_forgetting_follows_an_abrupt_change():
    X1, y1 = data(3000, seed=5)
    X2, y2 = data(3000, seed=6, coefs=(-1.5, 2.0, -0.5, 1.0, -3.0))
    X, y = np.vstack([X1, X2]), np.concatenate([y1, y2])
    errors = {}
    for forgetting in (1.0, 0.99):
        model = BayesianLinearRegression(forgetting=forgetting, standardize=False)
        predictions = model.predict_learn_many(columns(X), y)
        errors[forgetting] = np.abs(predictions - y)[3500:].mean()
    assert errors[0.99] < 0.6 * errors[1.0]
    steady = BayesianLinearRegression(forgetting=0.99, standardize=False)
    steady.learn_many(columns(X1), y1)  # persistent excitation: variances stay bounded
    assert np.diag(steady.cov).max() <= 1.0 + 1e-12


def test_the_diagonal_variant_learns_sparse_hashed_features():
    rng = np.random.default_rng(7)
    users = rng.integers(0, 5000, 50_000).astype(str)
    effect = {u: rng.normal() for u in np.unique(users)}
    y = np.array([effect[u] for u in users]) + rng.normal(0, 0.3, len(users))
    model = BayesianLinearRegression(covariance="diagonal", bits=18, beta=1 / 0.09)
    predictions, _ = None, None
    predictions = model.predict_learn_many({"user": users}, y)
    late = slice(40_000, None)
    assert np.sqrt(np.mean((predictions[late] - y[late]) ** 2)) < 0.45  # noise is 0.3
    _, variances = model.predict_dist_many({"user": np.array(["never-seen", users[-1]])})
    assert variances[0] > variances[1]  # an unseen user is uncertain


def test_features_beyond_the_capacity_stay_at_the_prior():
    model = BayesianLinearRegression(capacity=3, alpha=1.0, beta=1.0, standardize=False)
    for i in range(200):
        model.learn_one({"a": 1.0, "b": float(1 + i % 3), "c": 1.0, "d": 5.0}, 2.0)
    assert model.n_features == 3
    base = model.predict_dist_one({"a": 1.0, "b": 1.0, "c": 1.0})
    extra = model.predict_dist_one({"a": 1.0, "b": 1.0, "c": 1.0, "d": 2.0})
    assert extra.mean == base.mean and extra.variance == pytest.approx(base.variance + 4.0)


def test_the_runner_serves_it_with_delayed_labels(tmp_path):
    X, y = data(3000, seed=8)
    path = tmp_path / "stream.csv"
    pacsv.write_csv(pa.table(columns(X) | {"y": y}), path)
    reference = BayesianLinearRegression(standardize=False)
    expected = reference.predict_learn_many(columns(X), y)
    runner = Runner(
        BayesianLinearRegression(standardize=False),
        FileEvents(path, "y"),
        micro_batch=700,
        predictions=tmp_path / "predictions.csv",
    )
    summary = runner.run()
    np.testing.assert_array_equal(runner.model.cov, reference.cov)
    served = np.loadtxt(tmp_path / "predictions.csv", delimiter=",", skiprows=1, usecols=2)
    np.testing.assert_allclose(served, expected, rtol=1e-12)
    delayed = Runner(BayesianLinearRegression(standardize=False), FileEvents(path, "y"), delay=50)
    late = delayed.run()
    assert late.learned == summary.learned == 3000 and late.metrics["mae"] > summary.metrics["mae"]
