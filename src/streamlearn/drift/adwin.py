"""ADWIN, adaptive windowing (Bifet & Gavaldà, 2007): keeps a window of recent values in an
exponential histogram of buckets and drops its older part whenever the means of the two
parts differ by more than a bound that holds with confidence ``delta``.

The checks run every ``clock`` values, after ``grace_period`` values, and both parts must
hold ``min_window_length`` values; a detection restarts the detector, as River's does.
Detections equal River's ``drift.ADWIN`` on the same stream.

>>> import numpy as np
>>> from streamlearn.drift import ADWIN
>>> rng = np.random.default_rng(0)
>>> errors = np.concatenate([rng.random(5000) < 0.1, rng.random(3000) < 0.4])
>>> np.flatnonzero(ADWIN().update_many(errors) == 2).tolist()
[5119]
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from streamlearn.drift.base import DRIFT, LAST, NONE, DriftDetector

DIRECTIONS = {"both": 0.0, "up": 1.0, "down": -1.0}
ROWS = 48  # bucket sizes 1 .. 2**47: more values than any stream will bring
WIDTH, TOTAL, VARIANCE, TICK, N_ROWS = range(5)
HEADER = 5  # then: counts[ROWS], totals[ROWS, M + 1], variances[ROWS, M + 1], last


@nb.njit(inline="always")
def _views(state, slots):
    counts = state[HEADER : HEADER + ROWS]
    start = HEADER + ROWS
    totals = state[start : start + ROWS * slots].reshape(ROWS, slots)
    start += ROWS * slots
    variances = state[start : start + ROWS * slots].reshape(ROWS, slots)
    return counts, totals, variances


@nb.njit(inline="always")
def _drop_front(row_totals, row_variances, count, n):
    """Remove the ``n`` oldest entries of a row (shift the rest left)."""
    for i in range(n, count):
        row_totals[i - n] = row_totals[i]
        row_variances[i - n] = row_variances[i]
    for i in range(count - n, count):
        row_totals[i] = 0.0
        row_variances[i] = 0.0


@nb.njit(inline="always")
def _insert(state, counts, totals, variances, max_buckets, value):
    width = state[WIDTH] + 1.0
    if width > 1.0:
        deviation = value - state[TOTAL] / (width - 1.0)
        state[VARIANCE] += (width - 1.0) * deviation * deviation / width
    state[WIDTH] = width
    state[TOTAL] += value
    if state[N_ROWS] == 0:
        state[N_ROWS] = 1
    totals[0, int(counts[0])] = value
    variances[0, int(counts[0])] = 0.0
    counts[0] += 1
    # A row holding max_buckets + 1 buckets merges its two oldest into the next row.
    row = 0
    while counts[row] == max_buckets + 1:
        size = float(1 << row)
        mean_a, mean_b = totals[row, 0] / size, totals[row, 1] / size
        merged_total = totals[row, 0] + totals[row, 1]
        extra = size * 0.5 * (mean_a - mean_b) * (mean_a - mean_b)  # n·n/(n+n) = n/2
        merged_variance = variances[row, 0] + variances[row, 1] + extra
        nxt = row + 1
        if nxt >= state[N_ROWS]:
            state[N_ROWS] = nxt + 1
        totals[nxt, int(counts[nxt])] = merged_total
        variances[nxt, int(counts[nxt])] = merged_variance
        counts[nxt] += 1
        _drop_front(totals[row], variances[row], int(counts[row]), 2)
        counts[row] -= 2
        if counts[nxt] <= max_buckets:
            break
        row = nxt


@nb.njit(inline="always")
def _delete_oldest(state, counts, totals, variances):
    """Drop the oldest bucket; returns its size."""
    row = int(state[N_ROWS]) - 1
    size = float(1 << row)
    bucket_total, bucket_variance = totals[row, 0], variances[row, 0]
    state[WIDTH] -= size
    state[TOTAL] -= bucket_total
    window_mean = state[TOTAL] / state[WIDTH]
    bucket_mean = bucket_total / size
    gap = bucket_mean - window_mean
    state[VARIANCE] -= bucket_variance + size * state[WIDTH] * gap * gap / (size + state[WIDTH])
    _drop_front(totals[row], variances[row], int(counts[row]), 1)
    counts[row] -= 1
    if counts[row] == 0:
        state[N_ROWS] -= 1
    return size


@nb.njit(inline="always")
def _shrink_window(state, counts, totals, variances, delta, min_length):
    """Scan every cut from the oldest end; drop the oldest bucket while a cut is significant.

    The cut bound is Bifet & Gavaldà's: with 1/m = 1/(n0 - L + 1) + 1/(n1 - L + 1) and
    d' = ln(2 ln(width) / delta), a gap between the means above sqrt(2 σ² d' / m) + 2/3 d' / m.
    """
    detected = False
    again = True
    while again:
        again = False
        # Constant within one scan: the window only changes when a cut is found.
        log_term = math.log(2.0 * math.log(state[WIDTH]) / delta)
        spread = state[VARIANCE] / state[WIDTH]
        n0, n1 = 0.0, state[WIDTH]
        u0, u1 = 0.0, state[TOTAL]
        done = False
        for row in range(int(state[N_ROWS]) - 1, -1, -1):
            if done:
                break
            size = float(1 << row)
            count = int(counts[row])
            for k in range(count):
                n0 += size
                n1 -= size
                u0 += totals[row, k]
                u1 -= totals[row, k]
                if row == 0 and k == count - 1:  # the newest value: no cut after it
                    done = True
                    break
                if n1 < min_length or n0 < min_length:
                    continue
                inverse = 1.0 / (n0 - min_length + 1.0) + 1.0 / (n1 - min_length + 1.0)
                bound = (
                    math.sqrt(2.0 * inverse * spread * log_term) + 2.0 / 3.0 * log_term * inverse
                )
                if abs(u0 / n0 - u1 / n1) > bound:
                    detected = again = done = True
                    if state[WIDTH] > 0:
                        _delete_oldest(state, counts, totals, variances)
                    break
    return detected


@nb.njit(nogil=True, cache=True)
def _adwin(state, params, values, out):
    delta, clock, max_buckets, min_length, grace_period, direction = params
    slots = int(max_buckets) + 1
    for i in range(values.shape[0]):
        if state[LAST] == DRIFT:
            state[:] = 0.0
        counts, totals, variances = _views(state, slots)
        _insert(state, counts, totals, variances, max_buckets, values[i])
        state[TICK] += 1.0
        drift = False
        if state[TICK] % clock == 0 and state[WIDTH] > grace_period:
            mean_before = state[TOTAL] / state[WIDTH]
            drift = _shrink_window(state, counts, totals, variances, delta, min_length)
            # The cut dropped the older part: the mean of what is left says which way it went.
            if drift and direction != 0.0:
                drift = (state[TOTAL] / state[WIDTH] - mean_before) * direction > 0.0
        state[LAST] = DRIFT if drift else NONE
        out[i] = state[LAST]


class ADWIN(DriftDetector):
    """Parameters
    ----------
    delta
        Confidence of the cut test: smaller means fewer, surer detections.
    clock
        Check for a change every ``clock`` values.
    max_buckets
        Buckets of each size kept before two are merged.
    min_window_length
        Values each side of a cut must hold.
    grace_period
        Values seen before the first check.
    direction
        ``both`` (River's ADWIN), or ``up`` / ``down``: signal only changes that raised /
        lowered the mean (the window is cut either way). On a learner's errors, ``up`` ignores
        the learner getting better.
    """

    def __init__(
        self,
        delta: float = 0.002,
        clock: int = 32,
        max_buckets: int = 5,
        min_window_length: int = 5,
        grace_period: int = 10,
        direction: str = "both",
    ) -> None:
        if not 0 < delta < 1 or clock < 1 or max_buckets < 2:
            raise ValueError("ADWIN: 0 < delta < 1, clock >= 1 and max_buckets >= 2")
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {sorted(DIRECTIONS)}, got {direction!r}")
        self.direction = direction
        self.delta, self.clock, self.max_buckets = delta, clock, max_buckets
        self.min_window_length, self.grace_period = min_window_length, grace_period
        super().__init__()

    def params(self):
        return {"delta": self.delta, "clock": self.clock, "max_buckets": self.max_buckets,
                "min_window_length": self.min_window_length,
                "grace_period": self.grace_period, "direction": self.direction}  # fmt: skip

    def _param_array(self):
        return np.array(
            [self.delta, self.clock, self.max_buckets, self.min_window_length,
             self.grace_period, DIRECTIONS[self.direction]],
            dtype=np.float64,
        )  # fmt: skip

    def _fresh_state(self):
        return np.zeros(HEADER + ROWS + 2 * ROWS * (self.max_buckets + 1) + 1)

    @property
    def width(self) -> int:
        """Values in the current window."""
        return int(self._state[WIDTH])

    @property
    def statistic(self) -> float:
        """The mean of the window (after any cut)."""
        return self.estimation

    @property
    def estimation(self) -> float:
        """The mean of the current window."""
        return self._state[TOTAL] / self._state[WIDTH] if self._state[WIDTH] else 0.0

    _kernel = staticmethod(_adwin)
