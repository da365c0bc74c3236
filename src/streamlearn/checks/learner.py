"""Checks every learner passes: batch calls equal one-event calls, state round-trips, clones
are fresh, inputs are not mutated, and bad input follows the documented policy (missing,
None, empty, NaN and inf values are ignored, huge numbers clipped, unsupported types raise
``TypeError``, bad labels ``ValueError`` and leave the model untouched, and no input ever
makes a weight non-finite).

Each check takes a factory of fresh, identical learners (``learner.clone`` will do).
"""

from __future__ import annotations

import copy
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from streamlearn.base import (
    Classifier,
    MulticlassClassifier,
    learner_kinds,
    load_state,
    save_state,
)
from streamlearn.checks.data import columns_of, labelled, messy_events
from streamlearn.checks.helpers import (
    assert_copies_hold_the_state,
    assert_same_state,
    float_arrays,
    predictions_many,
    predictions_one,
    raises,
)

Factory = Callable[[], Any]


def check_is_registered(make: Factory) -> None:
    """Snapshots name a learner by its kind: the kind must be registered to load."""
    kind = type(make()).__name__
    assert kind in learner_kinds(), (
        f"{kind} is not a registered learner kind: decorate it with streamlearn.base.register"
    )


def check_predict_learn_many_equals_one_event_calls(make: Factory) -> None:
    one, many = make(), make()
    events, targets = labelled(one)
    expected = predictions_one(one, events, targets)
    first = many.predict_learn_many(columns_of(events[:123]), targets[:123])
    second = many.predict_learn_many(columns_of(events[123:]), targets[123:])
    if first.ndim == 2:  # multiclass: the second batch may know more classes
        first = np.pad(first, ((0, 0), (0, second.shape[1] - first.shape[1])))
    np.testing.assert_array_equal(np.concatenate([first, second]), expected)
    assert_same_state(one, many)


def check_learn_many_equals_repeated_learn_one(make: Factory) -> None:
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


def check_state_round_trip_predicts_and_learns_identically(make: Factory) -> None:
    with tempfile.TemporaryDirectory() as folder:
        model = make()
        events, targets = labelled(model)
        for x, y in zip(events[:200], targets[:200], strict=True):
            model.learn_one(x, y)
        path = Path(folder) / "model.snapshot"
        save_state(model.state(), path)
        restored = load_state(path).to_learner()
        assert type(restored) is type(model)
        np.testing.assert_array_equal(
            predictions_one(restored, events[200:], targets[200:]),
            predictions_one(model, events[200:], targets[200:]),
        )
        assert_same_state(model, restored)


def check_clone_is_fresh_and_independent(make: Factory) -> None:
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


def check_copies_and_pickles_continue_as_the_original(make: Factory) -> None:
    """``copy.deepcopy`` and an in-process ``pickle`` round trip give a learner that
    predicts and learns as the original would, and learns apart from it."""
    model = make()
    events, targets = labelled(model)
    for x, y in zip(events[:200], targets[:200], strict=True):
        model.learn_one(x, y)
    assert_copies_hold_the_state(model)
    copies = [copy.deepcopy(model), pickle.loads(pickle.dumps(model))]
    expected = predictions_one(model, events[200:], targets[200:])
    for other in copies:
        np.testing.assert_array_equal(predictions_one(other, events[200:], targets[200:]), expected)
        assert_same_state(model, other)  # each learned apart, the same events


def check_inputs_are_not_mutated(make: Factory) -> None:
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
    # repr: NaN != NaN would defeat ==
    assert repr(events) == repr(before_events), "learning changed the events it was given"
    assert all(repr(arrays[k]) == repr(before_arrays[k]) for k in arrays), "columns changed"
    np.testing.assert_array_equal(target_array, before_targets)


def check_bad_values_never_make_weights_non_finite(make: Factory) -> None:
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


def check_missing_values_are_ignored(make: Factory) -> None:
    model = make()
    events, targets = labelled(model)
    model.learn_many(columns_of(events), targets)
    a = predictions_one(model, [{"age": 30.0}], [None], learn=False)
    b = predictions_one(
        model, [{"age": 30.0, "city": None, "visits": float("nan"), "x": ""}], [None], learn=False
    )
    np.testing.assert_array_equal(a, b)


def check_unsupported_types_raise_and_leave_the_model_untouched(make: Factory) -> None:
    model = make()
    events, targets = labelled(model)
    model.learn_many(columns_of(events), targets)
    before = model.state()
    with raises(TypeError, match="unsupported type"):
        model.learn_one({"age": [1, 2]}, targets[0])
    with raises(TypeError, match="names must be str"):
        model.learn_one({1: 2.0}, targets[0])
    with raises(TypeError):
        model.learn_one([("age", 1.0)], targets[0])
    with raises(ValueError):
        model.learn_one({"age": 1.0}, float("nan"))
    with raises(ValueError):
        model.learn_many({"age": np.ones(3)}, np.array([1.0, np.nan, 0.0]))
    with raises(ValueError):
        model.learn_many({"age": np.ones(3)}, np.ones(2))
    assert_same_state(before.to_learner(), model)
