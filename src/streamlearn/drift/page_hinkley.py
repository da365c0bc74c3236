"""Page-Hinkley: a cumulative test for a change in the mean (two-sided by default).

Detections equal River's ``drift.PageHinkley`` on the same stream.

>>> from streamlearn.drift import PageHinkley
>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> stream = np.concatenate([rng.normal(0, 0.5, 2000), rng.normal(2, 0.5, 1000)])
>>> detector = PageHinkley()
>>> np.flatnonzero(detector.update_many(stream) == 2).tolist()  # the mean moves at 2000
[2007]
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from streamlearn.drift.base import DRIFT, LAST, NONE, DriftDetector

N, MEAN, SUM_UP, SUM_DOWN, MIN_UP, MAX_DOWN = range(6)
MODES = {"up": 1, "down": 2, "both": 3}


@nb.njit(nogil=True, cache=True)
def _page_hinkley(state, params, values, out):
    min_instances, delta, threshold, alpha, mode = params
    for i in range(values.shape[0]):
        if state[LAST] == DRIFT:
            state[:] = 0.0
            state[MIN_UP] = math.inf
            state[MAX_DOWN] = -1.0
        x = values[i]
        state[N] += 1.0
        state[MEAN] += (1.0 / state[N]) * (x - state[MEAN])
        dev = x - state[MEAN]
        state[SUM_UP] = alpha * state[SUM_UP] + dev - delta
        state[SUM_DOWN] = alpha * state[SUM_DOWN] + dev + delta
        state[MIN_UP] = min(state[MIN_UP], state[SUM_UP])
        state[MAX_DOWN] = max(state[MAX_DOWN], state[SUM_DOWN])
        drift = False
        if state[N] >= min_instances:
            up = state[SUM_UP] - state[MIN_UP] > threshold
            down = state[MAX_DOWN] - state[SUM_DOWN] > threshold
            drift = (up and mode != 2.0) or (down and mode != 1.0)
        state[LAST] = DRIFT if drift else NONE
        out[i] = state[LAST]


class PageHinkley(DriftDetector):
    """Parameters
    ----------
    min_instances
        Values seen before a change can be declared.
    delta
        Tolerated change of the mean.
    threshold
        The test's threshold (lambda).
    alpha
        Forgetting factor of the cumulative sums.
    mode
        ``up``, ``down`` or ``both``: which changes of the mean to detect.

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> signals = PageHinkley().update_many(elec2.no_change_errors())
    >>> int((signals == 2).sum()), int((signals == 1).sum())  # drifts, warnings
    (10, 0)
    """

    def __init__(
        self,
        min_instances: int = 30,
        delta: float = 0.005,
        threshold: float = 50.0,
        alpha: float = 1 - 0.0001,
        mode: str = "both",
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {sorted(MODES)}, got {mode!r}")
        self.min_instances, self.delta, self.threshold = min_instances, delta, threshold
        self.alpha, self.mode = alpha, mode
        super().__init__()

    def params(self):
        return {
            "min_instances": self.min_instances,
            "delta": self.delta,
            "threshold": self.threshold,
            "alpha": self.alpha,
            "mode": self.mode,
        }

    def _param_array(self):
        return np.array(
            [self.min_instances, self.delta, self.threshold, self.alpha, MODES[self.mode]],
            dtype=np.float64,
        )

    def _fresh_state(self):
        state = np.zeros(7)
        state[MIN_UP], state[MAX_DOWN] = math.inf, -1.0
        return state

    @property
    def statistic(self) -> float:
        """The larger of the two cumulative test values (up, down)."""
        state = self._state
        return float(max(state[SUM_UP] - state[MIN_UP], state[MAX_DOWN] - state[SUM_DOWN]))

    _kernel = staticmethod(_page_hinkley)
