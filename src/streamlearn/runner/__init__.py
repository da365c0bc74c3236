"""Wiring sources, learners and evaluation into runs. Now: offline replay of a file."""

from streamlearn.runner.replay import RejectLog, evaluate_file

__all__ = ["RejectLog", "evaluate_file"]
