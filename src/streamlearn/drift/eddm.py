"""EDDM, the early drift detection method (Baena-García et al., 2006): watches the distance
between errors, for gradual drifts. Detections equal River's ``drift.binary.EDDM``.

>>> import numpy as np
>>> from streamlearn.drift import EDDM
>>> rng = np.random.default_rng(3)
>>> errors = np.concatenate([rng.random(5000) < 0.05, rng.random(2000) < 0.5])
>>> drifts = np.flatnonzero(EDDM().update_many(errors) == 2)
>>> drifts[drifts > 5000][:1].tolist()  # errors jump at 5000 (EDDM also alarms earlier)
[5019]
"""

from __future__ import annotations

import numba as nb
import numpy as np

from streamlearn.drift.base import DRIFT, LAST, NONE, WARNING, DriftDetector

N, LAST_ERROR, N_ERRORS, D_N, D_MEAN, D_S, P2S_MAX = range(7)


@nb.njit(nogil=True, cache=True)
def _eddm(state, params, values, out):
    warm_start, alpha, beta = params
    for i in range(values.shape[0]):
        if state[LAST] == DRIFT:
            state[:] = 0.0
            state[P2S_MAX] = -1.0
        state[N] += 1.0
        if values[i] == 1.0:
            state[N_ERRORS] += 1.0
            # The distance since the last error joins a running mean and variance.
            distance = state[N] - state[LAST_ERROR]
            mean_old = state[D_MEAN]
            state[D_N] += 1.0
            state[D_MEAN] += (1.0 / state[D_N]) * (distance - mean_old)
            state[D_S] += (distance - mean_old) * (distance - state[D_MEAN])
            if state[N] > warm_start:
                var = state[D_S] / (state[D_N] - 1.0) if state[D_N] > 1.0 else 0.0
                p2s = state[D_MEAN] + 2.0 * var**0.5
                if p2s > state[P2S_MAX]:
                    state[P2S_MAX] = p2s
                elif state[N_ERRORS] > warm_start:
                    level = p2s / state[P2S_MAX]
                    if level < beta:
                        state[LAST] = DRIFT
                    elif level < alpha:
                        state[LAST] = WARNING
                    else:
                        state[LAST] = NONE
            state[LAST_ERROR] = state[N]
        out[i] = state[LAST]


class EDDM(DriftDetector):
    """Parameters
    ----------
    warm_start
        Events (and errors) seen before a warning or drift can be declared.
    alpha, beta
        Warning and drift levels: the ratio of the current to the best mean + 2σ distance.

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> signals = EDDM().update_many(elec2.no_change_errors())
    >>> int((signals == 2).sum()), int((signals == 1).sum())  # drifts, warnings
    (66, 6760)
    """

    def __init__(self, warm_start: int = 30, alpha: float = 0.95, beta: float = 0.9) -> None:
        if alpha < beta:
            raise ValueError("alpha must be >= beta")
        self.warm_start, self.alpha, self.beta = warm_start, alpha, beta
        super().__init__()

    def params(self):
        return {"warm_start": self.warm_start, "alpha": self.alpha, "beta": self.beta}

    def _param_array(self):
        return np.array([self.warm_start, self.alpha, self.beta], dtype=np.float64)

    def _fresh_state(self):
        state = np.zeros(8)
        state[P2S_MAX] = -1.0
        return state

    @property
    def statistic(self) -> float:
        """The mean distance between errors."""
        return float(self._state[D_MEAN])

    _kernel = staticmethod(_eddm)
