"""Learners. Every learner here is listed in ``tests/test_conformance.py``."""

from streamlearn.models.bandit import HybridLinUCB, LinearBandit
from streamlearn.models.bayes import BayesianLinearRegression
from streamlearn.models.linear import (
    FTRL,
    SGD,
    AdaGrad,
    LinearRegression,
    LogisticRegression,
    SoftmaxRegression,
)
from streamlearn.models.one_vs_rest import OneVsRest

__all__ = [
    "FTRL",
    "SGD",
    "AdaGrad",
    "BayesianLinearRegression",
    "HybridLinUCB",
    "LinearBandit",
    "LinearRegression",
    "LogisticRegression",
    "OneVsRest",
    "SoftmaxRegression",
]
