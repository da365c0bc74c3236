"""The fraud case study's parts: entity features against a plain reference, the Redis
store, the cold-start rule, the FP-budget threshold, late labels through the runner, and
the real credit-card stream."""

from __future__ import annotations

import lzma
import math

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from streamlearn.evaluate.metrics import average_precision
from streamlearn.features.entity import EntityStore, RedisEntityStore
from streamlearn.models import FraudDetector
from streamlearn.runner import Runner
from streamlearn.streams import FileEvents
from tests.conftest import data_dir


def reference_features(ids, times, amounts, labels, half_life, prior, weight):
    """The same features the slow, obvious way: each event against its entity's list."""
    history: dict = {}
    rows = []
    for k, (key, t, amount) in enumerate(zip(ids, times, amounts, strict=True)):
        past = history.setdefault(key, [])
        logs = [math.log1p(a) for _, a, _ in past]
        z = 0.0
        if len(logs) >= 2:
            std = np.std(logs, ddof=1)
            z = (math.log1p(amount) - np.mean(logs)) / std if std > 0 else 0.0
        velocity = sum(0.5 ** ((t - s) / half_life) for s, _, _ in past)
        since = math.log1p(t - past[-1][0]) if past else 0.0
        positives = sum(y for _, _, y in past if y is not None)
        labelled = sum(1 for _, _, y in past if y is not None)
        rows.append(
            (
                z,
                math.log1p(len(past)),
                since,
                (positives + weight * prior) / (labelled + weight),
                velocity,
            )
        )
        past.append((t, amount, labels[k] if labels is not None else None))
    return np.array(rows)


def random_events(n=600, seed=0):
    rng = np.random.default_rng(seed)
    ids = [f"c{i}" for i in rng.integers(0, 15, n)]
    times = np.cumsum(rng.exponential(100, n))
    amounts = rng.lognormal(3, 1, n)
    labels = (rng.random(n) < 0.1).astype(float)
    return ids, times, amounts, labels


@pytest.mark.parametrize("with_labels", [False, True])
def test_entity_features_equal_the_plain_definition(with_labels):
    ids, times, amounts, labels = random_events()
    store = EntityStore(half_lives=(600.0,), prior=0.01, weight=5.0)
    got = store.prepare(ids, times, amounts, labels if with_labels else None)[0]
    expected = reference_features(
        ids, times, amounts, labels if with_labels else None, 600.0, 0.01, 5.0
    )
    for k, name in enumerate(["amount_z", "log_count", "since_last", "fraud_rate", "velocity_600"]):
        np.testing.assert_allclose(got[name], expected[:, k], rtol=1e-9, atol=1e-12, err_msg=name)


def test_one_batch_equals_event_by_event_and_peek_changes_nothing():
    ids, times, amounts, _ = random_events(200, seed=1)
    batch, one = EntityStore(), EntityStore()
    whole = batch.transform_update(ids, times, amounts)
    parts = [
        one.transform_update([i], [t], [a]) for i, t, a in zip(ids, times, amounts, strict=True)
    ]
    for name in whole:
        np.testing.assert_array_equal(whole[name], [p[name][0] for p in parts])
    before = batch.table.copy()
    batch.peek(ids[:10], times[:10], amounts[:10])
    batch.prepare(ids[:10], times[:10], amounts[:10])  # never committed
    np.testing.assert_array_equal(batch.table, before)


def test_the_redis_store_shares_the_same_state(redis_client):
    ids, times, amounts, labels = random_events(300, seed=2)
    local, shared = EntityStore(), RedisEntityStore(redis_client, prefix="t")
    other_worker = RedisEntityStore(redis_client, prefix="t")
    expected = local.transform_update(ids, times, amounts)
    first = shared.transform_update(ids[:150], times[:150], amounts[:150])
    second = other_worker.transform_update(ids[150:], times[150:], amounts[150:])
    for name in expected:
        np.testing.assert_allclose(np.concatenate([first[name], second[name]]), expected[name])
    local.learn_labels(ids, labels)
    shared.learn_labels(ids, labels)
    probe = (["c1"], [times[-1] + 1], [10.0])
    assert local.peek(*probe)["fraud_rate"][0] == pytest.approx(
        other_worker.prepare(*probe)[0]["fraud_rate"][0]
    )


def synthetic(n=20_000, seed=0):
    rng = np.random.default_rng(seed)
    cards = rng.integers(0, 400, n)
    amounts = rng.lognormal(3, 1, n)
    fraud = rng.random(n) < 0.01
    amounts[fraud] *= 30
    return {"card": cards, "t": np.arange(n) * 30.0, "amount": amounts}, fraud.astype(float)


