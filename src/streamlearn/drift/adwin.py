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
def _insert(counts, totals, variances, max_buckets, n_rows, value):
    """Add ``value`` as a bucket of size 1; a row holding ``max_buckets + 1`` buckets merges
    its two oldest into the next row. Returns the number of rows in use."""
    if n_rows == 0:
        n_rows = 1
    totals[0, counts[0]] = value
    variances[0, counts[0]] = 0.0
    counts[0] += 1
    row = 0
    while counts[row] == max_buckets + 1:
        # size / 2 ** row is exact: the same rounding as River's division by the size.
        inverse_size = 1.0 / (1 << row)
        mean_a, mean_b = totals[row, 0] * inverse_size, totals[row, 1] * inverse_size
        extra = (1 << row) * 0.5 * (mean_a - mean_b) * (mean_a - mean_b)  # n·n/(n+n) = n/2
        nxt = row + 1
        if nxt >= n_rows:
            n_rows = nxt + 1
        totals[nxt, counts[nxt]] = totals[row, 0] + totals[row, 1]
        variances[nxt, counts[nxt]] = variances[row, 0] + variances[row, 1] + extra
        counts[nxt] += 1
        _drop_front(totals[row], variances[row], counts[row], 2)
        counts[row] -= 2
        if counts[nxt] <= max_buckets:
            break
        row = nxt
    return n_rows


@nb.njit(inline="always")
def _shrink_window(window, counts, totals, variances, delta, min_length):
    """Scan every cut from the oldest end; drop the oldest bucket while a cut is significant.

    ``window`` is (width, total, variance, rows in use); returns it updated, and whether a
    cut was found. The cut bound is Bifet & Gavaldà's: with
    1/m = 1/(n0 - L + 1) + 1/(n1 - L + 1) and d' = ln(2 ln(width) / delta), a gap between the
    means above sqrt(2 σ² d' / m) + 2/3 d' / m.
    """
    width, total, variance, n_rows = window
    detected = False
    again = True
    while again:
        again = False
        # Constant within one scan: the window only changes when a cut is found.
        log_term = math.log(2.0 * math.log(width) / delta)
        spread = variance / width
        n0, n1 = 0.0, width
        u0, u1 = 0.0, total
        done = False
        for row in range(n_rows - 1, -1, -1):
            if done:
                break
            size = float(1 << row)
            count = counts[row]
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
                    if width > 0:
                        # Drop the oldest bucket.
                        last = n_rows - 1
                        size = float(1 << last)
                        bucket_total, bucket_variance = totals[last, 0], variances[last, 0]
                        width -= size
                        total -= bucket_total
                        gap = bucket_total / size - total / width
                        variance -= bucket_variance + size * width * gap * gap / (size + width)
                        _drop_front(totals[last], variances[last], counts[last], 1)
                        counts[last] -= 1
                        if counts[last] == 0:
                            n_rows -= 1
                    break
    return (width, total, variance, n_rows), detected


@nb.njit(nogil=True, cache=True)
def _adwin(state, params, values, out):
    delta, clock, max_buckets, min_length, grace_period, direction = params
    slots = int(max_buckets) + 1
    buckets = int(max_buckets)
    check_every = int(clock)
    # Views of ``state``; the hot scalars and counts live in locals and are written back.
    float_counts, saved_totals, saved_variances = _views(state, slots)
    counts = float_counts.astype(np.int64)
    totals, variances = saved_totals.copy(), saved_variances.copy()  # contiguous: faster
    width, total, variance = state[WIDTH], state[TOTAL], state[VARIANCE]
    tick, n_rows, last = int(state[TICK]), int(state[N_ROWS]), state[LAST]
    for i in range(values.shape[0]):
        if last == DRIFT:  # restart after a detection, as River does
            totals[:] = 0.0
            variances[:] = 0.0
            counts[:] = 0
            width = total = variance = 0.0
            tick = n_rows = 0
        value = values[i]
        width += 1.0
        if width > 1.0:
            deviation = value - total / (width - 1.0)
            variance += (width - 1.0) * deviation * deviation / width
        total += value
        n_rows = _insert(counts, totals, variances, buckets, n_rows, value)
        tick += 1
        drift = False
        if tick % check_every == 0 and width > grace_period:
            mean_before = total / width
            window, drift = _shrink_window(
                (width, total, variance, n_rows), counts, totals, variances, delta, min_length
            )
            width, total, variance, n_rows = window
            # The cut dropped the older part: the mean of what is left says which way it went.
            if drift and direction != 0.0:
                drift = (total / width - mean_before) * direction > 0.0
        last = DRIFT if drift else NONE
        out[i] = last
    float_counts[:] = counts
    saved_totals[:] = totals
    saved_variances[:] = variances
    state[WIDTH], state[TOTAL], state[VARIANCE] = width, total, variance
    state[TICK], state[N_ROWS], state[LAST] = tick, n_rows, last


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
