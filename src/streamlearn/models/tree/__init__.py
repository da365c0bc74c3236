"""Decision trees that grow as events arrive (Hoeffding trees), compiled."""

from streamlearn.models.tree.hoeffding import HoeffdingTreeClassifier

__all__ = ["HoeffdingTreeClassifier"]
