"""Sound model swaps: roll back to an earlier version, or promote a challenger, only when a
paired test on the same recent labels says so.

Both compare per-label losses on the *same* events (the last labels the champion learned):
the current model's, from the predictions it served, against another model's — a saved
version's predictions on the same rows as served, or a challenger's served predictions. A
swap needs a one-sided paired z-test below ``alpha`` *and* a mean gap above ``margin``
(relative): a drift that makes every model worse triggers neither.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> better = rng.gamma(2.0, 0.2, 3000)
>>> verdict = paired_test(better + 0.05, better + rng.normal(0, 0.01, 3000), margin=0.02)
>>> verdict.significant, round(verdict.gap, 3)
(True, 0.123)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from streamlearn.base import PREDICT, Learner
from streamlearn.base.losses import per_event_losses
from streamlearn.runner.lane import Lane


@dataclass
class Verdict:
    """Is ``worse`` significantly worse than ``better``? gap: relative mean difference.

    Parameters
    ----------
    significant, p_value
        The test's outcome and its p-value.
    worse_loss, better_loss
        The mean losses compared.
    gap
        The relative mean difference of the losses.
    events
        Labels the comparison is over.

    Example
    -------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> better = rng.gamma(2.0, 0.2, 3000)  # one model's per-label losses
    >>> verdict = paired_test(better + 0.05, better + rng.normal(0, 0.01, 3000), margin=0.02)
    >>> verdict.significant, round(verdict.gap, 3), verdict.events
    (True, 0.123, 3000)
    """

    significant: bool
    p_value: float
    worse_loss: float
    better_loss: float
    gap: float
    events: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def paired_test(
    worse: np.ndarray,
    better: np.ndarray,
    alpha: float = 0.01,
    margin: float = 0.02,
    min_events: int = 500,
) -> Verdict:
    """One-sided paired z-test that ``worse`` has the higher mean loss, plus a margin."""
    n = min(len(worse), len(better))
    worse, better = worse[-n:], better[-n:]
    if n < max(min_events, 2):
        return Verdict(False, 1.0, math.nan, math.nan, 0.0, n)
    diff = worse - better
    spread = float(diff.std(ddof=1))
    mean_worse, mean_better = float(worse.mean()), float(better.mean())
    mean_diff = float(diff.mean())
    if spread > 0:
        z = mean_diff / (spread / math.sqrt(n))
    else:  # the same loss on every label: no difference, or a sure one
        z = math.copysign(math.inf, mean_diff) if mean_diff else 0.0
    p_value = 0.5 * math.erfc(z / math.sqrt(2)) if math.isfinite(z) else float(z < 0)
    gap = (mean_worse - mean_better) / mean_better if mean_better > 0 else math.inf
    return Verdict(bool(p_value < alpha and gap > margin), p_value, mean_worse, mean_better, gap, n)


@dataclass
class RollbackGuard:
    """At each checkpoint, score earlier versions on the same recent labels as the serving
    model (each predicts the very rows the serving model was served with) and roll back to
    the best of them when the serving model is significantly worse.

    The versions scored (see :func:`rollback_candidates`): the one whose loss was lowest
    when it was saved, and versions 1, 2, 4, 8 … checkpoints back, ``candidates`` in all.
    The lowest saved loss alone misleads after a stretch of bad labels: a version fitted to
    them had a low loss *on them*; the spread back in time reaches a version from before.

    Parameters
    ----------
    alpha
        The paired test's one-sided significance level.
    margin
        The least relative gap in mean loss that counts.
    min_events
        Recent labels needed before any verdict.
    candidates
        Earlier versions scored at each checkpoint, at most.

    Example
    -------
    >>> guard = RollbackGuard(min_events=500)
    >>> guard.alpha, guard.margin, guard.candidates
    (0.01, 0.05, 8)
    """

    alpha: float = 0.01
    margin: float = 0.05
    min_events: int = 1000
    candidates: int = 8

    def check(self, lane: Lane, candidate: Learner) -> Verdict:
        recent = lane.recent
        if len(recent.targets) < self.min_events:
            return Verdict(False, 1.0, math.nan, math.nan, 0.0, len(recent.targets))
        rows = recent.stacked_rows()
        ops = np.full(len(rows), PREDICT, np.int8)
        predicted = candidate.run_ops(
            rows.hashes, rows.values, ops, np.arange(len(rows)), np.zeros(len(rows))
        )
        theirs = per_event_losses(lane.model.task, recent.targets, predicted)
        return paired_test(recent.losses, theirs, self.alpha, self.margin, self.min_events)


def rollback_candidates(saved_losses: dict[str, float], serving: str | None, n: int) -> list[str]:
    """The versions a rollback guard scores: of ``saved_losses`` (version id → its loss when
    saved; ids sort oldest first), the one of lowest loss and those 1, 2, 4 … checkpoints
    back from the newest, ``n`` at most, never ``serving``.

    >>> losses = {f"v{i:06d}": 0.1 + abs(i - 10) / 10 for i in range(1, 21)}  # v000010 best
    >>> rollback_candidates(losses, "v000020", 4)
    ['v000019', 'v000018', 'v000016', 'v000010']
    """
    ids = sorted(i for i in saved_losses if i != serving)
    if not ids:
        return []
    chosen = [min(ids, key=saved_losses.get)]
    back = 1
    while back <= len(ids) and len(chosen) < n:
        candidate = ids[-back]
        if candidate not in chosen:
            chosen.append(candidate)
        back *= 2
    return sorted(chosen, reverse=True)


@dataclass
class PromotionGate:
    """At each checkpoint, promote the challenger that beats the champion on the same recent
    labels by ``margin`` (relative), significantly.

    Parameters
    ----------
    alpha
        The paired test's one-sided significance level.
    margin
        The least relative gap in mean loss that counts.
    min_events
        Recent labels needed before any verdict.

    Example
    -------
    A champion with far too small a learning rate, and the default learner in shadow:

    >>> import tempfile
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.models import SGD, LogisticRegression
    >>> from streamlearn.registry import LocalRegistry
    >>> from streamlearn.runner import Runner
    >>> from streamlearn.streams import FileEvents
    >>> runner = Runner(
    ...     LogisticRegression(SGD(lr=0.0005), bits=16),
    ...     FileEvents(elec2.path(), "target"),
    ...     challengers=[LogisticRegression(bits=16)],
    ...     gate=PromotionGate(),
    ...     registry=LocalRegistry(tempfile.mkdtemp()),
    ...     checkpoint_every=10_000,
    ... )
    >>> summary = runner.run()
    >>> len(summary.promotions), runner.model.optimizer.name, round(summary.metrics["accuracy"], 3)
    (1, 'ftrl', 0.823)
    """

    alpha: float = 0.01
    margin: float = 0.02
    min_events: int = 1000

    def check(self, champion: Lane, challenger: Lane) -> Verdict:
        return paired_test(
            champion.recent.losses,
            challenger.recent.losses,
            self.alpha,
            self.margin,
            self.min_events,
        )
