"""KSWIN: Kolmogorov-Smirnov windowing (Raab, Heusinger & Schleif, 2020).

A sliding window holds the last ``window_size`` values. Its newest ``stat_size`` values are
compared with ``stat_size`` values drawn at random from the older part by a two-sample
Kolmogorov-Smirnov test; a drift is a p-value at most ``alpha`` with a distance above 0.1.
It needs no labels: it watches any number (a feature, a score, an error).

The random draws follow Python's ``random.Random(seed).sample`` (Mersenne Twister) and the
p-value is SciPy's exact two-sample one, both compiled here, so detections equal River's
``drift.KSWIN(seed=seed)`` on the same stream.

>>> import numpy as np
>>> from streamlearn.drift import KSWIN
>>> rng = np.random.default_rng(0)
>>> stream = np.concatenate([rng.normal(0, 1, 1000), rng.normal(1.5, 1, 1000)])
>>> np.flatnonzero(KSWIN(alpha=0.0001, seed=42).update_many(stream) == 2).tolist()
[1017]
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from streamlearn.drift.base import DRIFT, LAST, NONE, DriftDetector

MT_N = 624
# state: filled, oldest position, next Mersenne Twister word, p-value, distance,
# then the twister's words, then the window (a ring)
FILLED, OLDEST, MT_INDEX, P_VALUE, DISTANCE = range(5)
HEADER = 5
# params: alpha, window size, stat size, draw from a pool (1) or with rejection (0), then the
# seeded twister's words
ALPHA, WINDOW, STAT, POOL = range(4)
PARAM_HEADER = 4


def seeded_twister(seed: int) -> np.ndarray:
    """The Mersenne Twister words of ``random.Random(seed)`` (CPython's init_by_array)."""
    key = []
    n = abs(int(seed))
    while True:
        key.append(n & 0xFFFFFFFF)
        n >>= 32
        if not n:
            break
    mt = [0] * MT_N
    mt[0] = 19650218
    for i in range(1, MT_N):
        mt[i] = (1812433253 * (mt[i - 1] ^ (mt[i - 1] >> 30)) + i) & 0xFFFFFFFF
    i, j = 1, 0
    for _ in range(max(MT_N, len(key))):
        mt[i] = ((mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1664525)) + key[j] + j) & 0xFFFFFFFF
        i, j = i + 1, (j + 1) % len(key)
        if i >= MT_N:
            mt[0], i = mt[MT_N - 1], 1
    for _ in range(MT_N - 1):
        mt[i] = ((mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1566083941)) - i) & 0xFFFFFFFF
        i += 1
        if i >= MT_N:
            mt[0], i = mt[MT_N - 1], 1
    mt[0] = 0x80000000
    return np.array(mt, dtype=np.float64)


@nb.njit(inline="always")
def _next_word(mt, index):
    """The next 32-bit output; returns (word, new index). Regenerates all words when spent."""
    if index >= MT_N:
        for k in range(MT_N):
            y = (mt[k] & np.uint32(0x80000000)) | (mt[(k + 1) % MT_N] & np.uint32(0x7FFFFFFF))
            word = mt[(k + 397) % MT_N] ^ (y >> np.uint32(1))
            if y & np.uint32(1):
                word ^= np.uint32(0x9908B0DF)
            mt[k] = word
        index = 0
    y = mt[index]
    y ^= y >> np.uint32(11)
    y ^= (y << np.uint32(7)) & np.uint32(0x9D2C5680)
    y ^= (y << np.uint32(15)) & np.uint32(0xEFC60000)
    y ^= y >> np.uint32(18)
    return y, index + 1


@nb.njit(inline="always")
def _below(mt, index, n):
    """Python's ``_randbelow(n)``: rejection sampling on ``n.bit_length()`` bits."""
    bits = 0
    while (1 << bits) <= n:
        bits += 1
    while True:
        word, index = _next_word(mt, index)
        r = np.int64(word >> np.uint32(32 - bits)) if bits > 0 else np.int64(0)
        if r < n:
            return r, index


@nb.njit(inline="always")
def _sample(mt, index, population, k, use_pool, chosen, scratch):
    """Python's ``random.sample(range(population), k)`` into ``chosen``; returns the index."""
    if use_pool:
        for i in range(population):
            scratch[i] = i
        for i in range(k):
            j, index = _below(mt, index, population - i)
            chosen[i] = scratch[j]
            scratch[j] = scratch[population - i - 1]
    else:
        scratch[:population] = 0
        for i in range(k):
            j, index = _below(mt, index, population)
            while scratch[j]:
                j, index = _below(mt, index, population)
            scratch[j] = 1
            chosen[i] = j
    return index


@nb.njit(inline="always")
def _prob_outside_square(n, h):
    """SciPy's exact Pr(D_{n,n} >= h/n), in the same order of operations."""
    p = 0.0
    k = n // h  # floor(n / h) for positive integers
    while k >= 0:
        p1 = 1.0
        for j in range(h):
            p1 = (n - k * h - j) * p1 / (n + k * h + j + 1)
        p = p1 * (1.0 - p)
        k -= 1
    return 2 * p


