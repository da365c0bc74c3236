"""Checks for the learners whose labels are not one value per event: contextual bandits
(an arm and its reward), recommenders (user, item, rating) and multi-task rankers (feedback
per task)."""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from streamlearn.base import load_state, save_state
from streamlearn.checks.data import bandit_log, columns_of, engagement, interactions, messy_events
from streamlearn.checks.helpers import (
    assert_copies_hold_the_state,
    assert_same_state,
    float_arrays,
    raises,
)

Factory = Callable[[], Any]


def bandit_steps(model, events, arms, rewards):
    """Decide each event one at a time, then learn its logged arm and reward."""
    decided = []
    for x, arm, reward in zip(events, arms, rewards, strict=True):
        decision = model.decide_one(x)
        decided.append((decision.arm, decision.propensity))
        model.learn_one(x, (arm, reward))
    return decided


def check_bandit_batches_equal_one_event_calls(make: Factory) -> None:
    one, many = make(), make()
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
    learned_one, learned_many = make(), make()
    for x, arm, reward in zip(events, arms, rewards, strict=True):
        learned_one.learn_one(x, (arm, reward))
    learned_many.learn_many(columns_of(events), (np.array(arms, dtype=object), rewards))
    assert_same_state(learned_one, learned_many)


def check_bandit_state_round_trip_decides_and_learns_identically(make: Factory) -> None:
    with tempfile.TemporaryDirectory() as folder:
        model = make()
        events, arms, rewards = bandit_log()
        bandit_steps(model, events[:200], arms[:200], rewards[:200])
        model.add_arm("late")
        model.retire_arm("a")
        save_state(model.state(), Path(folder) / "bandit.snapshot")
        restored = load_state(Path(folder) / "bandit.snapshot").to_learner()
        assert restored.arms == model.arms == ["b", 3, "late"]
        assert bandit_steps(restored, events[200:], arms[200:], rewards[200:]) == bandit_steps(
            model, events[200:], arms[200:], rewards[200:]
        )
        assert_same_state(model, restored)


def check_bandit_clone_is_fresh_and_inputs_are_not_mutated(make: Factory) -> None:
    model = make()
    events, arms, rewards = bandit_log()
    columns = {k: np.array(v, dtype=object) for k, v in columns_of(events).items()}
    before = copy.deepcopy((events, columns, arms, rewards))
    untrained = make().decide_many(columns_of(events), details=True).expected
    model.predict_learn_many(columns, (arms, rewards))
    bandit_steps(model, events, arms, rewards)
    assert repr((events, columns, arms, rewards)) == repr(before)
    assert_copies_hold_the_state(model)
    clone = model.clone()
    assert clone.params() == model.params() and clone.arms == ["a", "b", 3]
    np.testing.assert_array_equal(
        clone.decide_many(columns_of(events), details=True).expected, untrained
    )


def check_bandit_bad_input_never_makes_weights_non_finite(make: Factory) -> None:
    model = make()
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
    with raises(TypeError, match="unsupported type"):
        model.learn_one({"age": [1, 2]}, ("a", 1.0))
    with raises(KeyError, match="unknown arm"):
        model.learn_one({"age": 1.0}, ("nope", 1.0))
    for bad in (("a", float("nan")), ("a", "yes"), 1.0, ("a",)):
        with raises(ValueError):
            model.learn_one({"age": 1.0}, bad)
    with raises(TypeError, match="arm id"):
        model.add_arm(1.5)
    assert_same_state(before.to_learner(), model)


def check_recommender_batches_equal_one_event_calls(make: Factory) -> None:
    one, many = make(), make()
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


def check_recommender_state_round_trip_and_clone(make: Factory) -> None:
    with tempfile.TemporaryDirectory() as folder:
        model = make()
        events, ratings = interactions()
        model.learn_many(columns_of(events[:300]), ratings[:300])
        save_state(model.state(), Path(folder) / "mf.snapshot")
        restored = load_state(Path(folder) / "mf.snapshot").to_learner()
        np.testing.assert_array_equal(
            restored.predict_learn_many(columns_of(events[300:]), ratings[300:]),
            model.predict_learn_many(columns_of(events[300:]), ratings[300:]),
        )
        assert_same_state(model, restored)
        assert restored.seen_items("u2") == model.seen_items("u2") != set()
        assert_copies_hold_the_state(model)
        clone = model.clone()
        assert clone.params() == model.params() and clone.user_ids == []
        before = copy.deepcopy((events, ratings))
        clone.learn_many(columns_of(events), ratings)
        assert repr((events, ratings)) == repr(before)


def check_recommender_bad_input_raises_and_leaves_the_model_untouched(make: Factory) -> None:
    model = make()
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
        with raises(error):
            model.learn_one(x, y)
    model.learn_one({"user": "new", "item": "i1"}, 1e300)  # huge: bounded, never non-finite
    assert all(np.isfinite(a).all() for a in float_arrays(model))
    assert_same_state(before.to_learner(), make().from_state(before))


def check_ranker_batches_equal_one_event_calls_and_state_round_trips(make: Factory) -> None:
    with tempfile.TemporaryDirectory() as folder:
        one, many = make(), make()
        events, labels = engagement()
        expected = []
        for x, y in zip(events, labels, strict=True):
            expected.append(one.predict_one(x))
            one.learn_one(x, y)
        first = many.predict_learn_many(columns_of(events[:120]), labels[:120])
        second = many.predict_learn_many(columns_of(events[120:]), labels[120:])
        np.testing.assert_array_equal(np.concatenate([first, second]), expected)
        assert_same_state(one, many)
        save_state(many.state(), Path(folder) / "ranker.snapshot")
        restored = load_state(Path(folder) / "ranker.snapshot").to_learner()
        fresh = messy_events(30, seed=4)
        np.testing.assert_array_equal(
            restored.predict_many(columns_of(fresh)), many.predict_many(columns_of(fresh))
        )
        assert_copies_hold_the_state(many)
        clone = many.clone()
        assert clone.params() == many.params()
        np.testing.assert_array_equal(
            clone.predict_many(columns_of(fresh)), make().predict_many(columns_of(fresh))
        )


def check_ranker_bad_input_raises_and_never_makes_weights_non_finite(make: Factory) -> None:
    model = make()
    events, labels = engagement()
    before_events = copy.deepcopy((events, labels))
    model.learn_many(columns_of(events), labels)
    assert repr((events, labels)) == repr(before_events)
    before = model.state()
    for y in ({"click": 2.0}, {"click": float("inf")}, {"clicks": 1.0}, 1.0, {"dwell": "long"}):
        with raises(ValueError):
            model.learn_one({"age": 1.0}, y)
    with raises(TypeError, match="unsupported type"):
        model.learn_one({"age": [1, 2]}, {"click": 1.0})
    assert_same_state(before.to_learner(), model)
    for _ in range(50):
        model.learn_one({"a": 1e308, "b": float("nan")}, {"click": 1.0, "dwell": 1e12})
    assert all(np.isfinite(a).all() for a in float_arrays(model))
