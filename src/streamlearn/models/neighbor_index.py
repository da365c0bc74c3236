"""An exact index of a neighbours window: its rows sorted along one feature (the one that
spreads them most), searched outwards from the query's value on it.

A row's squared distance is at least the square of its gap to the query along that
feature, so the search stops as soon as the next gap alone is more than the k-th distance
found: on a window of well spread rows it computes the distances of a few rows, not of
all. The answer is the full scan's to the last bit — the same neighbours, in the same
order, ties broken by window slot — because the bound is computed from the same numbers
the distance adds up, in the same order, and rounding never makes a sum of squares
smaller than one of its terms.

The index holds ``order`` (the slots, sorted by their value on the axis), ``keys`` (those
values), ``rank`` (each slot's place in ``order``) and ``axis`` (the feature; -1: to be
built). It is derived from the window, so snapshots leave it out and it is built again when
needed, and again every ``window_size`` events learned, when the feature that spreads the
rows most may have changed.
"""

from __future__ import annotations

import numba as nb
import numpy as np


def empty_index(window_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """An index of a window of ``window_size`` rows, to be built."""
    return (
        np.zeros(window_size, np.int64),
        np.zeros(window_size),
        np.zeros(window_size, np.int64),
        np.full(1, -1, np.int64),
    )


@nb.njit(cache=True)
def rebuild(window, filled, index):
    """Sort the first ``filled`` rows along the feature of the largest variance."""
    order, keys, rank, axis = index
    best, spread = 0, -1.0
    for f in range(window.shape[1]):
        mean, m2 = 0.0, 0.0
        for j in range(filled):
            delta = window[j, f] - mean
            mean += delta / (j + 1)
            m2 += delta * (window[j, f] - mean)
        if m2 > spread:
            best, spread = f, m2
    axis[0] = best
    sorted_slots = np.argsort(window[:filled, best], kind="mergesort")
    for p in range(filled):
        slot = sorted_slots[p]
        order[p], keys[p], rank[slot] = slot, window[slot, best], p


@nb.njit(inline="always")
def replace(index, n, slot, key):
    """``slot``'s row was overwritten (its value on the axis now ``key``): move it to its
    new place among the ``n`` rows, shifting only the rows in between."""
    order, keys, rank, _axis = index
    p = rank[slot]
    while p + 1 < n and keys[p + 1] < key:
        order[p], keys[p] = order[p + 1], keys[p + 1]
        rank[order[p]] = p
        p += 1
    while p > 0 and keys[p - 1] > key:
        order[p], keys[p] = order[p - 1], keys[p - 1]
        rank[order[p]] = p
        p -= 1
    order[p], keys[p], rank[slot] = slot, key, p


@nb.njit(inline="always")
def insert(index, n, slot, key):
    """Put ``slot`` (its value on the axis: ``key``) into an index of ``n`` rows."""
    order, keys, rank, _axis = index
    p = n
    while p > 0 and keys[p - 1] > key:
        order[p], keys[p] = order[p - 1], keys[p - 1]
        rank[order[p]] = p
        p -= 1
    order[p], keys[p], rank[slot] = slot, key, p


@nb.njit(inline="always")
def _start(keys, n, q):
    """The first place whose key is at least ``q``."""
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) // 2
        if keys[mid] < q:
            lo = mid + 1
        else:
            hi = mid
    return lo


@nb.njit(inline="always")
def _keep(d, j, n, k, distances, found):
    """Add row ``j`` at distance ``d`` to the ``n`` nearest so far (by distance, then slot);
    returns how many there are now."""
    if n == k and (d > distances[k - 1] or (d == distances[k - 1] and j > found[k - 1])):
        return n
    at = n if n < k else k - 1
    while at > 0 and (distances[at - 1] > d or (distances[at - 1] == d and found[at - 1] > j)):
        distances[at], found[at] = distances[at - 1], found[at - 1]
        at -= 1
    distances[at], found[at] = d, j
    return min(n + 1, k)


@nb.njit(cache=True)
def nearest(window, index, filled, query, k, distances, found):
    """The ``k`` rows nearest to ``query`` (its dense row and the squared value of its
    features no window row has), nearest first, into ``found`` and ``distances``; returns
    how many there are."""
    order, keys, _rank, axis = index
    dense, extra = query
    f = axis[0]
    q = dense[f]
    hi = _start(keys, filled, q)
    lo = hi - 1
    n = 0
    while lo >= 0 or hi < filled:
        below = q - keys[lo] if lo >= 0 else np.inf
        above = keys[hi] - q if hi < filled else np.inf
        if below <= above:
            p, gap = lo, below
            lo -= 1
        else:
            p, gap = hi, above
            hi += 1
        if n == k and extra + gap * gap > distances[k - 1]:
            break  # every row left is at least this far
        j = order[p]
        d = extra
        for g in range(len(dense)):
            diff = window[j, g] - dense[g]
            d += diff * diff
        n = _keep(d, j, n, k, distances, found)
    return n
