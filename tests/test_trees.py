"""Hoeffding trees and adaptive random forests, classifiers and regressors: they learn what
a linear model cannot, replace trees when the concept drifts (batches equal to events
throughout), stay within their size cap, and refuse a state that would send a kernel out
of bounds."""

from __future__ import annotations

import numpy as np
import pytest

from streamlearn.base import load_snapshot, snapshot_bytes
from streamlearn.checks.helpers import assert_same_state
from streamlearn.evaluate import progressive_val_score_one
from streamlearn.models import (
    AdaptiveRandomForestClassifier,
    AdaptiveRandomForestRegressor,
    AMFClassifier,
    AMFRegressor,
    HoeffdingAdaptiveTreeClassifier,
    HoeffdingAdaptiveTreeRegressor,
    HoeffdingTreeClassifier,
    HoeffdingTreeRegressor,
    LinearRegression,
    LogisticRegression,
)


def disc(n: int, seed: int = 0, flip_at: int | None = None):
    """Two numbers and noise; the label is whether the point is in a disc (no line
    separates it), inverted from ``flip_at`` on."""
    rng = np.random.default_rng(seed)
    a, b, noise = rng.random(n), rng.random(n), rng.random(n)
    labels = (a - 0.5) ** 2 + (b - 0.5) ** 2 < 0.1
    if flip_at is not None:
        labels[flip_at:] = ~labels[flip_at:]
    events = [
        {"a": float(x), "b": float(y), "noise": float(z)}
        for x, y, z in zip(a, b, noise, strict=True)
    ]
    return events, [bool(v) for v in labels]


def accuracy(model, events, labels) -> float:
    return progressive_val_score_one(model, zip(events, labels, strict=True)).metrics["accuracy"]


def test_trees_learn_a_disc_that_a_linear_model_cannot():
    events, labels = disc(6000)
    linear = accuracy(LogisticRegression(bits=10), events, labels)
    tree = accuracy(HoeffdingTreeClassifier(grace_period=100), events, labels)
    forest = accuracy(AdaptiveRandomForestClassifier(n_models=5, seed=3), events, labels)
    assert linear < 0.72
    assert tree > 0.85 and forest > 0.85


def columns(events):
    return {name: np.array([x[name] for x in events]) for name in events[0]}


def test_forest_replaces_drifted_trees_and_batches_equal_events():
    events, labels = disc(5000, seed=1, flip_at=2500)
    make = lambda: AdaptiveRandomForestClassifier(n_models=4, seed=5)  # noqa: E731
    one, many = make(), make()
    expected = []
    for x, y in zip(events, labels, strict=True):
        expected.append(one.predict_proba_one(x).get(True, 0.0))
        one.learn_one(x, y)
    got = []
    for start in range(0, len(events), 777):
        stop = start + 777
        proba = many.predict_learn_many(columns(events[start:stop]), np.array(labels[start:stop]))
        got.append(proba[:, many.classes.index(True)] if proba.shape[1] > 1 else proba[:, 0] * 0)
    np.testing.assert_array_equal(np.concatenate(got), expected)
    assert_same_state(one, many)
    assert one.drifts >= 2  # trees were swapped for their background trees
    # After the flip, the forest follows the new concept.
    late = np.array(expected[-1000:]) >= 0.5
    assert (late == np.array(labels[-1000:])).mean() > 0.85


def test_a_restored_forest_goes_on_as_the_original():
    events, labels = disc(4000, seed=2, flip_at=1500)
    model = AdaptiveRandomForestClassifier(n_models=3, seed=9, grace_period=30)
    model.learn_many(columns(events[:2500]), np.array(labels[:2500]))
    restored = load_snapshot(snapshot_bytes(model.state())[0])[0].to_learner()
    rest = columns(events[2500:])
    np.testing.assert_array_equal(
        restored.predict_learn_many(rest, np.array(labels[2500:])),
        model.predict_learn_many(rest, np.array(labels[2500:])),
    )
    assert_same_state(model, restored)


def one_by_one(model, events, labels) -> list[float]:
    """Each event's probability of True before it is learned, one event at a time."""
    expected = []
    for x, y in zip(events, labels, strict=True):
        expected.append(model.predict_proba_one(x).get(True, 0.0))
        model.learn_one(x, y)
    return expected


