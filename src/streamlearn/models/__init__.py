"""Learners. Every learner here is listed in ``tests/test_conformance.py``.

A learner's module is imported when it is first used (``from streamlearn.models import
HoeffdingTreeClassifier`` loads the trees, not the bandits): a command that needs one
learner does not pay for every compiled kernel of the others.
"""

from __future__ import annotations

import importlib
from typing import Any

from streamlearn.base.state import add_kind_loader

# name → the module that defines it
_WHERE = {
    "AMFClassifier": "streamlearn.models.tree",
    "AMFRegressor": "streamlearn.models.tree",
    "AdaGrad": "streamlearn.models.linear",
    "AdaptiveRandomForestClassifier": "streamlearn.models.tree",
    "AdaptiveRandomForestRegressor": "streamlearn.models.tree",
    "AutoClassifier": "streamlearn.models.auto",
    "AutoMulticlass": "streamlearn.models.auto",
    "AutoRegressor": "streamlearn.models.auto",
    "BPRMF": "streamlearn.models.recommend",
    "BayesianLinearRegression": "streamlearn.models.bayes",
    "BernoulliNB": "streamlearn.models.naive_bayes",
    "BiasedMF": "streamlearn.models.recommend",
    "EngagementRanker": "streamlearn.models.ranker",
    "FTRL": "streamlearn.models.linear",
    "FeedbackBuffer": "streamlearn.models.ranker",
    "FraudDetector": "streamlearn.models.fraud",
    "GaussianNB": "streamlearn.models.naive_bayes",
    "HedgeClassifier": "streamlearn.models.ensemble",
    "HedgeRegressor": "streamlearn.models.ensemble",
    "HoeffdingAdaptiveTreeClassifier": "streamlearn.models.tree",
    "HoeffdingAdaptiveTreeRegressor": "streamlearn.models.tree",
    "HoeffdingTreeClassifier": "streamlearn.models.tree",
    "HoeffdingTreeRegressor": "streamlearn.models.tree",
    "HybridLinUCB": "streamlearn.models.bandit",
    "KNNClassifier": "streamlearn.models.neighbors",
    "KNNRegressor": "streamlearn.models.neighbors",
    "LinearBandit": "streamlearn.models.bandit",
    "LinearRegression": "streamlearn.models.linear",
    "LogisticRegression": "streamlearn.models.linear",
    "MultinomialNB": "streamlearn.models.naive_bayes",
    "OneVsRest": "streamlearn.models.one_vs_rest",
    "SGD": "streamlearn.models.linear",
    "SoftmaxRegression": "streamlearn.models.linear",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'streamlearn.models' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value  # found once: later lookups are plain
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


def load_all() -> None:
    """Import every learner (each registers its kind for snapshots)."""
    for module in sorted(set(_WHERE.values())):
        importlib.import_module(module)


add_kind_loader(load_all)

__all__ = [
    "BPRMF",
    "FTRL",
    "SGD",
    "AMFClassifier",
    "AMFRegressor",
    "AdaGrad",
    "AdaptiveRandomForestClassifier",
    "AdaptiveRandomForestRegressor",
    "AutoClassifier",
    "AutoMulticlass",
    "AutoRegressor",
    "BayesianLinearRegression",
    "BernoulliNB",
    "BiasedMF",
    "EngagementRanker",
    "FeedbackBuffer",
    "FraudDetector",
    "GaussianNB",
    "HedgeClassifier",
    "HedgeRegressor",
    "HoeffdingAdaptiveTreeClassifier",
    "HoeffdingAdaptiveTreeRegressor",
    "HoeffdingTreeClassifier",
    "HoeffdingTreeRegressor",
    "HybridLinUCB",
    "KNNClassifier",
    "KNNRegressor",
    "LinearBandit",
    "LinearRegression",
    "LogisticRegression",
    "MultinomialNB",
    "OneVsRest",
    "SoftmaxRegression",
]
