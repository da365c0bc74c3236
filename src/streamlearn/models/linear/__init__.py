"""Linear learners on hashed sparse features, with SGD, AdaGrad and FTRL-Proximal."""

from streamlearn.models.linear.base import LinearModel
from streamlearn.models.linear.logistic import LogisticRegression
from streamlearn.models.linear.optimizers import FTRL, SGD, AdaGrad, Optimizer
from streamlearn.models.linear.regression import LinearRegression
from streamlearn.models.linear.softmax import SoftmaxRegression

__all__ = [
    "FTRL",
    "SGD",
    "AdaGrad",
    "LinearModel",
    "LinearRegression",
    "LogisticRegression",
    "Optimizer",
    "SoftmaxRegression",
]
