"""``auto``: its pool learns which members help, a class first seen inside a batch is
answered as it is one event at a time, and a snapshot of another make is refused."""

from __future__ import annotations

import numpy as np
import pytest

from streamlearn.base import State
from streamlearn.models import (
    AdaptiveRandomForestClassifier,
    AMFClassifier,
    AutoMulticlass,
    KNNClassifier,
)
from streamlearn.models.auto import BINARY, pool_many


def pooled_log_loss(
    answers: np.ndarray, truth: np.ndarray, weights: np.ndarray, learn: bool = True
) -> float:
    out = np.zeros((len(truth), 1))
    known = np.full(len(truth), 2)
    pool_many(answers, truth.astype(float), known, weights, 0.05, BINARY, learn, out)
    p = np.where(truth, out[:, 0], 1 - out[:, 0])
    return float(-np.log(p[-1000:]).mean())


def test_the_pool_weighs_a_member_that_knows_and_drops_one_that_guesses():
    rng = np.random.default_rng(3)
    truth = rng.random(5000) < 0.5
    right = rng.random(5000) < 0.8
    knows = np.where(truth == right, 0.8, 0.2)  # right four times in five, and says so
    guesses = rng.random(5000)
    answers = np.stack([knows, guesses], axis=1)[:, :, None]
    weights = np.full(2, 0.5)
    loss = pooled_log_loss(answers, truth, weights)
    assert weights[0] > 0.8 and weights[1] < weights[0] / 2
    alone = float(-np.log(np.where(truth, knows, 1 - knows)[-1000:]).mean())
    assert loss == pytest.approx(alone, rel=0.03)  # the pool is about the member that knows
    assert pooled_log_loss(answers, truth, np.full(2, 0.5), learn=False) > loss * 1.1  # unlearned


def small_auto() -> AutoMulticlass:
    return AutoMulticlass(
        window=50,
        seed=1,
        forest=AdaptiveRandomForestClassifier(n_models=2, grace_period=20, seed=1),
        mondrian=AMFClassifier(n_models=2, seed=1),
        neighbors=KNNClassifier(window_size=50),
    )


def test_a_class_first_seen_inside_a_batch_is_answered_as_one_event_at_a_time():
    rng = np.random.default_rng(5)
    a, b = rng.random(900), rng.random(900)
    labels = np.where(a > 0.5, "high", "low").astype(object)
    labels[600:] = np.where(b[600:] > 0.7, "new", labels[600:])  # a third class at 600
    one, many = small_auto(), small_auto()
    expected = []
    for i in range(900):
        x = {"a": a[i], "b": b[i]}
        proba = one.predict_proba_one(x)
        expected.append([proba.get(label, 0.0) for label in ("high", "low", "new")])
        one.learn_one(x, labels[i])
    got = many.predict_learn_many({"a": a, "b": b}, labels)
    order = [many.classes.index(label) for label in ("high", "low", "new")]
    np.testing.assert_allclose(got[:, order], expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(one.pool, many.pool)
    assert one.pool_weights != dict.fromkeys(one.pool_weights, 0.25)  # the pool learned


def test_a_snapshot_without_the_members_is_refused():
    model = small_auto()
    model.learn_one({"a": 0.1}, "x")
    state = model.state()
    params = {k: v for k, v in state.params.items() if k != "mondrian"}
    with pytest.raises(ValueError, match="no member mondrian"):
        AutoMulticlass.from_state(State(state.kind, params, state.arrays, state.meta))
    arrays = dict(state.arrays) | {"pool": np.ones(3)}
    with pytest.raises(ValueError, match="pool weights do not fit"):
        AutoMulticlass.from_state(State(state.kind, state.params, arrays, state.meta))