def test_adaptive_tree_switches_in_alternates_after_a_drift_and_batches_equal_events():
    events, labels = disc(8000, seed=1, flip_at=4000)
    make = lambda: HoeffdingAdaptiveTreeClassifier(grace_period=50, seed=2)  # noqa: E731
    one, many = make(), make()
    expected = one_by_one(one, events, labels)
    got = []
    for start in range(0, len(events), 999):
        stop = start + 999
        proba = many.predict_learn_many(columns(events[start:stop]), np.array(labels[start:stop]))
        got.append(proba[:, many.classes.index(True)])
    np.testing.assert_array_equal(np.concatenate(got), expected)
    assert_same_state(one, many)
    assert one.n_alternate_trees >= 1 and one.n_switch_alternate_trees >= 1
    plain = one_by_one(HoeffdingTreeClassifier(grace_period=50), events, labels)
    after = slice(4000, None)  # the flip: a plain tree's leaves unlearn it slowly
    truth = np.array(labels[after])
    adaptive_hits = ((np.array(expected[after]) >= 0.5) == truth).mean()
    plain_hits = ((np.array(plain[after]) >= 0.5) == truth).mean()
    assert adaptive_hits > 0.8 and adaptive_hits > plain_hits + 0.1


def test_a_restored_adaptive_tree_goes_on_as_the_original_and_stays_capped():
    events, labels = disc(9000, seed=3, flip_at=3000)
    model = HoeffdingAdaptiveTreeClassifier(
        grace_period=20,
        delta=0.01,
        drift_delta=0.05,
        drift_window_threshold=30,
        max_leaves=12,
        seed=0,
    )
    cut = 0
    while not (model.alternates >= 0).any():  # on to a snapshot with an alternate growing
        model.learn_many(columns(events[cut : cut + 50]), np.array(labels[cut : cut + 50]))
        cut += 50
    assert 3000 <= cut < 6000  # after the flip
    restored = load_snapshot(snapshot_bytes(model.state())[0])[0].to_learner()
    rest = columns(events[cut:])
    np.testing.assert_array_equal(
        restored.predict_learn_many(rest, np.array(labels[cut:])),
        model.predict_learn_many(rest, np.array(labels[cut:])),
    )
    assert_same_state(model, restored)
    assert model.n_switch_alternate_trees >= 1
    used = int(model.tree.counters[0])
    assert model.n_leaves == (model.tree.nodes[:used, 0] == -1).sum() <= 2 * 12
    assert model.tree.leaf_count() <= 12  # the tree's own leaves
    assert model.tree.nbytes() <= model.max_nbytes()


def batches_equal_events(one, many, X, y, batch: int) -> np.ndarray:
    """Each event's prediction by ``one`` event at a time; ``many`` predicts the same in
    batches and ends in the same state."""
    expected = []
    for i in range(len(y)):
        x = {name: float(column[i]) for name, column in X.items()}
        expected.append(one.predict_one(x))
        one.learn_one(x, float(y[i]))
    got = [
        many.predict_learn_many({k: v[s : s + batch] for k, v in X.items()}, y[s : s + batch])
        for s in range(0, len(y), batch)
    ]
    np.testing.assert_array_equal(np.concatenate(got), expected)
    assert_same_state(one, many)
    return np.array(expected)


def test_adaptive_regression_tree_switches_after_a_drift_and_batches_equal_events():
    X, y = steps(12_000, seed=5, flip_at=6000)
    make = lambda: HoeffdingAdaptiveTreeRegressor(grace_period=50, seed=2)  # noqa: E731
    one, many = make(), make()
    expected = batches_equal_events(one, many, X, y, batch=999)
    assert one.n_alternate_trees >= 1 and one.n_switch_alternate_trees >= 1
    plain = HoeffdingTreeRegressor(grace_period=50).predict_learn_many(X, y)
    late = slice(-2000, None)
    adaptive_mae = np.abs(expected[late] - y[late]).mean()
    plain_mae = np.abs(plain[late] - y[late]).mean()
    assert adaptive_mae < 1.2 and adaptive_mae < plain_mae - 0.5  # noise alone: 0.8


def test_a_restored_adaptive_regression_tree_goes_on_as_the_original():
    X, y = steps(9000, seed=6, flip_at=3000)
    model = HoeffdingAdaptiveTreeRegressor(
        grace_period=20, drift_delta=0.05, drift_window_threshold=30, max_leaves=12, seed=1
    )
    cut = 0
    while not (model.alternates >= 0).any() and cut < len(y):  # on to an alternate growing
        model.learn_many({k: v[cut : cut + 10] for k, v in X.items()}, y[cut : cut + 10])
        cut += 10
    assert 3000 <= cut < 6000  # after the flip
    restored = load_snapshot(snapshot_bytes(model.state())[0])[0].to_learner()
    rest = {k: v[cut:] for k, v in X.items()}
    np.testing.assert_array_equal(
        restored.predict_learn_many(rest, y[cut:]), model.predict_learn_many(rest, y[cut:])
    )
    assert_same_state(model, restored)
    used = int(model.tree.counters[0])
    assert model.n_leaves == (model.tree.nodes[:used, 0] == -1).sum() <= 2 * 12
    assert model.tree.nbytes() <= model.max_nbytes()


