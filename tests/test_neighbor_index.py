"""The neighbours' index answers exactly as a full scan of the window does, and stays
sorted as the window slides."""

from __future__ import annotations

import numpy as np

from streamlearn.models import KNNClassifier, KNNRegressor
from streamlearn.models.neighbor_index import empty_index, nearest, rebuild


def scan(window, filled, dense, extra, k):
    """The k nearest by a full scan: the distance summed in feature order, ties by slot."""
    distances = []
    for j in range(filled):
        d = extra
        for g in range(window.shape[1]):
            d += (window[j, g] - dense[g]) ** 2
        distances.append((d, j))
    best = sorted(distances)[:k]
    return [j for _, j in best], [d for d, _ in best]


def test_the_index_finds_the_scans_neighbours_ties_and_all():
    rng = np.random.default_rng(3)
    for trial in range(30):
        filled, width, k = (
            int(rng.integers(1, 120)),
            int(rng.integers(1, 6)),
            int(rng.integers(1, 8)),
        )
        # whole numbers in a small range: many rows at equal distances
        window = rng.integers(-3, 4, (150, width)).astype(float)
        window[:, 0] *= rng.choice([0.0, 1.0, 1e-3, 1e6])  # an axis of no spread, or a huge one
        index = empty_index(150)
        rebuild(window, filled, index)
        for _ in range(20):
            dense = rng.integers(-4, 5, width).astype(float) + rng.choice([0.0, 0.5])
            extra = float(rng.choice([0.0, 2.0]))
            distances, found = np.zeros(k), np.zeros(k, np.int64)
            n = nearest(window, index, filled, (dense, extra), k, distances, found)
            slots, expected = scan(window, filled, dense, extra, k)
            assert n == len(slots), trial
            assert found[:n].tolist() == slots and distances[:n].tolist() == expected


def test_the_index_stays_sorted_as_the_window_slides_and_after_a_restore():
    rng = np.random.default_rng(5)
    n = 2500
    X = {"a": rng.normal(size=n), "b": rng.normal(size=n) * 10, "c": rng.choice(["x", "y"], n)}
    y = X["a"] + 0.1 * X["b"]
    model = KNNRegressor(n_neighbors=4, window_size=300)
    model.learn_many({k: v[:1234] for k, v in X.items()}, y[:1234])
    order, keys, rank, axis = model.search
    assert np.all(np.diff(keys) >= 0)
    np.testing.assert_array_equal(keys, model.window[order, axis[0]])
    np.testing.assert_array_equal(rank[order], np.arange(300))
    restored = KNNRegressor.from_state(model.state())
    rest = {k: v[1234:] for k, v in X.items()}
    np.testing.assert_array_equal(
        restored.predict_learn_many(rest, y[1234:]), model.predict_learn_many(rest, y[1234:])
    )


def test_neighbours_predict_one_by_one_as_in_batches():
    rng = np.random.default_rng(7)
    n = 1500
    X = {"a": rng.integers(0, 5, n).astype(float), "b": rng.normal(size=n)}
    labels = np.where(X["a"] + X["b"] > 2, "hi", "lo")
    one, many = KNNClassifier(window_size=100), KNNClassifier(window_size=100)
    expected = []
    for i in range(n):
        x = {"a": float(X["a"][i]), "b": float(X["b"][i])}
        expected.append(one.predict_proba_one(x).get("hi", 0.0))
        one.learn_one(x, str(labels[i]))
    got = np.concatenate(
        [
            many.predict_learn_many({k: v[s : s + 97] for k, v in X.items()}, labels[s : s + 97])
            for s in range(0, n, 97)
        ]
    )
    np.testing.assert_array_equal(got[:, many.classes.index("hi")], expected)
