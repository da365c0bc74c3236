"""Bayesian learners: exact Gaussian posteriors with predictive uncertainty."""

from streamlearn.models.bayes.regression import BayesianLinearRegression, Gaussian

__all__ = ["BayesianLinearRegression", "Gaussian"]
