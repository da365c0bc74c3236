"""Hashing of events and batches: crosses, namespaces, codes, scaling, input kinds."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from streamlearn.features import FeatureHasher, OnlineScaler, cross_hash, hash_text


def test_event_layout_is_sorted_columns_then_crosses():
    hasher = FeatureHasher(
        bits=30, standardize=False, interactions=[("u", "ad")], namespaces={"u": ["user", "age"]}
    )
    event = hasher.encode_one({"user": "u1", "ad": "a9", "age": 3.0})
    seed = hasher.column_seed
    h_ad, h_user = hash_text("a9", seed("ad")), hash_text("u1", seed("user"))
    h_age = seed("age")
    expected = [h_ad, h_age, h_user, cross_hash(h_age, h_ad), cross_hash(h_user, h_ad)]
    assert event.hashes.tolist() == expected
    assert event.values.tolist() == [1.0, 3.0, 1.0, 3.0, 1.0]


def test_same_namespace_interaction_crosses_distinct_pairs_once():
    hasher = FeatureHasher(
        bits=20, standardize=False, namespaces={"n": ["a", "b", "c"]}, interactions=[("n", "n")]
    )
    event = hasher.encode_one({"a": "x", "b": "y", "c": "z"})
    assert len(event.hashes) == 3 + 3


def test_batch_encoding_equals_event_encoding_for_every_input_kind():
    hasher = FeatureHasher(bits=16, categorical=["code"], interactions=[("city", "code")])
    events = [
        {"city": "paris", "code": 7, "x": 1.5},
        {"city": None, "code": -3, "x": np.nan},
        {"city": "", "code": 0, "x": 0.0},
        {"city": "lyon", "code": 2**40, "x": 2.0},
    ]
    inputs = [
        {
            "city": ["paris", None, "", "lyon"],
            "code": [7, -3, 0, 2**40],
            "x": [1.5, np.nan, 0.0, 2.0],
        },
        {
            "city": np.array(["paris", None, "", "lyon"], dtype=object),
            "code": np.array([7, -3, 0, 2**40]),
            "x": np.array([1.5, np.nan, 0.0, 2.0]),
        },
        pa.table(
            {
                "city": ["paris", None, "", "lyon"],
                "code": [7, -3, 0, 2**40],
                "x": [1.5, None, 0.0, 2.0],
            }
        ),
        {
            "city": pa.array(["paris", None, "", "lyon"]).dictionary_encode(),
            "code": pa.chunked_array([[7, -3], [0, 2**40]]),
            "x": np.array([1.5, np.nan, 0.0, 2.0]),
        },
    ]
    for columns in inputs:
        hashes, values = hasher.encode_many(columns, learn=False)
        for row, x in enumerate(events):
            event = hasher.encode_one(x)
            kept, present = values[row] != 0, event.values != 0
            assert hashes[row][kept].tolist() == event.hashes[present].tolist()
            assert values[row][kept].tolist() == event.values[present].tolist()


def test_categorical_floats_hash_like_their_integer_text():
    hasher = FeatureHasher(bits=20, categorical=["c"])
    a = hasher.encode_one({"c": 3.0}).hashes
    b = hasher.encode_one({"c": 3}).hashes
    c = hasher.encode_one({"c": "3"}).hashes
    assert a.tolist() == b.tolist() == c.tolist()
    hashes, _ = hasher.encode_many({"c": np.array([3.0, 4.5])}, learn=False)
    assert hashes[0].tolist() == a.tolist()
    assert hashes[1].tolist() == hasher.encode_one({"c": 4.5}).hashes.tolist()


def test_online_scaler_matches_numpy_on_earlier_values():
    rng = np.random.default_rng(0)
    values = rng.normal(5, 3, 500)
    scaler = OnlineScaler()
    for i, v in enumerate(values):
        got = scaler.transform_one({"x": v})["x"]
        if i >= 2:
            z = (v - values[:i].mean()) / values[:i].std()
            assert got == pytest.approx(np.clip(z, -5, 5), rel=1e-9)
        scaler.learn_one({"x": v})


def test_batch_scaling_folds_event_by_event():
    one, many = FeatureHasher(bits=8, standardize=True), FeatureHasher(bits=8, standardize=True)
    values = np.array([1.0, 2.0, np.nan, 4.0, -1.0, 0.0])
    _, batch = many.encode_many({"x": values}, learn=True)
    for row, v in enumerate(values):
        event = one.encode_one({"x": v})
        one.learn_one(event)
        assert batch[row].tolist() == event.values.tolist()
    np.testing.assert_array_equal(one.scaler.stats, many.scaler.stats)


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match="bits"):
        FeatureHasher(bits=31)
    with pytest.raises(ValueError, match="pairs"):
        FeatureHasher(interactions=[("a", "b", "c")])
    with pytest.raises(TypeError, match="mixes value types"):
        FeatureHasher().encode_many({"a": np.array([1, "x"], dtype=object)}, learn=False)
    with pytest.raises(ValueError, match="different lengths"):
        FeatureHasher().encode_many({"a": [1.0], "b": [1.0, 2.0]}, learn=False)


def test_missing_values_are_a_signal_once_the_column_is_known():
    from streamlearn.models import LogisticRegression

    rng = np.random.default_rng(0)
    n = 4000
    income = rng.normal(50, 10, n)
    unknown = rng.random(n) < 0.3
    label = unknown | (rng.random(n) < 0.1)  # people who hide their income click
    columns = {"income": np.where(unknown, np.nan, income), "city": rng.choice(["a", "b"], n)}
    scores = {}
    for flag in (False, True):
        model = LogisticRegression(bits=12, missing=flag)
        p = model.predict_learn_many(columns, label)
        scores[flag] = np.mean((p[1000:] >= 0.5) == label[1000:])
    assert scores[True] > 0.9 > scores[False] + 0.1


def test_missing_feature_starts_after_the_first_learned_value():
    hasher = FeatureHasher(bits=16, missing=True)
    assert hasher.encode_one({"a": None}).values.tolist() == [0.0]  # not known yet
    hasher.learn_one(hasher.encode_one({"a": "x"}))
    event = hasher.encode_one({})  # known column, absent key
    assert event.hashes.tolist() == [hasher.missing_hash("a")]
    assert event.values.tolist() == [1.0]
    hashes, _ = hasher.encode_many({"b": [1.0, 2.0]}, learn=False)  # "a" is known
    assert hashes[:, 0].tolist() == [hasher.missing_hash("a")] * 2


def test_all_interactions_cross_every_pair_and_learn_what_no_column_alone_shows():
    from streamlearn.models import LogisticRegression

    hasher = FeatureHasher(bits=16, interactions="all")
    assert len(hasher.encode_one({"a": "x", "b": "y", "c": 1.0, "d": "z"}).hashes) == 4 + 6
    with pytest.raises(ValueError, match="'all'"):
        FeatureHasher(interactions="some")
    rng = np.random.default_rng(0)
    n = 6000
    a, b = rng.choice(["p", "q", "r"], n), rng.choice(["p", "q", "r"], n)
    label = a == b  # neither column alone says anything
    columns = {"a": a, "b": b}
    accuracy = {}
    for crosses in ((), "all"):
        p = LogisticRegression(bits=12, interactions=crosses).predict_learn_many(columns, label)
        accuracy[crosses] = np.mean((p[2000:] >= 0.5) == label[2000:])
    assert accuracy["all"] > 0.99 and accuracy[()] < 0.75


def test_straight_line_encoding_equals_the_general_path():
    """Events that fit the code made for their key set, and events that do not (other
    types, empty text, NaN, ±inf, huge numbers, bools), encode exactly as the general path
    does, scaler statistics included."""
    first = {"user": "u1", 'it\'s "odd"\n': "x", "price": 2.5, "n": 3}
    events = [
        first,
        dict(first, user="u2", price=-1.0, n=7),
        dict(first, user=""),
        dict(first, price=float("nan")),
        dict(first, price=float("inf")),
        dict(first, n=10**15),
        dict(first, n=True),
        dict(first, price=4),
        dict(first, user=None),
        dict(first, user=5),
        dict(first, price="cheap"),
        {"user": "u3", "price": 1.0},
    ]
    for standardize in (True, False):
        fast = FeatureHasher(bits=12, interactions=[("user", "price")], standardize=standardize)
        slow = FeatureHasher(bits=12, interactions=[("user", "price")], standardize=standardize)
        slow.straight_line = False
        for event in events * 3:
            got, expected = fast.encode_one(event), slow.encode_one(event)
            np.testing.assert_array_equal(got.hashes, expected.hashes)
            np.testing.assert_array_equal(got.values, expected.values)
            assert got.numbers == expected.numbers and got.seen == expected.seen
            fast.learn_one(got)
            slow.learn_one(expected)
        np.testing.assert_array_equal(fast.scaler.stats, slow.scaler.stats)
    assert any(schema[4] is not None for schema in fast._schemas.values())  # it was used


@pytest.mark.parametrize("optimizer", ["ftrl", "sgd", "adagrad"])
@pytest.mark.parametrize("standardize", [True, False])
@pytest.mark.parametrize("kind", ["logistic", "regression"])
def test_packed_one_event_path_equals_the_general_path(optimizer, standardize, kind):
    """Predicting and learning packed events (one compiled call: scaling, crosses, the step,
    folding the numbers) gives bit for bit what the general path gives, events that cannot
    be packed (other types, empty text, NaN, huge numbers, a dict subclass) mixed in:
    predictions, weights, intercept, scaler statistics and the state's column order."""
    from collections import OrderedDict

    from streamlearn.models import LinearRegression, LogisticRegression

    make = LogisticRegression if kind == "logistic" else LinearRegression
    rng = np.random.default_rng(7)
    base = {"user": "u1", "ad": "a1", "price": 2.5, "n": 3}
    odd = [
        dict(base, user=""),
        dict(base, price=float("nan")),
        dict(base, n=10**15),
        dict(base, n=True),
        dict(base, price=4),
        {"ad": "a2", "price": 1.5},
        OrderedDict(base),
        dict(base, user=None),
        {"price": 3.0, "ad": "a", "user": "u"},
    ]
    events = []
    for i in range(600):
        event = dict(
            base,
            user=f"u{rng.integers(20)}",
            ad=f"a{rng.integers(7)}",
            price=float(rng.normal(3, 2)),
            n=int(rng.integers(-5, 50)),
        )
        events.append(odd[i % len(odd)] if i % 7 == 3 else event)
    targets = rng.random(600) < 0.4 if kind == "logistic" else rng.normal(10, 4, 600)
    models = []
    for packing in (True, False):
        model = make(
            optimizer,
            bits=10,
            interactions=[("user", "ad"), ("ad", "price")],
            standardize=standardize,
        )
        model.features.packing = model.features.straight_line = packing
        models.append(model)
    for i, (event, target) in enumerate(zip(events, targets, strict=True)):
        target = bool(target) if kind == "logistic" else float(target)
        got, expected = (m.predict_one(event) for m in models)
        assert got == expected, i
        if i % 5 != 4:  # some events are only predicted
            for m in models:
                m.learn_one(event, target)
    fast, slow = (m.state() for m in models)
    for name in slow.arrays:
        np.testing.assert_array_equal(fast.arrays[name], slow.arrays[name], err_msg=name)
    assert fast.meta == slow.meta
    assert models[0].features._layouts and not models[1].features._layouts  # it was used


