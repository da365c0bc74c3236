"""The conformance suite (:mod:`streamlearn.checks`) on every learner of the project.

A new learner is checked by adding one line to ``LEARNERS`` (or to the dict of its family);
each check then runs as a test of its own.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from streamlearn import checks
from streamlearn.adaptation import Background, Boost, Shrink, adaptive
from streamlearn.base import MulticlassClassifier
from streamlearn.base import state as state_module
from streamlearn.base.state import learner_kinds
from streamlearn.checks import check_learner, checks_for, labelled
from streamlearn.drift import DDM, PageHinkley
from streamlearn.models import (
    BPRMF,
    FTRL,
    SGD,
    AdaGrad,
    AdaptiveRandomForestClassifier,
    AdaptiveRandomForestRegressor,
    AMFClassifier,
    AMFRegressor,
    AutoClassifier,
    AutoMulticlass,
    AutoRegressor,
    BayesianLinearRegression,
    BernoulliNB,
    BiasedMF,
    EngagementRanker,
    FraudDetector,
    GaussianNB,
    HedgeClassifier,
    HedgeRegressor,
    HoeffdingAdaptiveTreeClassifier,
    HoeffdingAdaptiveTreeRegressor,
    HoeffdingTreeClassifier,
    HoeffdingTreeRegressor,
    HybridLinUCB,
    KNNClassifier,
    KNNRegressor,
    LinearBandit,
    LinearRegression,
    LogisticRegression,
    MultinomialNB,
    OneVsRest,
    SoftmaxRegression,
)

__all__ = ["LEARNERS", "labelled"]

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
    "hoeffding-tree": lambda: HoeffdingTreeClassifier(grace_period=30, feature_cap=12),
    "hoeffding-tree-capped": lambda: HoeffdingTreeClassifier(
        grace_period=20, leaf_prediction="mc", max_leaves=3, tau=0.5
    ),
    # Sensitive detectors and a small cap: alternates start, switch in and are pruned.
    "hoeffding-adaptive-tree": lambda: HoeffdingAdaptiveTreeClassifier(
        grace_period=20, drift_delta=0.3, drift_window_threshold=20, max_leaves=6, seed=3
    ),
    # Sensitive detectors and a small pool: trees are replaced and dead nodes compacted.
    "adaptive-random-forest": lambda: AdaptiveRandomForestClassifier(
        n_models=3, grace_period=20, warning_delta=0.3, drift_delta=0.2, seed=7
    ),
    "gaussian-nb": lambda: GaussianNB(feature_cap=40),
    "knn-classifier": lambda: KNNClassifier(n_neighbors=3, window_size=50),
    "knn-regressor": lambda: KNNRegressor(window_size=40, feature_cap=6),
    "aggregated-mondrian-forest": lambda: AMFClassifier(n_models=3, seed=4),
    "aggregated-mondrian-forest-capped": lambda: AMFClassifier(
        n_models=2, max_nodes=9, use_aggregation=False, split_pure=True, feature_cap=5
    ),
    "aggregated-mondrian-regressor": lambda: AMFRegressor(n_models=3, seed=4, standardize=True),
    "aggregated-mondrian-regressor-capped": lambda: AMFRegressor(
        n_models=2, max_nodes=9, use_aggregation=False, feature_cap=5
    ),
    "multinomial-nb": lambda: MultinomialNB(alpha=0.5),
    "auto-classifier": lambda: AutoClassifier(
        window=50, forest=AdaptiveRandomForestClassifier(n_models=2, grace_period=20, seed=1)
    ),
    "auto-multiclass": lambda: AutoMulticlass(
        window=50, forest=AdaptiveRandomForestClassifier(n_models=2, grace_period=20, seed=1)
    ),
    "auto-regressor": lambda: AutoRegressor(
        window=50, forest=AdaptiveRandomForestRegressor(n_models=2, grace_period=20, seed=1)
    ),
    "bernoulli-nb": lambda: BernoulliNB(true_threshold=0.3, feature_cap=12),
    "hoeffding-tree-regressor": lambda: HoeffdingTreeRegressor(grace_period=20),
    "hoeffding-tree-regressor-mean": lambda: HoeffdingTreeRegressor(
        grace_period=20, leaf_prediction="mean", n_bins=4, max_leaves=3, feature_cap=3
    ),
    "adaptive-random-forest-regressor": lambda: AdaptiveRandomForestRegressor(
        n_models=3, grace_period=20, warning_delta=0.3, drift_delta=0.2, seed=7
    ),
    # Sensitive detectors and a small cap: alternates start, switch in and are pruned.
    "hoeffding-adaptive-tree-regressor": lambda: HoeffdingAdaptiveTreeRegressor(
        grace_period=20, drift_delta=0.3, drift_window_threshold=20, max_leaves=6, seed=3
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

RECOMMENDERS = {
    "biased-mf": lambda: BiasedMF(n_factors=4, seed=3),
    "bpr-mf": lambda: BPRMF(n_factors=4, seed=3, negatives=2),
}

RANKERS = {
    "engagement-ranker": lambda: EngagementRanker(
        {"click": "binary", "dwell": "regression"},
        weights={"dwell": 0.1},
        bits=12,
        interactions=[("city", "device")],
    ),
}

EVERY = LEARNERS | BANDITS | RECOMMENDERS | RANKERS
CASES = [(name, check) for name in sorted(EVERY) for check in checks_for(EVERY[name]())]


@pytest.mark.parametrize(
    ("name", "check"), CASES, ids=[f"{name}:{check.__name__[6:]}" for name, check in CASES]
)
def test_conformance(name, check):
    check(EVERY[name])


def test_every_registered_learner_is_in_the_suite():
    factories = EVERY.values()
    kinds = {type(factory()).__name__ for factory in factories}
    # RiverModel wraps River's estimators, which keep River's own input policy (its checks
    # live in tests/test_river_interop.py); the optional torch learners have theirs in
    # tests/test_neural.py (batched float32 forward passes agree with one-row ones to
    # rounding, not bit for bit).
    # Tests register learners of their own (one that fails on purpose, say): not the
    # project's.
    ours = {
        name for name, cls in learner_kinds().items() if cls.__module__.startswith("streamlearn")
    }
    assert kinds == ours - {"RiverModel", "TorchClassifier", "TorchRegressor"}


class _Skewed(LogisticRegression):
    """A learner whose batch predictions drift from its one-event ones."""

    def predict_proba_many(self, X):
        return super().predict_proba_many(X) * 0.999


class _Leaky(LinearRegression):
    """A learner that changes the events it is given."""

    def learn_one(self, x, y):
        x.pop("age", None)
        super().learn_one(x, y)


@pytest.mark.parametrize(
    ("broken", "why"),
    [(_Skewed, "check_learn_many_equals_repeated_learn_one"), (_Leaky, "changed the events")],
)
def test_check_learner_catches_a_broken_learner(broken, why, monkeypatch):
    with pytest.raises(AssertionError, match="not a registered learner kind"):
        check_learner(broken(bits=10))
    monkeypatch.setitem(state_module._KINDS, broken.__name__, broken)
    with pytest.raises(AssertionError, match=why):
        check_learner(broken(bits=10))


def test_check_learner_passes_a_sound_learner_of_each_family():
    for factory in (LEARNERS["logistic-ftrl"], BANDITS["bandit-ucb"], RANKERS["engagement-ranker"]):
        check_learner(factory())
    check_learner(BiasedMF(n_factors=4, seed=3))


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


SERVED = sorted(
    name
    for name, make in LEARNERS.items()
    if checks.engine.check_run_stopped_at_a_checkpoint_and_resumed_ends_bit_identical
    in checks_for(make())
)


@pytest.mark.parametrize("name", SERVED)
def test_every_runnable_learner_answers_over_http_one_event_and_a_batch(name):
    """Through the service: labelled events learned, then one event and a batch answered,
    each prediction logged with a version, and its label joined when it comes."""
    from fastapi.testclient import TestClient

    from streamlearn.runner import Runner
    from streamlearn.service import Trainer
    from streamlearn.service.app import create_app
    from streamlearn.streams.live import LiveEvents

    model = EVERY[name]()
    messy, targets = labelled(model, n=120)
    events = [  # JSON has no NaN nor inf: those become nulls
        {k: v if not isinstance(v, float) or np.isfinite(v) else None for k, v in x.items()}
        for x in messy
    ]
    multiclass = isinstance(model, MulticlassClassifier)
    labels = targets if multiclass else [float(y) for y in targets]
    live = LiveEvents()
    trainer = Trainer(Runner(model, live, ttl=60.0, drain_at_end=False), live, publish_every=0)
    trainer.start()
    auth = {"Authorization": "Bearer t"}
    client = TestClient(create_app(trainer=trainer, token="t"))
    try:
        body = [{"features": x, "label": y} for x, y in zip(events[:100], labels, strict=False)]
        assert client.post("/learn", json={"events": body}, headers=auth).status_code == 200
        learned(trainer, 100)
        one = client.post("/predict", json={"id": "one", "features": events[100]})
        many = client.post(
            "/predict",
            json={
                "events": [{"id": f"b{k}", "features": x} for k, x in enumerate(events[101:104])]
            },
        )
        assert one.status_code == many.status_code == 200, (one.text, many.text)
        answers = one.json()["predictions"] + many.json()["predictions"]
        assert [a["id"] for a in answers] == ["one", "b0", "b1", "b2"]
        assert all(a["model_version"] for a in answers)
        if multiclass:  # the best class, and the probability of every class it may be
            for a in answers:
                pairs = [(c["class"], c["probability"]) for c in a["probabilities"]]
                assert pairs and set(map(repr, dict(pairs))) <= set(map(repr, model.classes))
                assert abs(sum(p for _, p in pairs) - 1) < 1e-9
                assert a["prediction"] == max(pairs, key=lambda pair: pair[1])[0]
        else:
            score = "probability" if "probability" in answers[0] else "prediction"
            assert all(np.isfinite(a[score]) for a in answers)
        feedback = [{"id": a["id"], "label": labels[100 + k]} for k, a in enumerate(answers)]
        assert client.post("/feedback", json={"labels": feedback}, headers=auth).status_code == 200
        learned(trainer, 104)
    finally:
        trainer.stop()


def learned(trainer, n: int) -> None:
    """Wait until the trainer has learned ``n`` events (and no more)."""
    deadline = time.monotonic() + 60
    while trainer.runner.counters["learned"] < n and time.monotonic() < deadline:
        time.sleep(0.02)
    assert trainer.runner.counters["learned"] == n and trainer.error is None
    deadline = time.monotonic() + 10
    while trainer.serving.events_learned < n and time.monotonic() < deadline:
        time.sleep(0.02)  # and published a copy that knows them