def test_size_caps_bound_leaves_and_memory():
    rng = np.random.default_rng(4)
    n = 20_000
    X = {f"x{j}": rng.random(n) for j in range(6)}
    y = (np.sin(8 * X["x0"]) + np.cos(6 * X["x1"]) + X["x2"] > 1.0).astype(bool)
    tree = HoeffdingTreeClassifier(grace_period=20, tau=0.5, max_leaves=8)
    tree.learn_many(X, y)
    assert tree.n_leaves == 8
    forest = AdaptiveRandomForestClassifier(n_models=4, grace_period=20, max_leaves=6, seed=1)
    sizes = []
    for start in range(0, n, 5000):
        block = {k: v[start : start + 5000] for k, v in X.items()}
        forest.learn_many(block, y[start : start + 5000])
        sizes.append(forest.tree.nbytes())
        assert all(forest.tree.leaf_count(t) <= 6 for t in range(8) if forest.tree.roots[t] >= 0)
    assert sizes[-1] == sizes[1]  # capped: the pool stopped growing
    assert tree.tree.nbytes() <= tree.max_nbytes() and sizes[-1] <= forest.max_nbytes()


def test_new_categories_stop_at_the_feature_cap():
    model = HoeffdingTreeClassifier(feature_cap=16)
    ids = np.array([f"user{i}" for i in range(1000)])
    model.learn_many({"user": ids, "n": np.ones(1000)}, np.arange(1000) % 2 == 0)
    assert len(model.feature_ids) == 16
    assert model.state().arrays["observers"].shape[1] == 16


@pytest.mark.parametrize(
    ("array", "change", "why"),
    [
        ("nodes", lambda a: a.__setitem__((0, 0), 5) or a.__setitem__((0, 1), 0), "child"),
        ("nodes", lambda a: a.__setitem__((0, 3), 10**6), "slots"),
        ("free", lambda a: a.__setitem__(0, a[0] + 1) if len(a) else None, "slot|shape"),
        ("observers", lambda a: a.__setitem__((0, 0, 0, 1), np.nan), "non-finite"),
        ("roots", lambda a: a.__setitem__(0, 99), "root"),
    ],
)
def test_a_corrupt_tree_state_is_refused(array, change, why):
    events, labels = disc(1500, seed=3)
    model = HoeffdingTreeClassifier(grace_period=50)
    model.learn_many(columns(events), np.array(labels))
    state = model.state()
    change(state.arrays[array])
    with pytest.raises(ValueError, match=why):
        HoeffdingTreeClassifier.from_state(state)


def test_bad_settings_are_refused_with_their_names():
    for bad, match in [
        ({"leaf_prediction": "median"}, "leaf_prediction"),
        ({"grace_period": 0}, "grace_period"),
        ({"delta": 1.5}, "delta"),
        ({"feature_cap": 0}, "feature_cap"),
    ]:
        with pytest.raises(ValueError, match=match):
            HoeffdingTreeClassifier(**bad)
    with pytest.raises(ValueError, match="max_features"):
        AdaptiveRandomForestClassifier(max_features="half")
    with pytest.raises(ValueError, match="max_features"):
        AdaptiveRandomForestClassifier(max_features=1.5)


def steps(n: int, seed: int = 0, flip_at: int | None = None):
    """A target that jumps with ``a`` and bends with ``b`` (no line fits it), negated from
    ``flip_at`` on; values of ``c`` spread over eight orders of magnitude."""
    rng = np.random.default_rng(seed)
    a, b, c = rng.random(n), rng.random(n), 10.0 ** rng.uniform(-4, 4, n)
    y = np.where(a > 0.5, 10.0, 0.0) + 4.0 * np.abs(b - 0.5) + rng.normal(0, 0.3, n)
    if flip_at is not None:
        y[flip_at:] = -y[flip_at:]
    return {"a": a, "b": b, "c": c}, y


def mae(model, X, y) -> float:
    return float(np.mean(np.abs(model.predict_learn_many(X, y) - y)))


def test_regression_trees_learn_steps_that_a_linear_model_cannot():
    X, y = steps(8000)
    linear = mae(LinearRegression(bits=10), X, y)
    tree = mae(HoeffdingTreeRegressor(grace_period=100), X, y)
    forest = mae(AdaptiveRandomForestRegressor(n_models=5, seed=3), X, y)
    assert tree < 0.6 * linear and forest < 0.6 * linear
    assert mae(HoeffdingTreeRegressor(leaf_prediction="mean"), *steps(8000, seed=1)) < 1.5


def test_regression_forest_follows_a_drift_and_batches_equal_events():
    X, y = steps(5000, seed=2, flip_at=2500)
    make = lambda: AdaptiveRandomForestRegressor(n_models=4, seed=5)  # noqa: E731
    one, many = make(), make()
    expected = batches_equal_events(one, many, X, y, batch=777)
    assert one.drifts >= 2
    assert np.mean(np.abs(np.array(expected[-1000:]) - y[-1000:])) < 1.5