def test_a_composed_featurizer_is_the_same_model_as_its_settings_given_one_by_one():
    from streamlearn.datasets import elec2
    from streamlearn.models import BayesianLinearRegression, LinearBandit, LogisticRegression

    settings = {"bits": 12, "interactions": [("nswprice", "period")], "missing": True}
    events = list(elec2.stream(limit=500))
    composed = LogisticRegression(features=FeatureHasher(**settings))
    flat = LogisticRegression(**settings)
    for model in (composed, flat):
        for x, y in events:
            model.learn_one(x, y)
    assert composed.params() == flat.params()
    assert composed.params()["features"]["interactions"] == [["nswprice", "period"]]
    np.testing.assert_array_equal(composed.weights(), flat.weights())
    again = LogisticRegression.from_state(composed.state())  # the params record rebuilds it
    assert again.features.params() == composed.features.params()
    # A model's own defaults sit under what is given: a bandit hashes with its seed.
    assert LinearBandit(["a"], seed=7).features.seed == 7
    assert LinearBandit(["a"], seed=7, features={"seed": 3}).features.seed == 3
    assert BayesianLinearRegression(features={"bits": 8}).features.size == 256
    with pytest.raises(TypeError, match="not both"):
        LogisticRegression(features=FeatureHasher(bits=8), bits=10)
    with pytest.raises(TypeError, match=r"unknown arguments \['bitz'\]"):
        LogisticRegression(bitz=10)


