"""Recommenders: online matrix factorization (ratings and implicit feedback)."""

from streamlearn.models.recommend.mf import BPRMF, BiasedMF

__all__ = ["BPRMF", "BiasedMF"]
