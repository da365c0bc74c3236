"""Contextual bandits: linear reward models per arm, decisions with propensities."""

from streamlearn.models.bandit.hybrid import HybridLinUCB
from streamlearn.models.bandit.policy import Decision, LinearBandit, Outcomes

__all__ = ["Decision", "HybridLinUCB", "LinearBandit", "Outcomes"]
