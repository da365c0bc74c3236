"""ADWIN, adaptive windowing (Bifet & Gavaldà, 2007): keeps a window of recent values in an
exponential histogram of buckets and drops its older part whenever the means of the two
parts differ by more than a bound that holds with confidence ``delta``.

The checks run every ``clock`` values, after ``grace_period`` values, and both parts must
hold ``min_window_length`` values; a detection restarts the detector, as River's does.
Detections equal River's ``drift.ADWIN`` on the same stream: the arithmetic that decides a
cut is River's. What makes it fast is around that: rows of buckets are rings (dropping the
oldest moves a head), and each check first screens every cut with a necessary condition
that needs no division or root, over running sums kept from the last check for the rows
that did not change; only a check that passes the screen runs River's test cut by cut.

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
def _at(heads, row, k, slots):
    """The slot of a row's k-th oldest bucket: rows are rings, so dropping the oldest
    buckets moves a head instead of shifting the rest."""
    i = heads[row] + k
    return i - slots if i >= slots else i


@nb.njit(inline="always")
def _screen(log_term, spread, width, min_length):
    """The constants of a cheap necessary condition that screens the cuts first. With
    h = 1/n0 + 1/n1 the bound is at least sqrt(2 σ² d' h) + 2/3 d' h (as min_length >= 1),
    so a cut can only be significant if N = |u0·n1 − u1·n0| > c1 + sqrt(c2·n0·n1), with
    c1 = 2/3 d'·width and c2 = 2 σ² d'·width: no division, no root. The slack covers
    rounding, so the exact test (River's arithmetic) still decides every cut it could
    accept. Returns (whether the screen applies, c1, c2)."""
    applies = min_length >= 1.0 and log_term > 0.0 and spread >= 0.0
    return applies, 2.0 / 3.0 * log_term * width, 2.0 * spread * log_term * width * (1.0 - 1e-9)


@nb.njit(inline="always")
def _could_cut(buckets, window, min_length, bounds, memo, dirty):
    """Whether any cut passes the screen of :func:`_shrink_window` (``bounds``: its c1 and
    c2; ``buckets`` and ``window`` as there).

    First River's running sums from the oldest end at every cut (n0, u0, and Σ|total| for
    the slack), kept in ``cache`` with each row's first cut in ``starts``: rows above
    ``dirty`` have not changed since the last scan, so their sums are still exact and only
    the newer rows are summed again. Then the screen over every cut, without a branch (the
    compiler vectorizes it): most scans end here. With u1 taken as total − u0, the slack
    also covers the rounding of River's running u1.
    """
    counts, heads, slots, totals, _variances = buckets
    width, total, _variance, n_rows = window
    c1, c2 = bounds
    cache, starts = memo
    n0s, u0s, magnitudes = cache[0], cache[1], cache[2]
    top = n_rows - 1
    row_from, m, n0, u0, magnitude = top, 0, 0.0, 0.0, 0.0
    if dirty < top:
        row_from = dirty
        m = starts[dirty + 1] + counts[dirty + 1]
        n0, u0, magnitude = n0s[m - 1], u0s[m - 1], magnitudes[m - 1]
    for row in range(row_from, -1, -1):
        starts[row] = m
        size = float(1 << row)
        slot = heads[row]
        for _ in range(counts[row]):
            bucket_total = totals[row, slot]
            slot += 1
            if slot == slots:
                slot = 0
            n0 += size
            u0 += bucket_total
            magnitude += abs(bucket_total)
            n0s[m], u0s[m], magnitudes[m] = n0, u0, magnitude
            m += 1
    hits = 0
    rounding = 1e-9 * width
    for i in range(m - 1):  # no cut after the newest value
        n0, u0 = n0s[i], u0s[i]
        n1 = width - n0  # whole numbers: exactly River's running n1
        # u0·n1 − u1·n0 with u1 = total − u0 (the slack covers both roundings)
        gap = abs(u0 * width - total * n0) - c1
        gap += rounding * (2.0 * abs(u0) + 2.0 * abs(total) + magnitudes[i])
        long_enough = (n0 >= min_length) & (n1 >= min_length)
        hits += long_enough & (gap > 0.0) & (gap * gap > c2 * n0 * n1)
    return hits > 0


@nb.njit(nogil=True, cache=True)
def _shrink_window(window, buckets, delta, min_length, memo, dirty):
    """Scan every cut from the oldest end; drop the oldest bucket while a cut is significant.

    ``window`` is (width, total, variance, rows in use); ``buckets`` (counts, heads, slots,
    totals, variances) the rings of buckets; ``memo`` (cache, starts) the screen's running
    sums. Returns the window updated, whether a cut was found, and the rows changed.

    The cut bound is Bifet & Gavaldà's: with 1/m = 1/(n0 - L + 1) + 1/(n1 - L + 1) and
    d' = ln(2 ln(width) / delta), a gap between the means above sqrt(2 σ² d' / m) + 2/3 d' / m.
    """
    counts, heads, slots, totals, variances = buckets
    width, total, variance, n_rows = window
    detected = False
    again = True
    while again:
        again = False
        # Constant within one scan: the window only changes when a cut is found.
        log_term = math.log(2.0 * math.log(width) / delta)
        spread = variance / width
        screen, c1, c2 = _screen(log_term, spread, width, min_length)
        if screen:
            window = (width, total, variance, n_rows)
            could = _could_cut(buckets, window, min_length, (c1, c2), memo, dirty)
            dirty = -1  # the cache is up to date
            if not could:
                break
        else:
            dirty = ROWS  # the cache was not brought up to date
        n0, n1 = 0.0, width
        u0, u1 = 0.0, total
        done = False
        for row in range(n_rows - 1, -1, -1):
            if done:
                break
            size = float(1 << row)
            count = counts[row]
            slot = heads[row]
            for k in range(count):
                bucket_total = totals[row, slot]
                slot += 1
                if slot == slots:
                    slot = 0
                n0 += size
                n1 -= size
                u0 += bucket_total
                u1 -= bucket_total
                if row == 0 and k == count - 1:  # the newest value: no cut after it
                    done = True
                    break
                if n1 < min_length or n0 < min_length:
                    continue
                if screen:
                    a, b = u0 * n1, u1 * n0
                    gap = abs(a - b) + 1e-9 * (abs(a) + abs(b)) - c1
                    if gap <= 0.0 or gap * gap <= c2 * n0 * n1:
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
                        oldest = heads[last]
                        bucket_total, bucket_variance = (
                            totals[last, oldest],
                            variances[last, oldest],
                        )
                        width -= size
                        total -= bucket_total
                        gap = bucket_total / size - total / width
                        variance -= bucket_variance + size * width * gap * gap / (size + width)
                        heads[last] = oldest + 1 if oldest + 1 < slots else 0
                        counts[last] -= 1
                        if counts[last] == 0:
                            n_rows -= 1
                        dirty = ROWS
                    break
    return (width, total, variance, n_rows), detected, dirty


@nb.njit(inline="always")
def _unroll(counts, heads, slots, ring, saved):
    """Rings back to rows in order, oldest first, zeros after (the saved layout)."""
    for row in range(ring.shape[0]):
        for k in range(slots):
            saved[row, k] = ring[row, _at(heads, row, k, slots)] if k < counts[row] else 0.0


@nb.njit(nogil=True, cache=True)
def _adwin(state, params, values, out):
    delta, clock, max_buckets, min_length, grace_period, direction = params
    slots = int(max_buckets) + 1
    check_every = int(clock)
    # Views of ``state``; the hot scalars and counts live in locals and are written back.
    float_counts, saved_totals, saved_variances = _views(state, slots)
    counts = float_counts.astype(np.int64)
    heads = np.zeros(ROWS, np.int64)
    cache = np.empty((3, ROWS * slots))  # the running sums at each cut, for the screen
    starts = np.zeros(ROWS, np.int64)  # each row's first cut in the cache
    dirty = ROWS  # rows above this one are as they were at the last screen
    c0, h0 = counts[0], heads[0]
    totals, variances = saved_totals.copy(), saved_variances.copy()  # contiguous: faster
    buckets, memo = (counts, heads, slots, totals, variances), (cache, starts)
    width, total, variance = state[WIDTH], state[TOTAL], state[VARIANCE]
    tick, n_rows, last = int(state[TICK]), int(state[N_ROWS]), state[LAST]
    phase = tick % check_every  # tick's place in the clock, without a division per value
    for i in range(values.shape[0]):
        if last == DRIFT:  # restart after a detection, as River does
            totals[:] = 0.0
            variances[:] = 0.0
            counts[:] = 0
            heads[:] = 0
            width = total = variance = 0.0
            tick = n_rows = phase = c0 = h0 = 0
            dirty = ROWS
        value = values[i]
        width += 1.0
        if width > 1.0:
            deviation = value - total / (width - 1.0)
            variance += (width - 1.0) * deviation * deviation / width
        total += value
        # The new value as a bucket of size 1; a row holding max_buckets + 1 buckets merges
        # its two oldest into the next row. Written out here (as a called function, even an
        # inlined one, this ran three times slower), with row 0's count and head in locals
        # (written back before a scan) and its variances left at 0: a value's is 0.
        if n_rows == 0:
            n_rows = 1
        j = h0 + c0
        if j >= slots:
            j -= slots
        totals[0, j] = value
        c0 += 1
        if dirty < 0:
            dirty = 0
        if c0 == slots:
            b = h0 + 1
            if b == slots:
                b = 0
            total_a, total_b = totals[0, h0], totals[0, b]
            extra = 0.5 * (total_a - total_b) * (total_a - total_b)  # n·n/(n+n) = 1/2
            if n_rows < 2:
                n_rows = 2
            j = heads[1] + counts[1]
            if j >= slots:
                j -= slots
            totals[1, j] = total_a + total_b
            variances[1, j] = extra  # 0 + 0 + extra
            counts[1] += 1
            if dirty < 1:
                dirty = 1
            h0 = b + 1
            if h0 == slots:
                h0 = 0
            c0 -= 2
            row = 1
            while counts[row] == slots:
                a = heads[row]
                b = a + 1
                if b == slots:
                    b = 0
                size = float(1 << row)
                total_a, total_b = totals[row, a], totals[row, b]
                # size is a power of two: the means round as River's divisions do.
                mean_a, mean_b = total_a / size, total_b / size
                extra = size * 0.5 * (mean_a - mean_b) * (mean_a - mean_b)  # n·n/(n+n) = n/2
                nxt = row + 1
                if nxt >= n_rows:
                    n_rows = nxt + 1
                if nxt > dirty:
                    dirty = nxt
                j = heads[nxt] + counts[nxt]
                if j >= slots:
                    j -= slots
                totals[nxt, j] = total_a + total_b
                variances[nxt, j] = variances[row, a] + variances[row, b] + extra
                counts[nxt] += 1
                b += 1
                if b == slots:
                    b = 0
                heads[row] = b
                counts[row] -= 2
                if counts[nxt] < slots:
                    break
                row = nxt
        tick += 1
        phase += 1
        if phase == check_every:
            phase = 0
        drift = False
        if phase == 0 and width > grace_period:
            counts[0], heads[0] = c0, h0
            # Most scans end at the screen, here; the rest go through every cut.
            screen, c1, c2 = _screen(
                math.log(2.0 * math.log(width) / delta), variance / width, width, min_length
            )
            window = (width, total, variance, n_rows)
            if screen and not _could_cut(buckets, window, min_length, (c1, c2), memo, dirty):
                dirty = -1
            else:
                mean_before = total / width
                from_row = dirty if not screen else -1
                window, drift, dirty = _shrink_window(
                    window, buckets, delta, min_length, memo, from_row
                )
                width, total, variance, n_rows = window
                c0, h0 = counts[0], heads[0]  # a cut may have dropped from row 0
                # The cut dropped the older part: the mean of what is left says which way
                # it went.
                if drift and direction != 0.0:
                    drift = (total / width - mean_before) * direction > 0.0
        last = DRIFT if drift else NONE
        out[i] = last
    counts[0], heads[0] = c0, h0
    float_counts[:] = counts
    _unroll(counts, heads, slots, totals, saved_totals)
    _unroll(counts, heads, slots, variances, saved_variances)
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

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> signals = ADWIN().update_many(elec2.no_change_errors())
    >>> int((signals == 2).sum()), int((signals == 1).sum())  # drifts, warnings
    (7, 0)
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
        self._held: list[float] = []  # values since the last test, not yet run
        self._due = clock  # values until the next test

    def params(self):
        return {
            "delta": self.delta,
            "clock": self.clock,
            "max_buckets": self.max_buckets,
            "min_window_length": self.min_window_length,
            "grace_period": self.grace_period,
            "direction": self.direction,
        }

    def _param_array(self):
        return np.array(
            [
                self.delta,
                self.clock,
                self.max_buckets,
                self.min_window_length,
                self.grace_period,
                DIRECTIONS[self.direction],
            ],
            dtype=np.float64,
        )

    def _fresh_state(self):
        return np.zeros(HEADER + ROWS + 2 * ROWS * (self.max_buckets + 1) + 1)

    def update(self, value: float) -> int:
        """One value; returns NONE or DRIFT. Between two tests nothing can be detected, so
        the values wait, and go through the compiled function together at the next test."""
        self._held.append(value)
        self._due -= 1
        if self._due:
            self._signal = NONE
            return NONE
        self._settle()
        return self._signal

    def _settle(self) -> None:
        held = self._held
        if held:
            out = np.empty(len(held), np.int8)
            self._kernel(self._state, self._params, np.array(held, dtype=np.float64), out)
            held.clear()
            self._signal = int(out[-1])
        self._due = self._values_to_next_test()

    def _values_to_next_test(self) -> int:
        """After a drift the detector restarts at its next value, its clock from zero."""
        tick = 0 if self._state[LAST] == DRIFT else int(self._state[TICK])
        return self.clock - tick % self.clock

    def reset(self) -> None:
        super().reset()
        self._held.clear()
        self._due = self.clock

    @property
    def width(self) -> int:
        """Values in the current window."""
        self._settle()
        return int(self._state[WIDTH])

    @property
    def statistic(self) -> float:
        """The mean of the window (after any cut)."""
        return self.estimation

    @property
    def estimation(self) -> float:
        """The mean of the current window."""
        self._settle()
        return self._state[TOTAL] / self._state[WIDTH] if self._state[WIDTH] else 0.0

    _kernel = staticmethod(_adwin)
