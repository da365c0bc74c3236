"""Compiled posterior updates of Bayesian linear regression, one event at a time.

The posterior over the weights is Gaussian, N(mean, cov). An event (x, y) with noise
precision beta updates it by the rank-one (Sherman–Morrison) step

    k = cov x / (1/beta + x' cov x)
    mean += k (y - x' mean)
    cov -= k x' cov

which is O(d²) per event with the full covariance and O(nonzeros) with a diagonal one.
The predictive distribution of y is N(x' mean, 1/beta + x' cov x).

Full covariance: feature hashes are mapped to dense coordinates by an open-addressing
table (``keys`` → ``coords``), filled as features arrive up to the matrix's capacity; the
last coordinate is the intercept. Diagonal: coordinates are ``hash & (size - 1)``, as for
the other hashed learners.

Forgetting (lambda < 1) discounts the past before each update: the full covariance is
divided by lambda as long as its mean variance (over the coordinates in use) stays below
the prior's, which bounds the growth in directions no event excites; a diagonal variance
is divided by lambda for each event since its coordinate was last touched (lazily),
capped at the prior.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba as nb
import numpy as np

from streamlearn.base import PREDICT

ALPHA, NOISE_VAR, FORGET = 0, 1, 2  # hyper-parameters, in the order the kernels read them
EMPTY = -1


class Coordinates(NamedTuple):
    """An open-addressing map from feature hashes to dense coordinates.

    Parameters
    ----------
    keys
        The table's hashes (``EMPTY`` where free); its size is a power of two.
    coords
        The coordinate of each key.
    used
        ``[coordinates in use, events skipped]``.

    Example
    -------
    >>> table = Coordinates.empty(capacity=3)
    >>> len(table.keys), int(table.used[0])
    (16, 0)
    """

    keys: np.ndarray
    coords: np.ndarray
    used: np.ndarray

    @classmethod
    def empty(cls, capacity: int) -> Coordinates:
        """A map with room for ``capacity`` coordinates, none in use."""
        size = table_size(capacity)
        return cls(np.full(size, EMPTY, np.int64), np.zeros(size, np.int64), np.zeros(2, np.int64))


class FullPosterior(NamedTuple):
    """N(mean, cov) over the dense coordinates of ``table`` (the last is the intercept).

    Parameters
    ----------
    mean
        ``(d,)`` posterior mean.
    cov
        ``(d, d)`` posterior covariance.
    table
        The hashes' coordinates.

    Example
    -------
    >>> import numpy as np
    >>> FullPosterior(np.zeros(3), np.eye(3), Coordinates.empty(2)).cov.shape
    (3, 3)
    """

    mean: np.ndarray
    cov: np.ndarray
    table: Coordinates


class DiagonalPosterior(NamedTuple):
    """N(mean, diag(var)) over ``hash & (size - 1)`` (the last coordinate is the intercept).

    Parameters
    ----------
    mean
        Posterior means.
    var
        Posterior variances.
    last
        The event each coordinate was last touched at (for lazy forgetting).
    clock
        ``[events learned]``.

    Example
    -------
    >>> import numpy as np
    >>> last, clock = np.zeros(5, np.int64), np.zeros(1, np.int64)
    >>> float(DiagonalPosterior(np.zeros(5), np.ones(5), last, clock).var.sum())
    5.0
    """

    mean: np.ndarray
    var: np.ndarray
    last: np.ndarray
    clock: np.ndarray


@nb.njit(inline="always")
def scratch(width, dims):
    """Work arrays of :func:`full_event` for rows of ``width`` over ``dims`` coordinates."""
    return np.empty(width + 1, np.int64), np.empty(width + 1), np.empty(dims)


@nb.njit(inline="always")
def _coordinate(table, capacity, h, insert):
    """The dense coordinate of hash ``h``; -1 when unseen (and not inserted, or full)."""
    keys, coords, used = table
    mask = keys.shape[0] - 1
    i = h & mask
    while keys[i] != EMPTY:
        if keys[i] == h:
            return coords[i]
        i = (i + 1) & mask
    if not insert or used[0] >= capacity:
        return -1
    keys[i] = h
    coords[i] = used[0]
    used[0] += 1
    return coords[i]


@nb.njit(inline="always")
def _well_conditioned(cov, sx, active, intercept, denom, prediction):
    """Whether the update keeps every variance non-negative: inputs of wildly different
    scales (raw features of 1e12 beside 1e-3) exhaust float64's precision, and such an
    event is not learned rather than allowed to corrupt the posterior."""
    if not (math.isfinite(prediction) and math.isfinite(denom)):
        return False
    for a in range(active + 1):
        i = a if a < active else intercept
        if cov[i, i] - sx[i] * sx[i] / denom < -1e-9 * cov[i, i]:
            return False
    return True


@nb.njit(inline="always")
def full_event(hashes, values, target, mean, cov, table, hp, learn, work):
    """Predictive mean and variance of one event; with ``learn``, the posterior update.
    ``work`` is :func:`scratch`'s."""
    idx, val, sx = work
    used = table.used
    intercept = cov.shape[0] - 1
    n = 0
    unseen = 0.0  # variance from features the matrix has no coordinate for (the prior's)
    for j in range(hashes.shape[0]):
        v = values[j]
        if v == 0.0:
            continue
        c = _coordinate(table, intercept, np.int64(hashes[j]), learn)
        if c < 0:
            unseen += v * v / hp[ALPHA]
            continue
        idx[n] = c
        val[n] = v
        n += 1
    idx[n] = intercept
    val[n] = 1.0
    n += 1
    # Only the coordinates in use (and the intercept) have moved from the prior: every loop
    # below runs over them, O(used²) rather than O(capacity²).
    active = used[0]
    if learn and hp[FORGET] < 1.0:
        trace = cov[intercept, intercept]
        for i in range(active):
            trace += cov[i, i]
        factor = min(1.0 / hp[FORGET], max(1.0, (active + 1) / (hp[ALPHA] * trace)))
        if factor > 1.0:
            for a in range(active + 1):
                i = a if a < active else intercept
                for b in range(active + 1):
                    cov[i, b if b < active else intercept] *= factor
    for a in range(active + 1):
        sx[a if a < active else intercept] = 0.0
    for a in range(n):
        row = cov[idx[a]]
        va = val[a]
        for b in range(active + 1):
            i = b if b < active else intercept
            sx[i] += row[i] * va
    prediction = 0.0
    quad = 0.0
    for a in range(n):
        prediction += mean[idx[a]] * val[a]
        quad += sx[idx[a]] * val[a]
    quad = max(quad, 0.0)  # rounding must not make a variance negative
    variance = hp[NOISE_VAR] + quad + unseen
    if learn and not _well_conditioned(
        cov, sx, active, intercept, hp[NOISE_VAR] + quad, prediction
    ):
        used[1] += 1
    elif learn:
        denom = hp[NOISE_VAR] + quad
        gain = (target - prediction) / denom
        for a in range(active + 1):
            i = a if a < active else intercept
            mean[i] += sx[i] * gain
        for a in range(active + 1):
            i = a if a < active else intercept
            si = sx[i] / denom
            if si != 0.0:
                row = cov[i]
                for b in range(active + 1):
                    k = b if b < active else intercept
                    row[k] -= si * sx[k]
    return prediction, variance


