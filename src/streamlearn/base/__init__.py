"""The learner contract: protocols, state as arrays + JSON (never pickle), learner kinds."""

from streamlearn.base.learner import Classifier, Learner, Regressor
from streamlearn.base.state import State, learner_kinds, load_state, register, save_state

__all__ = [
    "Classifier",
    "Learner",
    "Regressor",
    "State",
    "learner_kinds",
    "load_state",
    "register",
    "save_state",
]
