"""The conformance suite: every learner of the project passes every check here.

A new learner is checked by adding one line to ``LEARNERS``. The suite asserts that it is
registered, that its state round-trips, that batch calls equal one-event calls, that clones
are fresh, that inputs are not mutated, and that bad input follows the documented policy:
missing / None / empty / NaN / inf values are ignored, huge numbers are clipped, a value of
an unsupported type raises ``TypeError``, a bad label raises ``ValueError`` and leaves the
model untouched, and no input ever makes a weight non-finite.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from streamlearn.adaptation import Background, Boost, Shrink, adaptive
from streamlearn.base import Classifier, MulticlassClassifier, load_state, save_state
from streamlearn.base.state import learner_kinds
from streamlearn.drift import DDM, PageHinkley
from streamlearn.models import (
    BPRMF,
    FTRL,
    SGD,
    AdaGrad,
    BayesianLinearRegression,
    BiasedMF,
    EngagementRanker,
    FraudDetector,
    HedgeClassifier,
    HedgeRegressor,
    HybridLinUCB,
    LinearBandit,
    LinearRegression,
    LogisticRegression,
    OneVsRest,
    SoftmaxRegression,
)
from tests.conftest import columns_of, messy_events

LEARNERS = {
    "logistic-ftrl": lambda: LogisticRegression(FTRL(), bits=12, interactions=[("city", "device")]),
    "logistic-sgd": lambda: LogisticRegression(SGD(lr=0.05, l1=0.001, l2=0.001), bits=12),
    "logistic-adagrad": lambda: LogisticRegression(AdaGrad(), bits=12, categorical=["visits"]),
    "logistic-raw": lambda: LogisticRegression(FTRL(), bits=10, standardize=False),
    "logistic-all-crosses": lambda: LogisticRegression(bits=14, interactions="all"),
    "logistic-missing": lambda: LogisticRegression(
        FTRL(), bits=12, missing=True, interactions=[("city", "device")]
    ),
    "linear-missing": lambda: LinearRegression(bits=12, missing=True, standardize=False),
    "linear-ftrl": lambda: LinearRegression(FTRL(l1=0.1), bits=12),
    "linear-sgd": lambda: LinearRegression(SGD(lr=0.01, power_t=0.25), bits=12),
    "linear-adagrad": lambda: LinearRegression(AdaGrad(), bits=12, interactions=[("city", "city")]),
    "softmax-ftrl": lambda: SoftmaxRegression(FTRL(), bits=12, interactions=[("city", "device")]),
    "softmax-sgd": lambda: SoftmaxRegression(SGD(lr=0.05, power_t=0.1), bits=12),
    "one-vs-rest": lambda: OneVsRest(LogisticRegression(AdaGrad(), bits=10)),
    "softmax-missing": lambda: SoftmaxRegression(bits=12, missing=True),
    "hedge-classifier": lambda: HedgeClassifier(
        [LogisticRegression(SGD(lr=0.01), bits=10), LogisticRegression(bits=10)], eta=2.0
    ),
    "hedge-regressor": lambda: HedgeRegressor(
        [LinearRegression(bits=10), BayesianLinearRegression(capacity=32)], discount=0.99
    ),
    "fraud-detector": lambda: FraudDetector(
        entity="city", time="visits", amount="age", min_frauds=5, bits=12
    ),
    "bayes-full": lambda: BayesianLinearRegression(capacity=40, interactions=[("city", "device")]),
    "bayes-forgetting": lambda: BayesianLinearRegression(forgetting=0.98, standardize=True),
    "bayes-diagonal": lambda: BayesianLinearRegression(
        covariance="diagonal", bits=10, forgetting=0.99
    ),
    # Sensitive detectors, so that drifts (and roll-backs in batches) happen in the tests.
    "adaptive-reset": lambda: adaptive(
        LogisticRegression(bits=10), PageHinkley(min_instances=5, threshold=2), "reset"
    ),
    "adaptive-boost": lambda: adaptive(
        LogisticRegression(SGD(lr=0.05), bits=10),
        DDM(warm_start=10, drift_threshold=1.5),
        Boost(factor=3, hold=7, ramp=10, steps=3),
    ),
    "adaptive-background": lambda: adaptive(
        LogisticRegression(bits=10),
        DDM(warm_start=10, warning_threshold=1.0, drift_threshold=1.5),
        Background(),
    ),
    "adaptive-shrink": lambda: adaptive(
        LinearRegression(bits=10), PageHinkley(min_instances=5, threshold=3), Shrink(0.5)
    ),
}


def labelled(model, n=300, seed=0):
    events = messy_events(n, seed)
    rng = np.random.default_rng(seed + 1)
    if isinstance(model, Classifier):
        targets = [bool(rng.random() < 0.4 + 0.3 * (x.get("city") == "paris")) for x in events]
    elif isinstance(model, MulticlassClassifier):
        # Integer, text and bool labels; "late" first appears mid-stream.
        choices = [1, "1", False, "late"]
        targets = [choices[int(rng.integers(0, 4 if i > n // 2 else 3))] for i in range(n)]
    else:
        targets = [
            float(x["visits"] if np.isfinite(x["visits"]) else 3) + rng.normal() for x in events
        ]
    return events, targets


def predictions_one(model, events, targets, learn=True):
    """Predictions made one event at a time (class probabilities as rows for multiclass)."""
    out = []
    for x, y in zip(events, targets, strict=True):
        if isinstance(model, Classifier):
            out.append(model.predict_proba_one(x)[True])
        elif isinstance(model, MulticlassClassifier):
            out.append(model.predict_proba_one(x))
        else:
            out.append(model.predict_one(x))
        if learn:
            model.learn_one(x, y)
    if isinstance(model, MulticlassClassifier):
        return np.array([[p.get(c, 0.0) for c in model.classes] for p in out]).reshape(
            len(out), len(model.classes)
        )
    return np.array(out)


def predictions_many(model, events):
    columns = columns_of(events)
    if isinstance(model, Classifier | MulticlassClassifier):
        return model.predict_proba_many(columns)
    return model.predict_many(columns)


def float_arrays(model):
    return [a for a in model.state().arrays.values() if a.dtype.kind == "f"]


def assert_same_state(a, b):
    sa, sb = a.state(), b.state()
    assert sa.kind == sb.kind and sa.params == sb.params and sa.meta == sb.meta
    assert sa.arrays.keys() == sb.arrays.keys()
    for key in sa.arrays:
        np.testing.assert_array_equal(sa.arrays[key], sb.arrays[key], err_msg=key)


@pytest.fixture(params=sorted(LEARNERS))
def make(request):
    return LEARNERS[request.param]


def test_every_registered_learner_is_in_the_suite():
    factories = (*LEARNERS.values(), *BANDITS.values(), *RECOMMENDERS.values(), *RANKERS.values())
    kinds = {type(factory()).__name__ for factory in factories}
    # RiverModel wraps River's estimators, which keep River's own input policy (its checks
    # live in tests/test_river_interop.py); the optional torch learners have theirs in
    # tests/test_neural.py (batched float32 forward passes agree with one-row ones to
    # rounding, not bit for bit).
    assert kinds == set(learner_kinds()) - {"RiverModel", "TorchClassifier", "TorchRegressor"}


def test_predict_learn_many_equals_one_event_calls(make):
    one, many = make(), make()
    events, targets = labelled(one)
    expected = predictions_one(one, events, targets)
    first = many.predict_learn_many(columns_of(events[:123]), targets[:123])
    second = many.predict_learn_many(columns_of(events[123:]), targets[123:])
    if first.ndim == 2:  # multiclass: the second batch may know more classes
        first = np.pad(first, ((0, 0), (0, second.shape[1] - first.shape[1])))
    np.testing.assert_array_equal(np.concatenate([first, second]), expected)
    assert_same_state(one, many)


def test_learn_many_equals_repeated_learn_one(make):
    one, many = make(), make()
    events, targets = labelled(one)
    for x, y in zip(events, targets, strict=True):
        one.learn_one(x, y)
    many.learn_many(columns_of(events), np.array(targets, dtype=object))
    assert_same_state(one, many)
    fresh = messy_events(50, seed=9)
    np.testing.assert_array_equal(
        predictions_many(many, fresh), predictions_one(one, fresh, [None] * 50, learn=False)
    )


def test_state_round_trip_predicts_and_learns_identically(make, tmp_path):
    model = make()
    events, targets = labelled(model)
    for x, y in zip(events[:200], targets[:200], strict=True):
        model.learn_one(x, y)
    path = tmp_path / "model.snapshot"
    save_state(model.state(), path)
    restored = load_state(path).to_learner()
    assert type(restored) is type(model)
    np.testing.assert_array_equal(
        predictions_one(restored, events[200:], targets[200:]),
        predictions_one(model, events[200:], targets[200:]),
    )
    assert_same_state(model, restored)


def test_clone_is_fresh_and_independent(make):
    model = make()
    events, targets = labelled(model)
    untrained = predictions_many(make(), events)
    model.learn_many(columns_of(events), targets)
    clone = model.clone()
    assert clone.params() == model.params()
    np.testing.assert_array_equal(predictions_many(clone, events), untrained)
    clone.learn_many(columns_of(events), targets)
    assert_same_state(clone, model)  # learning the clone did not touch the original's arrays
    model.learn_one(events[0], targets[0])
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(float_arrays(model), float_arrays(clone), strict=False)
    )


def test_inputs_are_not_mutated(make):
    model = make()
    events, targets = labelled(model)
    columns = columns_of(events)
    arrays = {k: np.array(v, dtype=object) for k, v in columns.items()}
    before_events, before_arrays = copy.deepcopy(events), copy.deepcopy(arrays)
    target_array = np.array(targets)
    before_targets = target_array.copy()
    for x, y in zip(events, targets, strict=True):
        model.learn_one(x, y)
    model.predict_learn_many(arrays, target_array)
    assert repr(events) == repr(before_events)  # repr: NaN != NaN would defeat ==
    assert all(repr(arrays[k]) == repr(before_arrays[k]) for k in arrays)
    np.testing.assert_array_equal(target_array, before_targets)


def test_bad_values_never_make_weights_non_finite(make):
    model = make()
    extreme = [
        {"a": 1e308, "b": -1e308, "c": float("nan")},
        {"a": float("inf"), "b": 1e-308},
        {"a": -1e308, "d": "x" * 10_000},
        {"a": 1e12, "b": 1e12},
    ]
    label = 1e6
    if isinstance(model, Classifier):
        label = True
    elif isinstance(model, MulticlassClassifier):
        label = "a"
    for _ in range(200):
        for x in extreme:
            model.learn_one(x, label)
    model.learn_many(columns_of(extreme * 50), [label] * 200)
    assert all(np.isfinite(a).all() for a in float_arrays(model))
    assert np.isfinite(predictions_many(model, extreme)).all()


def test_missing_values_are_ignored(make):
    model = make()
    events, targets = labelled(model)
    model.learn_many(columns_of(events), targets)
    a = predictions_one(model, [{"age": 30.0}], [None], learn=False)
    b = predictions_one(
        model, [{"age": 30.0, "city": None, "visits": float("nan"), "x": ""}], [None], learn=False
    )
    np.testing.assert_array_equal(a, b)


def test_unsupported_types_raise_and_leave_the_model_untouched(make):
    model = make()
    events, targets = labelled(model)
    model.learn_many(columns_of(events), targets)
    before = model.state()
    with pytest.raises(TypeError, match="unsupported type"):
        model.learn_one({"age": [1, 2]}, targets[0])
    with pytest.raises(TypeError, match="names must be str"):
        model.learn_one({1: 2.0}, targets[0])
    with pytest.raises(TypeError):
        model.learn_one([("age", 1.0)], targets[0])
    with pytest.raises(ValueError):
        model.learn_one({"age": 1.0}, float("nan"))
    with pytest.raises(ValueError):
        model.learn_many({"age": np.ones(3)}, np.array([1.0, np.nan, 0.0]))
    with pytest.raises(ValueError):
        model.learn_many({"age": np.ones(3)}, np.ones(2))
    assert_same_state(before.to_learner(), model)


def test_classifiers_reject_non_binary_labels():
    model = LogisticRegression(bits=8)
    for bad in (2, -1, 0.5, "yes", None):
        with pytest.raises(ValueError, match="binary"):
            model.learn_one({"a": 1.0}, bad)
    with pytest.raises(ValueError, match="binary"):
        model.learn_many({"a": np.ones(2)}, np.array([0.0, 2.0]))
    assert model.n_learned == 0


def test_model_memory_is_fixed_by_the_hash_size():
    model = LogisticRegression(bits=10)
    sizes = set()
    for chunk in range(5):
        ids = np.arange(chunk * 20_000, (chunk + 1) * 20_000).astype(str)
        model.learn_many({"id": ids, "n": np.ones(len(ids))}, np.ones(len(ids)))
        sizes.add(sum(a.nbytes for a in model.state().arrays.values()))
    # table, intercept, target statistics, counter, one scaler row
    assert sizes == {2**10 * 2 * 8 + 8 + 3 * 8 + 8 + 3 * 8}


# ---------------------------------------------------------------------- contextual bandits
BANDITS = {
    "bandit-hybrid": lambda: HybridLinUCB(
        arms=["a", "b", 3],
        shared=["s1", "s2"],
        capacity=24,
        arm_features={"a": {"s1": 1.0}, "b": {"s2": 1.0}, 3: {"s1": 0.5, "s2": 0.5}},
    ),
    "bandit-ucb": lambda: LinearBandit(arms=["a", "b", 3], rule="ucb", capacity=24),
    "bandit-greedy": lambda: LinearBandit(arms=["a", "b", 3], rule="greedy", seed=5),
    "bandit-thompson": lambda: LinearBandit(
        arms=["a", "b", 3], rule="thompson", draws=20, forgetting=0.99
    ),
    "bandit-softmax": lambda: LinearBandit(
        arms=["a", "b", 3], rule="softmax", explore=0.2, standardize=False
    ),
}


def bandit_log(n=300, seed=0):
    events = messy_events(n, seed)
    rng = np.random.default_rng(seed + 1)
    arms = [["a", "b", 3][int(rng.integers(0, 3))] for _ in range(n)]
    rewards = [
        float(rng.random() < 0.2 + 0.5 * (x.get("city") == "paris" and arm == "b"))
        for x, arm in zip(events, arms, strict=True)
    ]
    return events, arms, rewards


@pytest.fixture(params=sorted(BANDITS))
def make_bandit(request):
    return BANDITS[request.param]


def bandit_steps(model, events, arms, rewards):
    """Decide each event one at a time, then learn its logged arm and reward."""
    decided = []
    for x, arm, reward in zip(events, arms, rewards, strict=True):
        decision = model.decide_one(x)
        decided.append((decision.arm, decision.propensity))
        model.learn_one(x, (arm, reward))
    return decided


def test_bandit_batches_equal_one_event_calls(make_bandit):
    one, many = make_bandit(), make_bandit()
    events, arms, rewards = bandit_log()
    expected = bandit_steps(one, events, arms, rewards)
    first = many.predict_learn_many(columns_of(events[:111]), (arms[:111], rewards[:111]))
    second = many.predict_learn_many(columns_of(events[111:]), (arms[111:], rewards[111:]))
    chosen = first[0] + second[0]
    propensities = np.concatenate([first[1], second[1]])
    assert [(a, p) for a, p in zip(chosen, propensities, strict=True)] == expected
    assert_same_state(one, many)
    fresh = messy_events(40, seed=9)
    batch = many.decide_many(columns_of(fresh))
    assert batch.arms == [one.decide_one(x).arm for x in fresh]
    learned_one, learned_many = make_bandit(), make_bandit()
    for x, arm, reward in zip(events, arms, rewards, strict=True):
        learned_one.learn_one(x, (arm, reward))
    learned_many.learn_many(columns_of(events), (np.array(arms, dtype=object), rewards))
    assert_same_state(learned_one, learned_many)


def test_bandit_state_round_trip_decides_and_learns_identically(make_bandit, tmp_path):
    model = make_bandit()
    events, arms, rewards = bandit_log()
    bandit_steps(model, events[:200], arms[:200], rewards[:200])
    model.add_arm("late")
    model.retire_arm("a")
    save_state(model.state(), tmp_path / "bandit.snapshot")
    restored = load_state(tmp_path / "bandit.snapshot").to_learner()
    assert restored.arms == model.arms == ["b", 3, "late"]
    assert bandit_steps(restored, events[200:], arms[200:], rewards[200:]) == bandit_steps(
        model, events[200:], arms[200:], rewards[200:]
    )
    assert_same_state(model, restored)


def test_bandit_clone_is_fresh_and_inputs_are_not_mutated(make_bandit):
    model = make_bandit()
    events, arms, rewards = bandit_log()
    columns = {k: np.array(v, dtype=object) for k, v in columns_of(events).items()}
    before = copy.deepcopy((events, columns, arms, rewards))
    untrained = make_bandit().decide_many(columns_of(events), details=True).expected
    model.predict_learn_many(columns, (arms, rewards))
    bandit_steps(model, events, arms, rewards)
    assert repr((events, columns, arms, rewards)) == repr(before)
    clone = model.clone()
    assert clone.params() == model.params() and clone.arms == ["a", "b", 3]
    np.testing.assert_array_equal(
        clone.decide_many(columns_of(events), details=True).expected, untrained
    )


def test_bandit_bad_input_never_makes_weights_non_finite(make_bandit):
    model = make_bandit()
    extreme = [
        {"a": 1e308, "b": -1e308, "c": float("nan")},
        {"a": float("inf"), "b": 1e-308},
        {"a": -1e308, "d": "x" * 10_000},
        {"a": 1e12, "b": 1e12},
    ]
    for _ in range(50):
        for x in extreme:
            model.learn_one(x, ("b", 1e6))
            assert np.isfinite(model.decide_one(x).propensity)
    assert all(np.isfinite(a).all() for a in float_arrays(model))
    before = model.state()
    with pytest.raises(TypeError, match="unsupported type"):
        model.learn_one({"age": [1, 2]}, ("a", 1.0))
    with pytest.raises(KeyError, match="unknown arm"):
        model.learn_one({"age": 1.0}, ("nope", 1.0))
    for bad in (("a", float("nan")), ("a", "yes"), 1.0, ("a",)):
        with pytest.raises(ValueError):
            model.learn_one({"age": 1.0}, bad)
    with pytest.raises(TypeError, match="arm id"):
        model.add_arm(1.5)
    assert_same_state(before.to_learner(), model)


# ---------------------------------------------------------------------- recommenders
RECOMMENDERS = {
    "biased-mf": lambda: BiasedMF(n_factors=4, seed=3),
    "bpr-mf": lambda: BPRMF(n_factors=4, seed=3, negatives=2),
}


def interactions(n=400, seed=0):
    rng = np.random.default_rng(seed)
    users = [int(u) if u % 2 else f"u{u}" for u in rng.integers(0, 30, n)]
    items = [f"i{i}" for i in rng.integers(0, 40, n)]
    ratings = [float(r) for r in rng.integers(1, 6, n)]
    return [{"user": u, "item": i} for u, i in zip(users, items, strict=True)], ratings


@pytest.fixture(params=sorted(RECOMMENDERS))
def make_recommender(request):
    return RECOMMENDERS[request.param]


def test_recommender_batches_equal_one_event_calls(make_recommender):
    one, many = make_recommender(), make_recommender()
    events, ratings = interactions()
    expected = []
    for x, y in zip(events, ratings, strict=True):
        expected.append(one.predict_one(x))
        one.learn_one(x, y)
    first = many.predict_learn_many(columns_of(events[:157]), ratings[:157])
    second = many.predict_learn_many(columns_of(events[157:]), np.array(ratings[157:]))
    np.testing.assert_array_equal(np.concatenate([first, second]), expected)
    assert_same_state(one, many)
    assert one.recommend(events[0]["user"], 5) == many.recommend(events[0]["user"], 5)


def test_recommender_state_round_trip_and_clone(make_recommender, tmp_path):
    model = make_recommender()
    events, ratings = interactions()
    model.learn_many(columns_of(events[:300]), ratings[:300])
    save_state(model.state(), tmp_path / "mf.snapshot")
    restored = load_state(tmp_path / "mf.snapshot").to_learner()
    np.testing.assert_array_equal(
        restored.predict_learn_many(columns_of(events[300:]), ratings[300:]),
        model.predict_learn_many(columns_of(events[300:]), ratings[300:]),
    )
    assert_same_state(model, restored)
    assert restored.seen_items("u2") == model.seen_items("u2") != set()
    clone = model.clone()
    assert clone.params() == model.params() and clone.user_ids == []
    before = copy.deepcopy((events, ratings))
    clone.learn_many(columns_of(events), ratings)
    assert repr((events, ratings)) == repr(before)


def test_recommender_bad_input_raises_and_leaves_the_model_untouched(make_recommender):
    model = make_recommender()
    events, ratings = interactions()
    model.learn_many(columns_of(events), ratings)
    before = model.state()
    for x, y, error in [
        ({"user": 1, "item": "i1"}, float("nan"), ValueError),
        ({"user": 1.5, "item": "i1"}, 1.0, TypeError),
        ({"user": [1], "item": "i1"}, 1.0, TypeError),
        ({"item": "i1"}, 1.0, ValueError),
        ({"user": True, "item": "i1"}, 1.0, TypeError),
    ]:
        with pytest.raises(error):
            model.learn_one(x, y)
    model.learn_one({"user": "new", "item": "i1"}, 1e300)  # huge: bounded, never non-finite
    assert all(np.isfinite(a).all() for a in float_arrays(model))
    assert_same_state(before.to_learner(), make_recommender().from_state(before))


# ---------------------------------------------------------------------- multi-task rankers
RANKERS = {
    "engagement-ranker": lambda: EngagementRanker(
        {"click": "binary", "dwell": "regression"},
        weights={"dwell": 0.1},
        bits=12,
        interactions=[("city", "device")],
    ),
}


def engagement(n=300, seed=0):
    events = messy_events(n, seed)
    rng = np.random.default_rng(seed + 1)
    labels = []
    for x in events:
        click = float(rng.random() < 0.3 + 0.4 * (x.get("city") == "paris"))
        labels.append({"click": click, "dwell": float(rng.lognormal(2, 1)) if click else None})
    return events, labels


@pytest.fixture(params=sorted(RANKERS))
def make_ranker(request):
    return RANKERS[request.param]


def test_ranker_batches_equal_one_event_calls_and_state_round_trips(make_ranker, tmp_path):
    one, many = make_ranker(), make_ranker()
    events, labels = engagement()
    expected = []
    for x, y in zip(events, labels, strict=True):
        expected.append(one.predict_one(x))
        one.learn_one(x, y)
    first = many.predict_learn_many(columns_of(events[:120]), labels[:120])
    second = many.predict_learn_many(columns_of(events[120:]), labels[120:])
    np.testing.assert_array_equal(np.concatenate([first, second]), expected)
    assert_same_state(one, many)
    save_state(many.state(), tmp_path / "ranker.snapshot")
    restored = load_state(tmp_path / "ranker.snapshot").to_learner()
    fresh = messy_events(30, seed=4)
    np.testing.assert_array_equal(
        restored.predict_many(columns_of(fresh)), many.predict_many(columns_of(fresh))
    )
    clone = many.clone()
    assert clone.params() == many.params()
    np.testing.assert_array_equal(
        clone.predict_many(columns_of(fresh)), make_ranker().predict_many(columns_of(fresh))
    )


def test_ranker_bad_input_raises_and_never_makes_weights_non_finite(make_ranker):
    model = make_ranker()
    events, labels = engagement()
    before_events = copy.deepcopy((events, labels))
    model.learn_many(columns_of(events), labels)
    assert repr((events, labels)) == repr(before_events)
    before = model.state()
    for y in ({"click": 2.0}, {"click": float("inf")}, {"clicks": 1.0}, 1.0, {"dwell": "long"}):
        with pytest.raises(ValueError):
            model.learn_one({"age": 1.0}, y)
    with pytest.raises(TypeError, match="unsupported type"):
        model.learn_one({"age": [1, 2]}, {"click": 1.0})
    assert_same_state(before.to_learner(), model)
    for _ in range(50):
        model.learn_one({"a": 1e308, "b": float("nan")}, {"click": 1.0, "dwell": 1e12})
    assert all(np.isfinite(a).all() for a in float_arrays(model))