def test_the_rule_scores_until_enough_frauds_then_the_model():
    X, y = synthetic(3000)
    detector = FraudDetector(entity="card", time="t", amount="amount", min_frauds=10)
    scores = detector.predict_learn_many(X, y)
    tenth = int(np.flatnonzero(y)[9])  # the 10th fraud is learned at this event
    z = EntityStore(half_lives=(3600.0, 86400.0)).transform_update(X["card"], X["t"], X["amount"])[
        "amount_z"
    ]
    np.testing.assert_allclose(
        scores[: tenth + 1], 1 / (1 + np.exp(-(z[: tenth + 1] - 3.0))), atol=1e-12
    )
    assert not np.allclose(scores[tenth + 1 :], 1 / (1 + np.exp(-(z[tenth + 1 :] - 3.0))))
    assert detector.ready


def test_the_threshold_keeps_to_the_false_positive_budget():
    X, y = synthetic(40_000, seed=3)
    detector = FraudDetector(entity="card", time="t", amount="amount", fp_budget=0.02)
    scores = detector.predict_learn_many(X, y)
    late = slice(20_000, None)
    flagged = scores[late] >= detector.threshold
    legit = y[late] == 0
    assert 0.005 < flagged[legit].mean() <= 0.03
    assert flagged[~legit].mean() > 0.6  # most frauds caught


def test_late_labels_reach_the_entity_only_when_they_arrive(tmp_path):
    # One card; its first event is a fraud whose label comes 10 events later.
    n = 30
    path = tmp_path / "tx.csv"
    label = [1.0] + [0.0] * (n - 1)
    pacsv.write_csv(
        pa.table(
            {
                "card": ["a"] * n,
                "secs": np.arange(n) * 1.0,
                "amount": np.full(n, 20.0),
                "fraud": label,
                "delay": [10.0] + [1000.0] * (n - 1),
            }
        ),
        path,
    )
    runner = Runner(
        FraudDetector(entity="card", time="secs", amount="amount", min_frauds=0),
        FileEvents(path, "fraud", categorical=["card"], delay_column="delay"),
        micro_batch=1,
        drain_at_end=False,
    )
    rates = []
    for _ in range(n):
        runner.run(limit=1)
        rates.append(runner.model.store.peek(["a"], [99.0], [20.0])["fraud_rate"][0])
    prior = 0.002 * 20 / 20
    assert rates[9] == pytest.approx(prior)  # not yet: the label is still on its way
    assert rates[11] == pytest.approx((1 + 0.002 * 20) / (1 + 20))  # arrived and learned


def test_the_real_credit_card_stream_with_late_chargebacks(tmp_path):
    with lzma.open(data_dir() / "creditcard.csv.xz") as fh:
        reader = pacsv.open_csv(fh)
        batches, rows = [], 0
        while rows < 40_000:
            batches.append(reader.read_next_batch())
            rows += batches[-1].num_rows
    table = pa.Table.from_batches(batches).slice(0, 40_000)
    labels = table["Class"].to_numpy()
    stream = table.drop(["Class"]).append_column(
        "Class", pa.array([1.0 if c else None for c in labels], pa.float64())
    )
    stream = stream.append_column("seconds", table["Time"]).append_column(
        "delay", pa.array(np.where(labels == 1, 3600.0, 0.0))
    )
    segment = np.searchsorted(
        np.quantile(table["V1"].to_numpy(), np.linspace(0.1, 0.9, 9)), table["V1"].to_numpy()
    )
    stream = stream.append_column("segment", pa.array(segment.astype(str)))
    pacsv.write_csv(stream, tmp_path / "tx.csv")
    runner = Runner(
        FraudDetector(entity="segment", time="seconds", amount="Amount"),
        FileEvents(
            tmp_path / "tx.csv",
            "Class",
            categorical=["segment"],
            time_column="Time",
            delay_column="delay",
        ),
        ttl=7200.0,
        expiry="default",
        predictions=tmp_path / "scores.csv",
    )
    summary = runner.run()
    scores = pacsv.read_csv(tmp_path / "scores.csv")
    truth = labels[scores["offset"].to_numpy() - 1]
    assert summary.learned == 40_000 and truth.sum() == labels.sum() > 50
    base_rate = truth.mean()
    assert average_precision(scores["prediction"].to_numpy(), truth) > 50 * base_rate