def test_absurd_numbers_are_absent_and_cannot_wreck_the_online_scaling():
    """5% of rows with 1e308 in a column: the stream scores about as the clean one (such a
    value, clipped and folded in, used to flatten the column's z-scores for good)."""
    import pyarrow.csv as pacsv

    from streamlearn.datasets import elec2
    from streamlearn.evaluate import progressive_val_score
    from streamlearn.models import LogisticRegression

    table = pacsv.read_csv(elec2.path()).slice(0, 20_000)
    X = {name: table[name].to_numpy().astype(float) for name in table.column_names[:-1]}
    y = table["target"].to_numpy().astype(float)
    dirty = {name: column.copy() for name, column in X.items()}
    dirty["feat_2"][::20] = 1e308  # a column this model leans on
    clean = progressive_val_score(LogisticRegression(bits=12), [(X, y)])
    hit = progressive_val_score(LogisticRegression(bits=12), [(dirty, y)])
    assert hit.metrics["roc_auc"] > clean.metrics["roc_auc"] - 0.02


def test_numbers_beyond_max_value_are_absent_on_every_path():
    from streamlearn.config import build_model, load_config_text
    from streamlearn.models import LogisticRegression

    rng = np.random.default_rng(3)
    x = rng.normal(size=300)
    x[[50, 120]] = [1e4, -5e5]  # beyond the bound: absent, as NaN is
    with_outliers, without = LogisticRegression(max_value=100.0), LogisticRegression()
    y = (rng.random(300) < 0.5).astype(float)
    clean = x.copy()
    clean[[50, 120]] = np.nan
    with_outliers.learn_many({"x": x}, y)
    without.learn_many({"x": clean}, y)
    np.testing.assert_array_equal(with_outliers.table, without.table)
    one = LogisticRegression(max_value=100.0)
    for value, label in zip(x.tolist(), y.tolist(), strict=True):
        one.learn_one({"x": value}, label)
    np.testing.assert_array_equal(one.table, with_outliers.table)
    assert type(one).from_state(one.state()).features.max_value == 100.0
    config = load_config_text('[model]\ntask = "binary"\nmax_value = 1e6\n')
    assert build_model(config).features.max_value == 1e6
    with pytest.raises(ValueError, match="max_value"):
        LogisticRegression(max_value=float("inf"))
