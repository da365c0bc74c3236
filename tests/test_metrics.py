"""Streaming metrics against direct computations on the whole arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest

from streamlearn.evaluate import (
    MAE,
    R2,
    RMSE,
    ROCAUC,
    Accuracy,
    CrossEntropy,
    LogLoss,
    MacroF1,
    MulticlassAccuracy,
    default_metrics,
)


def exact_auc(y, p):
    pos, neg = p[y == 1], p[y == 0]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return wins / (len(pos) * len(neg))


@pytest.fixture
def scores():
    rng = np.random.default_rng(0)
    y = (rng.random(3000) < 0.3).astype(float)
    p = np.clip(0.3 + 0.3 * (y - 0.3) + rng.normal(0, 0.2, 3000), 0, 1)
    return y, p


def test_whole_stream_metrics(scores):
    y, p = scores
    expected = {
        Accuracy: np.mean((p >= 0.5) == (y == 1)),
        LogLoss: -np.mean(
            y * np.log(np.clip(p, 1e-15, 1)) + (1 - y) * np.log(np.clip(1 - p, 1e-15, 1))
        ),
        MAE: np.mean(np.abs(y - p)),
        RMSE: math.sqrt(np.mean((y - p) ** 2)),
    }
    for kind, value in expected.items():
        metric = kind()
        metric.update_many(y[:1000], p[:1000])
        metric.update_many(y[1000:], p[1000:])
        assert metric.get() == pytest.approx(value, rel=1e-12)
    auc = ROCAUC()
    auc.update_many(y, p)
    assert auc.get() == pytest.approx(exact_auc(y, p), abs=1e-4)


@pytest.mark.parametrize("kind", [Accuracy, LogLoss, MAE, RMSE, ROCAUC])
def test_rolling_metrics_equal_the_metric_on_the_last_window(kind, scores):
    y, p = scores
    rolling = kind(window=250)
    for start in range(0, 1900, 190):  # batches smaller and larger than nothing in particular
        rolling.update_many(y[start : start + 190], p[start : start + 190])
    for i in range(1900, 2000):  # and single events
        rolling.update(y[i], p[i])
    whole = kind()
    whole.update_many(y[1750:2000], p[1750:2000])
    assert rolling.get() == pytest.approx(whole.get(), rel=1e-9, abs=1e-12)
    big = kind(window=100)
    big.update_many(y, p)  # one batch longer than the window
    last = kind()
    last.update_many(y[-100:], p[-100:])
    assert big.get() == pytest.approx(last.get(), rel=1e-9, abs=1e-12)


def test_update_equals_update_many(scores):
    y, p = scores
    for kind in (Accuracy, LogLoss, ROCAUC):
        a, b = kind(window=500), kind(window=500)
        a.update_many(y[:800], p[:800])
        for yi, pi in zip(y[:800], p[:800], strict=True):
            b.update(yi, pi)
        assert a.get() == pytest.approx(b.get(), rel=1e-12)


def test_empty_metrics_are_nan_and_tasks_are_checked():
    assert math.isnan(Accuracy().get()) and math.isnan(ROCAUC().get())
    assert [m.label for m in default_metrics("regression", window=10)] == [
        "mae",
        "rmse",
        "r2",
        "rolling_mae",
        "rolling_rmse",
        "rolling_r2",
    ]
    with pytest.raises(ValueError):
        default_metrics("ranking")
    with pytest.raises(ValueError):
        Accuracy(window=0)


@pytest.fixture
def multiclass():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 2000)
    proba = rng.random((2000, 4)) + np.eye(4)[y] * rng.random((2000, 1))
    proba /= proba.sum(axis=1, keepdims=True)
    proba[:5] = 0.0  # nothing known yet
    return y, proba


def exact_macro_f1(y, predicted):
    scores = []
    for k in set(y.tolist()) | set(predicted.tolist()) - {-1}:
        tp = np.sum((y == k) & (predicted == k))
        fp = np.sum((y != k) & (predicted == k))
        fn = np.sum((y == k) & (predicted != k))
        scores.append(2 * tp / (2 * tp + fp + fn))
    return np.mean(scores)


def test_multiclass_metrics(multiclass):
    y, proba = multiclass
    predicted = np.where(proba.max(axis=1) > 0, proba.argmax(axis=1), -1)
    expected = {
        MulticlassAccuracy: np.mean(predicted == y),
        CrossEntropy: -np.mean(np.log(np.clip(proba[np.arange(len(y)), y], 1e-15, 1))),
        MacroF1: exact_macro_f1(y, predicted),
    }
    for kind, value in expected.items():
        whole, rolling, single = kind(), kind(window=300), kind(window=300)
        whole.update_many(y[:700], proba[:700])
        whole.update_many(y[700:], proba[700:])
        assert whole.get() == pytest.approx(value, rel=1e-12), kind
        rolling.update_many(y, proba)
        last = kind()
        last.update_many(y[-300:], proba[-300:])
        assert rolling.get() == pytest.approx(last.get(), rel=1e-12), kind
        for yi, pi in zip(y[-400:], proba[-400:], strict=True):
            single.update(yi, pi)
        assert single.get() == pytest.approx(last.get(), rel=1e-12), kind


def test_cross_entropy_of_a_class_unknown_at_prediction_time():
    metric = CrossEntropy()
    metric.update(2, np.array([0.5, 0.5]))  # class 2 appears for the first time
    assert metric.get() == pytest.approx(-np.log(1e-15))


def test_r2_whole_and_rolling():
    rng = np.random.default_rng(2)
    y = rng.normal(size=3000)
    p = y + rng.normal(0, 0.5, 3000)
    whole, rolling = R2(), R2(window=500)
    for start in range(0, 3000, 700):
        whole.update_many(y[start : start + 700], p[start : start + 700])
        rolling.update_many(y[start : start + 700], p[start : start + 700])
    r2 = 1 - np.sum((y - p) ** 2) / np.sum((y - y.mean()) ** 2)
    assert whole.get() == pytest.approx(r2, rel=1e-10)
    tail_y, tail_p = y[-500:], p[-500:]
    tail = 1 - np.sum((tail_y - tail_p) ** 2) / np.sum((tail_y - tail_y.mean()) ** 2)
    assert rolling.get() == pytest.approx(tail, rel=1e-10)


def test_rolling_auc_is_undefined_until_its_window_holds_both_classes():
    """Undefined, not 0: the dashboard draws a gap (NaN is left out of its points)."""
    auc = ROCAUC(window=4)
    auc.update_many(np.zeros(3), np.array([0.2, 0.4, 0.9]))
    assert math.isnan(auc.get())
    auc.update_many(np.ones(1), np.array([0.8]))
    assert auc.get() == pytest.approx(2 / 3)
    auc.update_many(np.ones(4), np.full(4, 0.7))  # the negatives leave the window
    assert math.isnan(auc.get())
