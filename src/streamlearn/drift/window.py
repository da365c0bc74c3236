"""The windowed error-rate detector of the classic design.

The error rate of the first full window is the baseline. From then on, the rate over the
last ``window`` values is compared with it: above baseline + ``warning`` is a warning, above
baseline + ``threshold`` a drift, after which the detector starts over and takes a new
baseline from the next full window.

>>> import numpy as np
>>> from streamlearn.drift import WindowErrorRate
>>> errors = np.r_[np.tile([1, 0, 0, 0, 0, 0, 0, 0, 0, 0], 300), np.ones(200)]
>>> signals = WindowErrorRate(window=500, threshold=0.15).update_many(errors)
>>> int(np.flatnonzero(signals == 2)[0])  # 10% → 100% errors at event 3000
3084
"""

from __future__ import annotations

import numba as nb
import numpy as np

from streamlearn.drift.base import DRIFT, LAST, NONE, WARNING, DriftDetector

COUNT, SUM, BASELINE, RING = range(4)  # the ring of the last values follows


@nb.njit(nogil=True, cache=True)
def _window(state, params, values, out):
    window, warning, threshold = params
    size = int(window)
    for i in range(values.shape[0]):
        if state[LAST] == DRIFT:
            state[:] = 0.0
            state[BASELINE] = -1.0
        x = values[i]
        slot = RING + int(state[COUNT]) % size
        if state[COUNT] >= size:
            state[SUM] -= state[slot]
        state[slot] = x
        state[SUM] += x
        state[COUNT] += 1.0
        signal = NONE
        if state[COUNT] >= size:
            rate = state[SUM] / size
            if state[BASELINE] < 0.0:
                state[BASELINE] = rate
            elif rate > state[BASELINE] + threshold:
                signal = DRIFT
            elif rate > state[BASELINE] + warning:
                signal = WARNING
        state[LAST] = signal
        out[i] = signal


class WindowErrorRate(DriftDetector):
    """Parameters
    ----------
    window
        Values in the window (the baseline is one full window too).
    threshold
        Increase of the error rate over the baseline that means drift.
    warning
        Increase that means a warning (default: half the threshold).

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> signals = WindowErrorRate().update_many(elec2.no_change_errors())
    >>> int((signals == 2).sum()), int((signals == 1).sum())  # drifts, warnings
    (0, 1060)
    """

    def __init__(
        self, window: int = 1000, threshold: float = 0.1, warning: float | None = None
    ) -> None:
        if window < 1 or threshold <= 0:
            raise ValueError("window must be >= 1 and threshold > 0")
        self.window, self.threshold = int(window), float(threshold)
        self.warning = threshold / 2 if warning is None else float(warning)
        super().__init__()

    def params(self):
        return {"window": self.window, "threshold": self.threshold, "warning": self.warning}

    def _param_array(self):
        return np.array([self.window, self.warning, self.threshold], dtype=np.float64)

    def _fresh_state(self):
        state = np.zeros(RING + self.window + 1)
        state[BASELINE] = -1.0
        return state

    @property
    def statistic(self) -> float:
        """The error rate over the window (NaN until it is full)."""
        full = self._state[COUNT] >= self.window
        return float(self._state[SUM] / self.window) if full else float("nan")

    _kernel = staticmethod(_window)