@nb.njit(inline="always")
def _diagonal_event(hashes, values, target, posterior, hp, learn):
    """The same with a diagonal covariance over ``hash & (size - 1)``; the intercept is the
    last coordinate."""
    mean, var, last, clock = posterior
    mask = var.shape[0] - 2
    intercept = var.shape[0] - 1
    prior = 1.0 / hp[ALPHA]
    now = clock[0]
    forget = hp[FORGET] < 1.0
    prediction = mean[intercept]
    quad = 0.0
    for pass_ in range(2):
        for j in range(hashes.shape[0] + 1):
            if j < hashes.shape[0]:
                v = values[j]
                if v == 0.0:
                    continue
                i = hashes[j] & mask
            else:
                v = 1.0
                i = intercept
            s = var[i]
            if forget and now > last[i]:
                s *= hp[FORGET] ** -(now - last[i])
                if not s < prior:  # also when the discount overflowed
                    s = prior
            if pass_ == 0:
                if j < hashes.shape[0]:
                    prediction += mean[i] * v
                quad += s * v * v
            else:
                last[i] = now
                gain = s * v / (hp[NOISE_VAR] + quad)
                mean[i] += gain * (target - prediction)
                var[i] = max(s * (1.0 - gain * v), 0.0)
        if not learn:
            break
    if learn:
        clock[0] = now + 1
    return prediction, hp[NOISE_VAR] + quad


@nb.njit(nogil=True, cache=True)
def run_full(rows, targets, posterior, hp, learn, out, out_var):
    """Events in order: predictive mean into ``out``, variance into ``out_var``, then (with
    ``learn``) the posterior update on ``targets``."""
    mean, cov, table = posterior
    work = scratch(rows.hashes.shape[1], cov.shape[0])
    for e in range(rows.hashes.shape[0]):
        target = targets[e] if learn else 0.0
        out[e], out_var[e] = full_event(
            rows.hashes[e], rows.values[e], target, mean, cov, table, hp, learn, work
        )


@nb.njit(nogil=True, cache=True)
def run_diagonal(rows, targets, posterior, hp, learn, out, out_var):
    for e in range(rows.hashes.shape[0]):
        target = targets[e] if learn else 0.0
        out[e], out_var[e] = _diagonal_event(
            rows.hashes[e], rows.values[e], target, posterior, hp, learn
        )


@nb.njit(nogil=True, cache=True)
def run_full_ops(rows, schedule, posterior, hp, out):
    """A runner schedule (PREDICT / LEARN / PREDICT_LEARN on rows), in order."""
    mean, cov, table = posterior
    work = scratch(rows.hashes.shape[1], cov.shape[0])
    for k in range(schedule.ops.shape[0]):
        row = schedule.rows[k]
        learn = schedule.ops[k] != PREDICT
        out[k], _ = full_event(
            rows.hashes[row],
            rows.values[row],
            schedule.targets[k],
            mean,
            cov,
            table,
            hp,
            learn,
            work,
        )


@nb.njit(nogil=True, cache=True)
def run_diagonal_ops(rows, schedule, posterior, hp, out):
    for k in range(schedule.ops.shape[0]):
        row = schedule.rows[k]
        learn = schedule.ops[k] != PREDICT
        out[k], _ = _diagonal_event(
            rows.hashes[row], rows.values[row], schedule.targets[k], posterior, hp, learn
        )


def table_size(capacity: int) -> int:
    """Slots of the open-addressing table for ``capacity`` features (load ≤ 1/4)."""
    return 1 << max(4, math.ceil(math.log2(4 * capacity)))
