"""The compiled per-event loop shared by every linear learner.

For each event, in order: compute the margin from the current weights, turn it into a
prediction, and (when learning) take one optimizer step on that event's loss. Batch and
one-event calls run this same loop, which is why their results are identical.

The weight table has two columns per coordinate, side by side for cache locality:
SGD and AdaGrad keep (weight, sum of squared gradients); FTRL keeps (z, sqrt(n)).
The intercept is apart: plain SGD at a constant, unregularized rate, so that it keeps
tracking the base rate when that drifts, while per-coordinate rates decay.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba as nb
import numpy as np

from streamlearn.base import PREDICT
from streamlearn.features.packed import fold_numbers, plan_slots, unpack
from streamlearn.models.linear.optimizers import (
    ADAGRAD_CODE,
    ALPHA,
    BETA,
    EPS,
    FTRL_CODE,
    INTERCEPT_LR,
    L1,
    L2,
    LR,
    POWER_T,
    ROOT_N_CAP,
    SCALE_TARGET,
    SGD_CODE,
)
from streamlearn.models.prefetch import prefetch_row

LOG_LOSS, SQUARED_LOSS = 0, 1
GRAD_CLIP = 1e6  # bounds one coordinate's step, so that no input can overflow a weight
MARGIN_CLIP = 35.0  # beyond this the sigmoid is 0 or 1 in float64


class LinearWeights(NamedTuple):
    """What a binary or regression linear learner has learned.

    Parameters
    ----------
    table
        ``(size, 2)`` per hashed coordinate: (weight, sum of squared gradients) for SGD and
        AdaGrad, (z, sqrt n) for FTRL.
    intercept
        ``[intercept]``.
    target_stats
        ``[count, mean, M2]`` of the targets (regression's target scaling).
    counters
        ``[events learned]``.

    Example
    -------
    >>> import numpy as np
    >>> weights = LinearWeights(np.zeros((16, 2)), np.zeros(1), np.zeros(3), np.zeros(1))
    >>> weights.table.shape
    (16, 2)
    """

    table: np.ndarray
    intercept: np.ndarray
    target_stats: np.ndarray
    counters: np.ndarray


class SoftmaxWeights(NamedTuple):
    """What multinomial logistic regression has learned.

    Parameters
    ----------
    learned
        Per class id, whether it has been learned (the others have probability 0).
    table
        ``(size, 2)`` as :class:`LinearWeights`'; class k's copy of a feature at
        ``hash + k * CLASS_STRIDE``.
    intercepts
        Per class.
    counters
        ``[events learned]``.

    Example
    -------
    >>> import numpy as np
    >>> weights = SoftmaxWeights(np.zeros(3, np.uint8), np.zeros((16, 2)), np.zeros(3), np.zeros(1))
    >>> int(weights.learned.sum())
    0
    """

    learned: np.ndarray
    table: np.ndarray
    intercepts: np.ndarray
    counters: np.ndarray


@nb.njit(inline="always")
def _constants(hp):
    """The optimizer's settings as locals, read once per event: kept in registers across the
    slots (array entries would be read again after every weight written), with the
    divisions by alpha done here. (l1, l2, alpha, beta, root_n_cap, 1/alpha, l2·alpha, lr,
    eps)."""
    alpha = hp[ALPHA]
    return (
        hp[L1],
        hp[L2],
        alpha,
        hp[BETA],
        hp[ROOT_N_CAP],
        1.0 / alpha,
        hp[L2] * alpha,
        hp[LR],
        hp[EPS],
    )


@nb.njit(inline="always")
def _weight(table, i, opt, c):
    if opt != FTRL_CODE:
        return table[i, 0]
    z = table[i, 0]
    l1 = c[0]
    if abs(z) <= l1:
        return 0.0
    shrunk = z - l1 if z > 0.0 else z + l1
    # -shrunk / ((beta + sqrt n) / alpha + l2), with one division instead of two
    return -shrunk * c[2] / (c[3] + table[i, 1] + c[6])


@nb.njit(inline="always")
def _soft_threshold(w, amount):
    if w > amount:
        return w - amount
    if w < -amount:
        return w + amount
    return 0.0


@nb.njit(inline="always")
def _step(table, i, w, g, opt, c, rate):
    if opt == FTRL_CODE:
        n_sqrt = table[i, 1]
        new_sqrt = min(math.sqrt(n_sqrt * n_sqrt + g * g), max(n_sqrt, c[4]))
        table[i, 0] += g - (new_sqrt - n_sqrt) * c[5] * w
        table[i, 1] = new_sqrt
        return
    g += c[1] * w
    if opt == ADAGRAD_CODE:
        table[i, 1] += g * g
        rate = c[7] / (math.sqrt(table[i, 1]) + c[8])
    w -= rate * g
    if c[0] > 0.0:
        w = _soft_threshold(w, rate * c[0])
    table[i, 0] = w


@nb.njit(inline="always")
def _target_scale(stats):
    """(mean, standard deviation) of the targets learned so far; (0, 1) before there are two."""
    if stats[0] < 2.0 or stats[2] <= 0.0:
        return (stats[1] if stats[0] >= 1.0 else 0.0), 1.0
    return stats[1], math.sqrt(stats[2] / stats[0])


@nb.njit(inline="always")
def _event(hashes, values, target, weights, opt, loss, hp, learn, used):
    """Predict one event; with ``learn``, take one step on it. Returns the prediction.
    ``weights`` holds :class:`LinearWeights`' arrays.

    A feature's weight is at ``hash & (table size - 1)``: the table size is a power of two.
    With target scaling (regression), the model learns the target's running z-score, so the
    learning rates need not know the target's units.
    """
    table, intercept, target_stats, counters = weights
    n_slots = hashes.shape[0]
    mask = table.shape[0] - 1
    c = _constants(hp)
    margin = intercept[0]
    for s in range(n_slots):
        v = values[s]
        if v == 0.0:
            continue
        w = _weight(table, hashes[s] & mask, opt, c)
        used[s] = w
        margin += w * v
    if not math.isfinite(margin):
        margin = 0.0
    scaled = loss != LOG_LOSS and hp[SCALE_TARGET] > 0.0
    if loss == LOG_LOSS:
        margin = min(max(margin, -MARGIN_CLIP), MARGIN_CLIP)
        prediction = 1.0 / (1.0 + math.exp(-margin))
    elif scaled:
        mean, sd = _target_scale(target_stats)
        prediction = mean + sd * margin
    else:
        prediction = margin
    if learn:
        if scaled:
            # Until two targets give a scale, the model learns "the mean": z-target 0.
            error = margin - ((target - mean) / sd if target_stats[0] >= 2.0 else 0.0)
            # Welford, as the feature scaler does: the target joins the statistics after use.
            target_stats[0] += 1.0
            delta = target - target_stats[1]
            target_stats[1] += delta / target_stats[0]
            target_stats[2] += delta * (target - target_stats[1])
        else:
            error = prediction - target
        intercept[0] -= hp[INTERCEPT_LR] * min(max(error, -GRAD_CLIP), GRAD_CLIP)
        rate = hp[LR] / (1.0 + counters[0]) ** hp[POWER_T] if hp[POWER_T] > 0.0 else hp[LR]
        for s in range(n_slots):
            v = values[s]
            if v == 0.0:
                continue
            g = min(max(error * v, -GRAD_CLIP), GRAD_CLIP)
            _step(table, hashes[s] & mask, used[s], g, opt, c, rate)
        counters[0] += 1
    return prediction


AHEAD = 4  # events: how far ahead the loop prefetches weights


@nb.njit(inline="always")
def _prefetch(table, hashes):
    """Start loading a later event's weights: the table is bigger than the caches, and these
    loads then overlap with the current event's arithmetic instead of stalling the next one
    (the kernel takes 0.21 instead of 0.30 CPU s per 1M click events; loads whose result
    the loop summed gave 7%)."""
    mask = table.shape[0] - 1
    for s in range(hashes.shape[0]):
        prefetch_row(table, hashes[s] & mask)


def _specialized(opt: int, loss: int) -> tuple:
    """The batch loops for one optimizer and loss: compiled with both as constants, so that
    the per-slot code has no branch on them (twice as fast as one loop for all)."""

    @nb.njit(nogil=True, cache=True)
    def run(rows, targets, weights, hp, learn, out):
        hashes, values = rows
        used = np.empty(hashes.shape[1])
        n = hashes.shape[0]
        for t in range(n):
            if t + AHEAD < n:
                _prefetch(weights.table, hashes[t + AHEAD])
            target = targets[t] if learn else 0.0
            out[t] = _event(hashes[t], values[t], target, weights, opt, loss, hp, learn, used)

    @nb.njit(nogil=True, cache=True)
    def run_ops(rows, schedule, weights, hp, out):
        hashes, values = rows
        ops, op_rows, targets = schedule
        used = np.empty(hashes.shape[1])
        for k in range(ops.shape[0]):
            row = op_rows[k]
            if k + AHEAD < ops.shape[0]:
                _prefetch(weights.table, hashes[op_rows[k + AHEAD]])
            learn = ops[k] != PREDICT
            out[k] = _event(
                hashes[row], values[row], targets[k], weights, opt, loss, hp, learn, used
            )

    # One-event kernels take plain arrays, not records: every argument, and a record more
    # (about 0.7 µs), costs the call from Python time.
    @nb.njit(nogil=True, cache=True)
    def run_one(hashes, values, target, table, intercept, target_stats, counters, hp, learn):
        used = np.empty(hashes.shape[0])
        weights = (table, intercept, target_stats, counters)
        return _event(hashes, values, target, weights, opt, loss, hp, learn, used)

    # Packed events (streamlearn.features.packed): a predict and a learn kernel, each with
    # only the arguments it needs, as every argument costs the call from Python time.
    @nb.njit(nogil=True, cache=True)
    def predict_packed(data, plan, stats, table, intercept, target_stats, hp):
        n = plan_slots(plan)
        hashes, values, used = np.empty(n, np.uint32), np.empty(n), np.empty(n)
        unpack(data, plan, stats, hashes, values)
        # counters are not read without learning: the intercept stands in for them
        weights = (table, intercept, target_stats, intercept)
        return _event(hashes, values, 0.0, weights, opt, loss, hp, False, used)

    @nb.njit(nogil=True, cache=True)
    def learn_packed(data, plan, stats, target, table, intercept, target_stats, counters, hp):
        n = plan_slots(plan)
        hashes, values, used = np.empty(n, np.uint32), np.empty(n), np.empty(n)
        unpack(data, plan, stats, hashes, values)
        weights = (table, intercept, target_stats, counters)
        _event(hashes, values, target, weights, opt, loss, hp, True, used)
        fold_numbers(data, plan, stats)

    return run, run_ops, run_one, predict_packed, learn_packed


_LOOPS = {
    (opt, loss): _specialized(opt, loss)
    for opt in (SGD_CODE, ADAGRAD_CODE, FTRL_CODE)
    for loss in (LOG_LOSS, SQUARED_LOSS)
}


def run_linear(rows, targets, weights, opt, loss, hp, learn, out):
    """Predict every event (of :class:`~streamlearn.base.records.Rows` ``rows``) into
    ``out``; with ``learn``, learn each one right after predicting it."""
    _LOOPS[opt, loss][0](rows, targets, weights, hp, learn, out)


def run_linear_ops(rows, schedule, weights, opt, loss, hp, out):
    """A :class:`~streamlearn.base.records.Schedule` of operations, in order: each
    (PREDICT, LEARN or PREDICT_LEARN) on its row of ``rows`` with its target; ``out[k]`` is
    the prediction made before any learning. Serving and delayed labels interleave this
    way without leaving compiled code."""
    _LOOPS[opt, loss][1](rows, schedule, weights, hp, out)


def one_event_kernels(opt: int, loss: int) -> tuple:
    """The one-event kernels: ``run(hashes, values, target, table, intercept, target_stats,
    counters, hp, learn)`` → the prediction, on 1-D arrays; on a packed event
    (:mod:`streamlearn.features.packed`) ``predict(data, plan, scaler statistics, table,
    intercept, target_stats, hp)`` → the prediction, and ``learn(data, plan, scaler
    statistics, target, table, intercept, target_stats, counters, hp)``, which learns the
    event and folds its numbers into the statistics. Nones for a loss without them (softmax
    has kernels of its own)."""
    loops = _LOOPS.get((opt, loss))
    return (None, None, None) if loops is None else loops[2:]


@nb.njit(nogil=True, cache=True)
def effective_weights(table, opt, hp, out):
    """The weight of every coordinate (FTRL's are derived from z and n)."""
    c = _constants(hp)
    for i in range(table.shape[0]):
        out[i] = _weight(table, i, opt, c)


@nb.njit(nogil=True, cache=True)
def count_zero_weights(table, opt, hp):
    """How many coordinates have a weight of exactly zero (FTRL's: where |z| ≤ l1), in one
    pass without the temporaries of numpy expressions over the whole table."""
    l1 = hp[L1]
    zeros = 0
    for i in range(table.shape[0]):
        z = table[i, 0]
        if (abs(z) <= l1) if opt == FTRL_CODE else (z == 0.0):
            zeros += 1
    return zeros


CLASS_STRIDE = 0x9E3779B1  # class k's copy of a feature lives at hash + k * stride


@nb.njit(inline="always")
def _softmax_event(hashes, values, target, weights, opt, hp, learn, used, out):
    """One event of multinomial logistic regression over the classes learned so far
    (``learned[k]``; every other class has probability 0): probabilities into ``out``; with
    ``learn``, one step towards class ``target`` (which may be new: it then had probability
    0), which is learned from then on. ``weights`` holds :class:`SoftmaxWeights`' arrays."""
    learned, table, intercepts, counters = weights
    n_slots = hashes.shape[0]
    n_classes = learned.shape[0]
    mask = table.shape[0] - 1
    c = _constants(hp)
    top = -np.inf
    for k in range(n_classes):
        out[k] = 0.0
        if not learned[k]:
            continue
        margin = intercepts[k]
        for s in range(n_slots):
            v = values[s]
            if v == 0.0:
                continue
            w = _weight(table, (hashes[s] + k * CLASS_STRIDE) & mask, opt, c)
            used[k, s] = w
            margin += w * v
        if not math.isfinite(margin):
            margin = 0.0
        out[k] = min(max(margin, -MARGIN_CLIP), MARGIN_CLIP)
        top = max(top, out[k])
    total = 0.0
    for k in range(n_classes):
        if learned[k]:
            out[k] = math.exp(out[k] - top)
            total += out[k]
    for k in range(n_classes):
        if learned[k]:
            out[k] /= total
    if not learn:
        return
    rate = hp[LR] / (1.0 + counters[0]) ** hp[POWER_T] if hp[POWER_T] > 0.0 else hp[LR]
    for k in range(n_classes):
        known = learned[k] != 0
        error = (out[k] if known else 0.0) - (1.0 if k == target else 0.0)
        intercepts[k] -= hp[INTERCEPT_LR] * error
        if error == 0.0:
            continue
        for s in range(n_slots):
            v = values[s]
            if v == 0.0:
                continue
            index = (hashes[s] + k * CLASS_STRIDE) & mask
            w = used[k, s] if known else _weight(table, index, opt, c)
            g = min(max(error * v, -GRAD_CLIP), GRAD_CLIP)
            _step(table, index, w, g, opt, c, rate)
    learned[target] = 1
    counters[0] += 1


@nb.njit(nogil=True, cache=True)
def run_softmax(rows, targets, weights, opt, hp, learn, out):
    """Rows of ``out`` get each event's class probabilities (over the classes learned
    before it); with ``learn``, each event is learned right after."""
    hashes, values = rows
    used = np.empty((weights.learned.shape[0], hashes.shape[1]))
    for t in range(hashes.shape[0]):
        target = targets[t] if learn else -1
        _softmax_event(hashes[t], values[t], target, weights, opt, hp, learn, used, out[t])


@nb.njit(nogil=True, cache=True)
def run_softmax_ops(rows, schedule, weights, opt, hp, out):
    """A schedule of operations, as :func:`run_linear_ops`: ``out[k]`` gets the class
    probabilities of operation ``k``'s row before any learning; a learning operation learns
    class ``targets[k]``."""
    hashes, values = rows
    ops, op_rows, targets = schedule
    used = np.empty((weights.learned.shape[0], hashes.shape[1]))
    for k in range(ops.shape[0]):
        row = op_rows[k]
        learn = ops[k] != PREDICT
        _softmax_event(hashes[row], values[row], targets[k], weights, opt, hp, learn, used, out[k])


@nb.njit(nogil=True, cache=True)
def run_softmax_one(hashes, values, target, weights, opt, hp, learn):
    """The same for one event given as 1-D arrays; returns its probabilities."""
    used = np.empty((weights.learned.shape[0], hashes.shape[0]))
    out = np.zeros(weights.learned.shape[0])
    _softmax_event(hashes, values, target, weights, opt, hp, learn, used, out)
    return out
