"""The learner contract: protocols, state as arrays + JSON (never pickle), learner kinds."""

from streamlearn.base.classes import ClassIndex, check_label
from streamlearn.base.learner import Classifier, Learner, MulticlassClassifier, Regressor
from streamlearn.base.state import (
    State,
    learner_kinds,
    load_snapshot,
    load_state,
    read_info,
    register,
    save_state,
)

__all__ = [
    "ClassIndex",
    "Classifier",
    "Learner",
    "MulticlassClassifier",
    "Regressor",
    "State",
    "check_label",
    "learner_kinds",
    "load_snapshot",
    "load_state",
    "read_info",
    "register",
    "save_state",
]
