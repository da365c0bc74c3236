"""Learners. Every learner here is listed in ``tests/test_conformance.py``."""

from streamlearn.models.auto import AutoClassifier, AutoMulticlass, AutoRegressor
from streamlearn.models.bandit import HybridLinUCB, LinearBandit
from streamlearn.models.bayes import BayesianLinearRegression
from streamlearn.models.ensemble import HedgeClassifier, HedgeRegressor
from streamlearn.models.fraud import FraudDetector
from streamlearn.models.linear import (
    FTRL,
    SGD,
    AdaGrad,
    LinearRegression,
    LogisticRegression,
    SoftmaxRegression,
)
from streamlearn.models.naive_bayes import BernoulliNB, GaussianNB, MultinomialNB
from streamlearn.models.neighbors import KNNClassifier, KNNRegressor
from streamlearn.models.one_vs_rest import OneVsRest
from streamlearn.models.ranker import EngagementRanker, FeedbackBuffer
from streamlearn.models.recommend import BPRMF, BiasedMF
from streamlearn.models.tree import (
    AdaptiveRandomForestClassifier,
    AdaptiveRandomForestRegressor,
    AMFClassifier,
    AMFRegressor,
    HoeffdingAdaptiveTreeClassifier,
    HoeffdingTreeClassifier,
    HoeffdingTreeRegressor,
)

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
