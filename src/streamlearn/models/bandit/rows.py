"""A bandit's rows for the runner: the context's hashed features plus a last slot that
holds the arm served (its hash is :data:`ARM_SLOT`, its value the arm's position + 1), so
that a label joined later learns the arm that was served with that very context."""

from __future__ import annotations

import numpy as np

ARM_SLOT = 0xFFFFFFFF  # the hash of the served arm's slot in a runner's row


def with_arm(hashes: np.ndarray, values: np.ndarray, slots: np.ndarray) -> tuple:
    """The rows ``(hashes, values)`` of a context, each with its served arm's slot."""
    n = len(slots)
    arm_slot = np.full((n, 1), ARM_SLOT, np.uint32)
    return (
        np.concatenate([hashes, arm_slot], axis=1),
        np.concatenate([values, slots[:, None] + 1.0], axis=1),
    )


def split_arm(hashes: np.ndarray, values: np.ndarray, n_arms: int) -> tuple:
    """Rows made by :func:`with_arm` (padded to one width, maybe, by the runner) as the
    context's ``(hashes, values)`` (the arm's slot adds no feature) and the arm slots."""
    marked = np.asarray(hashes) == ARM_SLOT
    slots = (np.where(marked, values, 0.0).sum(axis=1) - 1).astype(np.int64)
    if ((slots < 0) | (slots >= n_arms)).any():
        raise ValueError("a row without its served arm: rows must come from serve_many")
    return np.ascontiguousarray(hashes), np.where(marked, 0.0, values), slots


def rewards_to_learn(ops: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The schedule's rewards, refused if one to learn is missing or not finite (a
    prediction's target is not read)."""
    checked = np.where(np.asarray(ops) == 0, 0.0, np.asarray(targets, dtype=np.float64))
    if not np.isfinite(checked).all():
        raise ValueError("a reward to learn is missing or not finite")
    return checked
