"""Online matrix factorization: known updates, top-N, BPR's sampling, MovieLens, the runner."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from streamlearn.datasets import movielens, synth
from streamlearn.evaluate.topn import progressive_topn
from streamlearn.models import BPRMF, BiasedMF
from streamlearn.runner import Runner
from streamlearn.streams import FileEvents


def test_one_sgd_step_is_the_textbook_update():
    model = BiasedMF(n_factors=2, lr_bias=0.1, lr_latent=0.2, l2_bias=0.01, l2_latent=0.02)
    model.learn_one({"user": "a", "item": "x"}, 4.0)  # a new pair: predicted μ = 0
    p, q = model.users[0].copy(), model.items[0].copy()
    bu, bi, mu = model.user_bias[0], model.item_bias[0], model.stats[1]
    assert mu == 4.0 and bu == pytest.approx(0.1 * 4.0) and bi == pytest.approx(0.1 * 4.0)
    predicted = mu + bu + bi + p @ q
    model.learn_one({"user": "a", "item": "x"}, 3.0)
    error = 3.0 - predicted
    assert model.user_bias[0] == pytest.approx(bu + 0.1 * (error - 0.01 * bu))
    np.testing.assert_allclose(model.users[0], p + 0.2 * (error * q - 0.02 * p))
    np.testing.assert_allclose(model.items[0], q + 0.2 * (error * p - 0.02 * q))
    assert model.stats[1] == 3.5


def test_recommend_ranks_unseen_items_by_score():
    model = BiasedMF(n_factors=3, seed=2)
    columns, ratings = synth.ratings(5000, users=50, items=30, seed=4)
    model.learn_many(columns, ratings)
    counts = np.bincount(columns["user"])
    user = int(np.flatnonzero((counts > 0) & (counts < 15))[0])  # has unseen items left
    top = model.recommend(user, 5)
    seen = model.seen_items(user)
    assert len(seen) > 0 and len(top) == 5 and not {item for item, _ in top} & seen
    scores = [score for _, score in top]
    assert scores == sorted(scores, reverse=True)
    everything = model.recommend(user, 100, exclude_seen=False)
    assert len(everything) == 30 and {i for i, _ in everything} >= seen
    stranger = model.recommend("nobody", 3)  # an unknown user: the best item biases
    best = np.argsort(-model.item_bias)[:3]
    assert [item for item, _ in stranger] == [model.item_ids[i] for i in best]


def test_bpr_ranks_what_users_chose_above_the_rest():
    rng = np.random.default_rng(5)
    # Two groups of users, each liking its own half of the items.
    users = rng.integers(0, 100, 30_000)
    items = np.where(users < 50, rng.integers(0, 20, 30_000), rng.integers(20, 40, 30_000))
    model = BPRMF(n_factors=4, lr_latent=0.05, seed=1)
    model.learn_many({"user": users, "item": items}, np.ones(len(users)))
    scores = model.scores(3)
    assert (
        scores[[model.item_ids.index(i) for i in range(20)]].min()
        > scores[[model.item_ids.index(i) for i in range(20, 40)]].max()
    )


def test_bpr_negatives_are_never_items_the_user_has_seen():
    model = BPRMF(n_factors=2, negatives=5, seed=3, lr_bias=0.5, l2_bias=0.0)
    items = list(range(10))
    model.learn_many({"user": ["all"] * 10, "item": items}, np.ones(10))  # "all" saw all 10
    bias = model.item_bias.copy()
    model.learn_many({"user": ["other"] * 9, "item": items[:9]}, np.ones(9))
    # "other" never chose item 9: every negative drawn for it after the first events is 9.
    assert model.item_bias[9] < bias[9]
    before = model.item_bias.copy()
    model.learn_one({"user": "all", "item": 3})  # nothing unseen for "all": no negative
    assert model.item_bias[3] == before[3] and (model.item_bias == before).all()


@pytest.fixture(scope="module")
def ratings():
    return movielens.load(limit=30_000)


def test_movielens_rmse_and_top_n(ratings):
    model = BiasedMF(seed=1)
    predicted = model.predict_learn_many(ratings.columns, ratings.ratings)
    rmse = np.sqrt(np.mean((predicted - ratings.ratings) ** 2))
    mean_only = np.sqrt(
        np.mean((np.cumsum(ratings.ratings) / np.arange(1, 30_001) - ratings.ratings)[1:] ** 2)
    )
    assert rmse < 0.92 * mean_only
    head = {k: v[:10_000] for k, v in ratings.columns.items()}
    bpr = progressive_topn(
        BPRMF(n_factors=20, lr_latent=0.05, negatives=3, seed=1),
        head,
        ratings.ratings[:10_000],
        every=4,
    )
    assert bpr["recall@10"] > 0.08 and bpr["scored"] > 1000


def test_the_runner_serves_and_learns_ratings(tmp_path, ratings):
    path = tmp_path / "ratings.csv"
    n = 5000
    pacsv.write_csv(
        pa.table(
            {
                "user": ratings.columns["user"][:n],
                "item": ratings.columns["item"][:n],
                "rating": ratings.ratings[:n],
            }
        ),
        path,
    )
    reference = BiasedMF(seed=1)
    expected = reference.predict_learn_many(
        {k: v[:n] for k, v in ratings.columns.items()}, ratings.ratings[:n]
    )
    runner = Runner(
        BiasedMF(seed=1),
        FileEvents(path, "rating", categorical=["user", "item"]),
        micro_batch=777,
        predictions=tmp_path / "p.csv",
    )
    summary = runner.run()
    np.testing.assert_array_equal(runner.model.users, reference.users)
    served = np.loadtxt(tmp_path / "p.csv", delimiter=",", skiprows=1, usecols=2)
    np.testing.assert_allclose(served, expected, rtol=1e-12)
    assert summary.learned == n and summary.metrics["rmse"] > 0


@pytest.mark.parametrize("kind", ["str", "int", "numpy"])
def test_biased_mf_one_event_at_a_time_equals_the_batch_bit_for_bit(kind):
    columns, ratings = synth.ratings(6_000, seed=4)
    make = {"str": str, "int": int, "numpy": np.int64}[kind]
    as_id = (lambda v: make(v)) if kind != "str" else (lambda v: f"id{v}")
    users = [as_id(int(v)) for v in np.asarray(columns["user"]).tolist()]
    items = [as_id(int(v)) for v in np.asarray(columns["item"]).tolist()]
    batch = BiasedMF(seed=3).predict_learn_many({"user": users, "item": items}, ratings)
    one, predicted = BiasedMF(seed=3), []
    for user, item, rating in zip(users, items, ratings.tolist(), strict=True):
        predicted.append(one.predict_one({"user": user, "item": item}))
        one.learn_one({"user": user, "item": item}, rating)
    np.testing.assert_array_equal(np.array(predicted), batch)
    cold = one.predict_one({"user": as_id(10**6), "item": items[0]})  # a user never seen
    assert cold == one.stats[1] + one.item_bias[one._item_index[items[0]]]
    with pytest.raises(TypeError, match="str or an int"):
        one.learn_one({"user": True, "item": items[0]}, 3.0)
    with pytest.raises(ValueError, match="missing 'item'"):
        one.predict_one({"user": users[0]})