def test_a_restored_regression_tree_goes_on_as_the_original():
    X, y = steps(4000, seed=4)
    for model in (HoeffdingTreeRegressor(grace_period=50), AdaptiveRandomForestRegressor(seed=1)):
        model.learn_many({k: v[:2500] for k, v in X.items()}, y[:2500])
        restored = load_snapshot(snapshot_bytes(model.state())[0])[0].to_learner()
        rest = {k: v[2500:] for k, v in X.items()}
        np.testing.assert_array_equal(
            restored.predict_learn_many(rest, y[2500:]), model.predict_learn_many(rest, y[2500:])
        )
        assert_same_state(model, restored)


def test_regression_bins_stay_fixed_and_a_tree_stays_capped():
    X, y = steps(20_000, seed=5)
    tree = HoeffdingTreeRegressor(grace_period=20, tau=0.5, max_leaves=8, n_bins=16)
    tree.learn_many(X, y)
    assert tree.n_leaves == 8
    observers = tree.state().arrays["observers"]
    assert observers.shape[2] == 17  # 16 bins and their edges, whatever the values' range
    assert tree.tree.nbytes() <= tree.max_nbytes()
    assert np.isfinite(tree.predict_many(X)).all()
    with pytest.raises(ValueError, match="n_bins"):
        HoeffdingTreeRegressor(n_bins=7)
    with pytest.raises(ValueError, match="finite"):
        tree.learn_many({"a": np.array([0.5])}, np.array([np.inf]))


def test_mondrian_forest_learns_the_disc_within_its_node_cap():
    events, labels = disc(4000, seed=6)
    assert accuracy(AMFClassifier(n_models=5, seed=2), events, labels) > 0.9
    capped = AMFClassifier(n_models=3, max_nodes=31, seed=2)
    capped.learn_many(columns(events), np.array(labels))
    assert (capped.trees[:, 2] <= 31).all() and capped.n_nodes <= 3 * 31
    assert capped.nbytes() <= capped.max_nbytes()
    restored = load_snapshot(snapshot_bytes(capped.state())[0])[0].to_learner()
    more, more_labels = disc(500, seed=7)
    np.testing.assert_array_equal(
        restored.predict_learn_many(columns(more), np.array(more_labels)),
        capped.predict_learn_many(columns(more), np.array(more_labels)),
    )


def test_mondrian_regressor_learns_steps_within_its_node_cap_and_batches_equal_events():
    X, y = steps(4000, seed=1)
    linear = mae(LinearRegression(bits=10), X, y)
    # c spans eight orders of magnitude: standardized, it no longer swamps the boxes
    assert mae(AMFRegressor(n_models=5, seed=1, standardize=True), X, y) < 0.8 < 2 < linear
    plain = {"a": X["a"], "b": X["b"]}
    assert mae(AMFRegressor(n_models=5, seed=1), plain, y) < 0.6
    one, many = AMFRegressor(n_models=3, max_nodes=31, seed=2), None
    expected = []
    for i in range(1500):
        x = {"a": float(X["a"][i]), "b": float(X["b"][i])}
        expected.append(one.predict_one(x))
        one.learn_one(x, float(y[i]))
    many = AMFRegressor(n_models=3, max_nodes=31, seed=2)
    got = many.predict_learn_many({k: v[:1500] for k, v in plain.items()}, y[:1500])
    np.testing.assert_array_equal(got, expected)
    assert_same_state(one, many)
    assert (many.trees[:, 2] <= 31).all() and many.nbytes() <= many.max_nbytes()
    restored = load_snapshot(snapshot_bytes(many.state())[0])[0].to_learner()
    rest = {k: v[1500:] for k, v in plain.items()}
    np.testing.assert_array_equal(
        restored.predict_learn_many(rest, y[1500:]), many.predict_learn_many(rest, y[1500:])
    )


@pytest.mark.parametrize(
    ("array", "change", "why"),
    [
        ("links", lambda a: a.__setitem__((0, 1), 0), "twice|child|one child"),
        ("links", lambda a: a.__setitem__((3, 0), 10**6), "range"),
        ("trees", lambda a: a.__setitem__((0, 0), -5), "root"),
        ("numbers", lambda a: a.__setitem__((0, 2), np.inf), "non-finite"),
        ("counters", lambda a: a.__setitem__(0, a[0] + 3), "add up"),
    ],
)
def test_a_corrupt_mondrian_state_is_refused(array, change, why):
    events, labels = disc(800, seed=8)
    model = AMFClassifier(n_models=2, seed=1)
    model.learn_many(columns(events), np.array(labels))
    state = model.state()
    change(state.arrays[array])
    with pytest.raises(ValueError, match=why):
        AMFClassifier.from_state(state)
