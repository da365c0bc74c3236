"""Offline evaluation: a file through the engine, each label at its event (or after its
delay), scored progressively: what ``streamlearn evaluate`` runs. It sits above the runner
because it runs one."""

from streamlearn.offline.evaluation import evaluate_file

__all__ = ["evaluate_file"]
