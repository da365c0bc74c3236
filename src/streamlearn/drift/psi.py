"""A label-free detector: the population stability index (PSI) of a value's distribution.

Watch a feature, or the model's predictions, without waiting for labels. The first full
window is the reference, cut into ``bins`` bins at its quantiles; from then on the PSI
between the reference and the last ``window`` values, Σ (c - r) · ln(c / r) over the bins'
shares, is compared with ``threshold`` (0.2 is the usual "significant shift") and
``warning`` (0.1). After a drift the next full window becomes the reference.

>>> import numpy as np
>>> from streamlearn.drift import PSI
>>> rng = np.random.default_rng(0)
>>> prices = np.concatenate([rng.lognormal(3, 0.5, 20_000), rng.lognormal(3.4, 0.5, 5_000)])
>>> int(np.flatnonzero(PSI().update_many(prices) == 2)[0])  # the shift comes at 20,000
20577
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from streamlearn.drift.base import DRIFT, LAST, NONE, WARNING, DriftDetector

COUNT, PSI_VALUE = range(2)
HEADER = 2  # then: edges[bins - 1], reference shares[bins], counts[bins], ring[window], last
SMOOTH = 1e-4  # a share never counts as exactly 0 (ln would be infinite)


@nb.njit(inline="always")
def _bin(edges, x):
    low, high = 0, edges.shape[0]
    while low < high:  # the first edge above x
        mid = (low + high) // 2
        if edges[mid] <= x:
            low = mid + 1
        else:
            high = mid
    return low


@nb.njit(nogil=True, cache=True)
def _psi(state, params, values, out):
    window, bins, warning, threshold = int(params[0]), int(params[1]), params[2], params[3]
    edges = state[HEADER : HEADER + bins - 1]
    reference = state[HEADER + bins - 1 : HEADER + 2 * bins - 1]
    counts = state[HEADER + 2 * bins - 1 : HEADER + 3 * bins - 1]
    ring = state[HEADER + 3 * bins - 1 : HEADER + 3 * bins - 1 + window]
    for i in range(values.shape[0]):
        if state[LAST] == DRIFT:
            state[:] = 0.0
        x = values[i]
        n = int(state[COUNT])
        state[COUNT] += 1.0
        signal = NONE
        if n < window:  # filling the reference window
            ring[n] = x
            if n == window - 1:
                ordered = np.sort(ring)
                for b in range(bins - 1):
                    edges[b] = ordered[int((b + 1) * window / bins)]
                for j in range(window):
                    b = _bin(edges, ring[j])
                    counts[b] += 1.0
                    ring[j] = b  # the ring now holds bins
                for b in range(bins):
                    reference[b] = counts[b] / window
        else:
            slot = n % window
            counts[int(ring[slot])] -= 1.0
            b = _bin(edges, x)
            counts[b] += 1.0
            ring[slot] = b
            total = 0.0
            for b in range(bins):
                current = max(counts[b] / window, SMOOTH)
                ref = max(reference[b], SMOOTH)
                total += (current - ref) * math.log(current / ref)
            state[PSI_VALUE] = total
            if total > threshold:
                signal = DRIFT
            elif total > warning:
                signal = WARNING
        state[LAST] = signal
        out[i] = signal


class PSI(DriftDetector):
    """Parameters
    ----------
    window
        Values in the reference and in the moving window.
    bins
        Quantile bins of the reference.
    threshold, warning
        PSI levels that mean drift and warning.

    Example
    -------
    The New South Wales price of Elec2 (``feat_2``) against its own recent past:

    >>> from streamlearn.datasets import elec2
    >>> signals = PSI().update_many(elec2.column("feat_2"))
    >>> int((signals == 2).sum()), int((signals == 1).sum())  # drifts, warnings
    (29, 5728)
    """

    def __init__(
        self, window: int = 1000, bins: int = 10, threshold: float = 0.2, warning: float = 0.1
    ) -> None:
        if window < bins or bins < 2 or not 0 < warning <= threshold:
            raise ValueError("PSI: window >= bins >= 2 and 0 < warning <= threshold")
        self.window, self.bins = int(window), int(bins)
        self.threshold, self.warning = float(threshold), float(warning)
        super().__init__()

    def params(self):
        return {
            "window": self.window,
            "bins": self.bins,
            "threshold": self.threshold,
            "warning": self.warning,
        }

    def _param_array(self):
        return np.array([self.window, self.bins, self.warning, self.threshold], np.float64)

    def _fresh_state(self):
        return np.zeros(HEADER + 3 * self.bins - 1 + self.window + 1)

    @property
    def value(self) -> float:
        """The last PSI computed."""
        return float(self._state[PSI_VALUE])

    statistic = value

    _kernel = staticmethod(_psi)
