"""Decision trees that grow as events arrive (Hoeffding trees) and forests of them, compiled."""

from streamlearn.models.tree.forest import AdaptiveRandomForestClassifier
from streamlearn.models.tree.hoeffding import HoeffdingTreeClassifier

__all__ = ["AdaptiveRandomForestClassifier", "HoeffdingTreeClassifier"]
