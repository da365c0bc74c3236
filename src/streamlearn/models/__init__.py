"""Learners. Every learner here is listed in ``tests/test_conformance.py``."""

from streamlearn.models.linear import (
    FTRL,
    SGD,
    AdaGrad,
    LinearRegression,
    LogisticRegression,
)

__all__ = ["FTRL", "SGD", "AdaGrad", "LinearRegression", "LogisticRegression"]
