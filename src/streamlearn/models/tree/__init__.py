"""Decision trees that grow as events arrive (Hoeffding trees) and forests of them, compiled."""

from streamlearn.models.tree.adaptive import (
    HoeffdingAdaptiveTreeClassifier,
    HoeffdingAdaptiveTreeRegressor,
)
from streamlearn.models.tree.amf import AMFClassifier, AMFRegressor
from streamlearn.models.tree.forest import (
    AdaptiveRandomForestClassifier,
    AdaptiveRandomForestRegressor,
)
from streamlearn.models.tree.hoeffding import HoeffdingTreeClassifier
from streamlearn.models.tree.hoeffding_regressor import HoeffdingTreeRegressor

__all__ = [
    "AMFClassifier",
    "AMFRegressor",
    "AdaptiveRandomForestClassifier",
    "AdaptiveRandomForestRegressor",
    "HoeffdingAdaptiveTreeClassifier",
    "HoeffdingAdaptiveTreeRegressor",
    "HoeffdingTreeClassifier",
    "HoeffdingTreeRegressor",
]