@nb.njit(inline="always")
def _ks_same_size(a, b):
    """Two-sample KS on equal-sized samples: (distance, exact two-sided p-value)."""
    n = a.shape[0]
    a.sort()
    b.sort()
    i = j = 0
    largest = 0
    while i < n and j < n:  # walk the merged order; ties move both cdfs together
        x = min(a[i], b[j])
        while i < n and a[i] <= x:
            i += 1
        while j < n and b[j] <= x:
            j += 1
        largest = max(largest, abs(i - j))
    if largest == 0:
        return 0.0, 1.0
    p = min(max(_prob_outside_square(n, largest), 0.0), 1.0)
    return largest / n, p


@nb.njit(nogil=True, cache=True)
def _kswin(state, params, values, out):
    alpha, size, stat = params[ALPHA], int(params[WINDOW]), int(params[STAT])
    use_pool = params[POOL] == 1.0
    mt = state[HEADER : HEADER + MT_N].astype(np.uint32)
    window = state[HEADER + MT_N : HEADER + MT_N + size]
    older = size - stat
    chosen = np.empty(stat, np.int64)
    scratch = np.empty(older, np.int64)
    drawn, recent = np.empty(stat), np.empty(stat)
    filled, oldest, index = int(state[FILLED]), int(state[OLDEST]), int(state[MT_INDEX])
    for i in range(values.shape[0]):
        if state[LAST] == DRIFT:  # restart, reseeded, as River does
            filled = oldest = 0
            mt[:] = params[PARAM_HEADER:].astype(np.uint32)
            index = MT_N
            state[P_VALUE] = state[DISTANCE] = 0.0
        if filled < size:
            window[(oldest + filled) % size] = values[i]
            filled += 1
        else:
            window[oldest] = values[i]
            oldest = (oldest + 1) % size
        drift = False
        if filled == size:
            index = _sample(mt, index, older, stat, use_pool, chosen, scratch)
            for k in range(stat):
                drawn[k] = window[(oldest + chosen[k]) % size]
                recent[k] = window[(oldest + older + k) % size]
            distance, p_value = _ks_same_size(drawn, recent)
            state[P_VALUE], state[DISTANCE] = p_value, distance
            drift = p_value <= alpha and distance > 0.1
        state[LAST] = DRIFT if drift else NONE
        out[i] = state[LAST]
    state[HEADER : HEADER + MT_N] = mt
    state[FILLED], state[OLDEST], state[MT_INDEX] = filled, oldest, index


class KSWIN(DriftDetector):
    """Parameters
    ----------
    alpha
        Significance of the KS test; keep it small (below 0.01): the test runs every value.
    window_size
        Values in the sliding window.
    stat_size
        Newest values compared with as many drawn from the rest of the window.
    seed
        Seed of the draws (Python's ``random.Random``), so runs repeat exactly.

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> signals = KSWIN().update_many(elec2.no_change_errors())
    >>> int((signals == 2).sum()), int((signals == 1).sum())  # drifts, warnings
    (3, 0)
    """

    def __init__(
        self, alpha: float = 0.005, window_size: int = 100, stat_size: int = 30, seed: int = 0
    ) -> None:
        if not 0 <= alpha <= 1:
            raise ValueError(f"KSWIN: alpha must lie in [0, 1], got {alpha}")
        if not 0 < stat_size < window_size:
            raise ValueError(
                f"KSWIN: need 0 < stat_size < window_size, got {stat_size} and {window_size}"
            )
        if window_size - stat_size < stat_size:
            raise ValueError("KSWIN: the older part of the window must hold stat_size values")
        self.alpha, self.window_size, self.stat_size, self.seed = (
            alpha,
            window_size,
            stat_size,
            seed,
        )
        super().__init__()

    def params(self):
        return {
            "alpha": self.alpha,
            "window_size": self.window_size,
            "stat_size": self.stat_size,
            "seed": self.seed,
        }

    def _param_array(self):
        # random.sample draws from a pool when the population is small against k.
        older, k = self.window_size - self.stat_size, self.stat_size
        setsize = 21 + (4 ** math.ceil(math.log(k * 3, 4)) if k > 5 else 0)
        head = [self.alpha, self.window_size, self.stat_size, float(older <= setsize)]
        return np.concatenate([np.array(head, dtype=np.float64), seeded_twister(self.seed)])

    def _fresh_state(self):
        state = np.zeros(HEADER + MT_N + self.window_size + 1)
        state[HEADER : HEADER + MT_N] = self._params[PARAM_HEADER:]
        state[MT_INDEX] = MT_N
        return state

    @property
    def statistic(self) -> float:
        """The KS distance of the last test."""
        return float(self._state[DISTANCE])

    @property
    def p_value(self) -> float:
        """The p-value of the last test."""
        return float(self._state[P_VALUE])

    _kernel = staticmethod(_kswin)
