"""Drift handling: a detector watches a learner's errors, a policy acts when it fires."""

from streamlearn.adaptation.policies import POLICIES, Background, Boost, Policy, Reset, Shrink
from streamlearn.adaptation.wrapper import AdaptiveClassifier, AdaptiveRegressor, adaptive, watched

__all__ = [
    "POLICIES",
    "AdaptiveClassifier",
    "AdaptiveRegressor",
    "Background",
    "Boost",
    "Policy",
    "Reset",
    "Shrink",
    "adaptive",
    "watched",
]
