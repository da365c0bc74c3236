"""DDM, the drift detection method (Gama et al., 2004), on a stream of 0/1 errors.

Detections and warnings equal River's ``drift.binary.DDM`` on the same stream.

>>> import numpy as np
>>> from streamlearn.drift import DDM
>>> rng = np.random.default_rng(7)
>>> errors = np.concatenate([rng.random(3000) < 0.1, rng.random(1000) < 0.4])
>>> signals = DDM().update_many(errors)
>>> int(np.flatnonzero(signals == 2)[0]) > 3000
True
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from streamlearn.drift.base import DRIFT, LAST, NONE, WARNING, DriftDetector

N, MEAN, P_MIN, S_MIN, PS_MIN = range(5)


@nb.njit(nogil=True, cache=True)
def _ddm(state, params, values, out):
    warm_start, warning_threshold, drift_threshold = params
    for i in range(values.shape[0]):
        if state[LAST] == DRIFT:
            state[:] = 0.0
            state[PS_MIN] = math.inf
        state[N] += 1.0
        n = state[N]
        state[MEAN] += (1.0 / n) * (values[i] - state[MEAN])
        p = state[MEAN]
        s = math.sqrt(p * (1 - p) / n)
        if n > warm_start:
            if p + s <= state[PS_MIN]:
                state[P_MIN], state[S_MIN] = p, s
                state[PS_MIN] = p + s
            signal = NONE
            if p + s > state[P_MIN] + warning_threshold * state[S_MIN]:
                signal = WARNING
            if p + s > state[P_MIN] + drift_threshold * state[S_MIN]:
                signal = DRIFT
            state[LAST] = signal
        out[i] = state[LAST]


class DDM(DriftDetector):
    """Parameters
    ----------
    warm_start
        Errors seen before a warning or drift can be declared.
    warning_threshold, drift_threshold
        How many standard deviations above the best error rate mean a warning, a drift.

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> signals = DDM().update_many(elec2.no_change_errors())
    >>> int((signals == 2).sum()), int((signals == 1).sum())  # drifts, warnings
    (1, 8676)
    """

    def __init__(
        self, warm_start: int = 30, warning_threshold: float = 2.0, drift_threshold: float = 3.0
    ) -> None:
        self.warm_start = warm_start
        self.warning_threshold, self.drift_threshold = warning_threshold, drift_threshold
        super().__init__()

    def params(self):
        return {
            "warm_start": self.warm_start,
            "warning_threshold": self.warning_threshold,
            "drift_threshold": self.drift_threshold,
        }

    def _param_array(self):
        return np.array([self.warm_start, self.warning_threshold, self.drift_threshold], float)

    def _fresh_state(self):
        state = np.zeros(6)
        state[PS_MIN] = math.inf
        return state

    @property
    def statistic(self) -> float:
        """p + s: the error rate plus its standard deviation."""
        n, p = self._state[N], self._state[MEAN]
        return float(p + math.sqrt(p * (1 - p) / n)) if n else float("nan")

    _kernel = staticmethod(_ddm)
