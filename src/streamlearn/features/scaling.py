"""Online standard scaling with Welford's algorithm, per numeric feature, clipped to ±5.

Each value is scaled with the statistics of the values seen *before* it, then folded into them,
so a batch gives exactly what one event at a time would.
"""

from __future__ import annotations

import math
from typing import Any

import numba as nb
import numpy as np

COUNT, MEAN, M2 = 0, 1, 2
Z_CLIP = 5.0  # z-scores beyond ±5 are clipped: one outlier cannot take a giant step


# Both use the processor's divider as little as it allows, which bounds a column's pace: a
# z-score is the distance times sqrt(count / M2) (one division and a root, not two and a
# root), and the mean moves by delta times 1/count, a reciprocal that does not wait for the
# previous value's mean. A zero distance is a zero z-score even where count / M2 overflows.
@nb.njit(inline="always")
def _scaled(stats, x):
    count, m2 = stats[COUNT], stats[M2]
    if count < 2.0 or m2 <= 0.0:
        return 0.0
    delta = x - stats[MEAN]
    if delta == 0.0:
        return 0.0
    z = delta * math.sqrt(count / m2)
    return min(max(z, -Z_CLIP), Z_CLIP)


@nb.njit(inline="always")
def _fold(stats, x):
    count = stats[COUNT] + 1.0
    stats[COUNT] = count
    delta = x - stats[MEAN]
    stats[MEAN] += delta * (1.0 / count)
    stats[M2] += delta * (x - stats[MEAN])


RAW, SCALED, ZERO = 0, 1, 2  # what number_column does with a present value


@nb.njit(nogil=True, cache=True)
def number_column(values, limit, stats, mode, learn, seed, out_hash, out_value):
    """A numeric column into its slots in one pass: each value kept (RAW), scaled by the
    running statistics (SCALED; with ``learn`` each value folds in after use, exactly as the
    one-event path does) or 0 (ZERO: no statistics yet). Absent values (NaN, ±inf, and
    numbers beyond ±``limit``, which would wreck the statistics) are 0, which the sparse
    representation skips."""
    for i in range(values.shape[0]):
        out_hash[i] = seed
        x = values[i]
        if not (-limit <= x <= limit):  # False for NaN too
            out_value[i] = 0.0
            continue
        if mode == SCALED:
            out_value[i] = _scaled(stats, x)
            if learn:
                _fold(stats, x)
        else:
            out_value[i] = x if mode == RAW else 0.0


class OnlineScaler:
    """Running mean and variance of every numeric feature; transforms to z-scores.

    Parameters
    ----------
    None. Statistics are created when a feature is first seen.

    Example
    -------
    >>> from streamlearn.features.scaling import OnlineScaler
    >>> scaler = OnlineScaler()
    >>> for v in [1.0, 2.0, 3.0]:
    ...     scaler.learn_one({"x": v})
    >>> round(scaler.transform_one({"x": 4.0})["x"], 4)
    2.4495
    >>> scaler.transform_one({"x": 1e9})["x"]  # clipped
    5.0
    """

    def __init__(self) -> None:
        self.columns: dict[str, int] = {}
        self.stats = np.zeros((0, 3))
        self._view = memoryview(self.stats)

    def __getstate__(self) -> dict[str, Any]:
        # a memoryview cannot be pickled: it is made again from the statistics
        return {"columns": dict(self.columns), "stats": self.stats}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.columns = state["columns"]
        self.stats = state["stats"]
        self._view = memoryview(self.stats)

    def slot(self, name: str) -> int:
        """Index of ``name``'s statistics row, creating it on first sight."""
        slot = self.columns.get(name)
        if slot is None:
            slot = len(self.columns)
            self.columns[name] = slot
            if slot >= len(self.stats):
                grown = np.zeros((max(8, 2 * len(self.stats)), 3))
                grown[: len(self.stats)] = self.stats
                self.stats = grown
                self._view = memoryview(grown)
        return slot

    # The one-event path repeats _scaled/_fold in plain Python through a memoryview (a
    # compiled call from Python costs more than the arithmetic); the operations are the
    # same, so the results are equal to the last bit, which the conformance tests check.
    def scale(self, name: str, x: float) -> float:
        slot = self.columns.get(name)
        if slot is None:
            return 0.0
        view = self._view
        count, m2 = view[slot, COUNT], view[slot, M2]
        if count < 2.0 or m2 <= 0.0:
            return 0.0
        delta = x - view[slot, MEAN]
        if delta == 0.0:
            return 0.0
        z = delta * math.sqrt(count / m2)
        return min(max(z, -Z_CLIP), Z_CLIP)

    def fold(self, name: str, x: float) -> None:
        slot = self.columns.get(name)
        if slot is None:
            slot = self.slot(name)
        view = self._view
        count = view[slot, COUNT] + 1.0
        mean = view[slot, MEAN]
        delta = x - mean
        mean += delta * (1.0 / count)
        view[slot, COUNT] = count
        view[slot, MEAN] = mean
        view[slot, M2] += delta * (x - mean)

    def learn_one(self, x: dict) -> None:
        for name, value in x.items():
            self.fold(name, float(value))

    def transform_one(self, x: dict) -> dict:
        return {name: self.scale(name, float(value)) for name, value in x.items()}

    def state(self) -> tuple[np.ndarray, list[str]]:
        """The statistics, one row per column, columns by name: the same state whatever
        order the columns were first seen in (one event at a time or a batch at once)."""
        names = sorted(self.columns)
        return self.stats[[self.columns[name] for name in names]].copy(), names

    @classmethod
    def from_state(cls, stats: np.ndarray, columns: list[str]) -> OnlineScaler:
        scaler = cls()
        for name in columns:
            scaler.slot(name)
        scaler.stats[: len(columns)] = stats
        return scaler
