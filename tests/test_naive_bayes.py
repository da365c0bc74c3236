"""Naive Bayes against River's: on a stream of word counts, multinomial and Bernoulli naive
Bayes give River's probabilities, event after event (unseen words, a class that appears
late), and batches give what events give. (Gaussian naive Bayes counts a word a document
lacks as a 0, where River's skips it: the benchmark compares it on dense streams.)"""

from __future__ import annotations

import numpy as np
import pytest
from river import naive_bayes

from streamlearn.checks.helpers import assert_same_state
from streamlearn.models import BernoulliNB, MultinomialNB

WORDS = [f"w{i}" for i in range(30)]


def documents(n: int, seed: int = 0):
    """Word counts drawn from a topic's own word distribution; topic "c" from n // 2."""
    rng = np.random.default_rng(seed)
    topics = rng.dirichlet(np.ones(len(WORDS)) * 0.3, size=3)
    docs = []
    for i in range(n):
        topic = int(rng.integers(0, 3 if i >= n // 2 else 2))
        counts = rng.multinomial(int(rng.integers(3, 12)), topics[topic])
        docs.append(({w: int(c) for w, c in zip(WORDS, counts, strict=True) if c}, "abc"[topic]))
    return docs


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (lambda: MultinomialNB(alpha=0.5), lambda: naive_bayes.MultinomialNB(alpha=0.5)),
        (lambda: BernoulliNB(), lambda: naive_bayes.BernoulliNB()),
        (lambda: BernoulliNB(true_threshold=1), lambda: naive_bayes.BernoulliNB(true_threshold=1)),
    ],
    ids=["multinomial", "bernoulli", "bernoulli-threshold"],
)
def test_naive_bayes_gives_rivers_probabilities(ours, theirs):
    model, river = ours(), theirs()
    for x, y in documents(600):
        mine, their = model.predict_proba_one(x), river.predict_proba_one(x)
        for label in set(mine) | set(their):
            assert mine.get(label, 0.0) == pytest.approx(their.get(label, 0.0), abs=1e-9)
        model.learn_one(x, y)
        river.learn_one(x, y)


@pytest.mark.parametrize("kind", [MultinomialNB, BernoulliNB])
def test_naive_bayes_batches_equal_events(kind):
    docs = documents(500, seed=1)
    one, many = kind(), kind()
    expected = []
    for x, y in docs:
        expected.append(one.predict_proba_one(x))
        one.learn_one(x, y)
    columns = {w: np.array([x.get(w, 0) for x, _ in docs], float) for w in WORDS}
    proba = many.predict_learn_many(columns, np.array([y for _, y in docs], dtype=object))
    for row, want in zip(proba, expected, strict=True):
        np.testing.assert_array_equal(
            row[: len(want)], [want[c] for c in many.classes[: len(want)]]
        )
    assert_same_state(one, many)


def test_negative_counts_count_as_none_and_bad_settings_are_refused():
    model = MultinomialNB()
    model.learn_one({"w1": 3, "w2": -5}, "a")
    model.learn_one({"w1": 1}, "b")
    assert np.isfinite(list(model.predict_proba_one({"w2": -1, "w1": 2}).values())).all()
    with pytest.raises(ValueError, match="alpha"):
        MultinomialNB(alpha=0)
    with pytest.raises(ValueError, match="true_threshold"):
        BernoulliNB(true_threshold=float("nan"))
