"""Compiled Hoeffding trees for regression: each leaf keeps its target's mean and variance,
bins of each feature's values with the targets that fell in them, and a linear model; it
splits where the variance of the target drops most, when that beats the next feature by
more than Hoeffding's bound.

The bins of a feature at a leaf start ``BIN_WIDTH0`` wide around its first value and
double in width (merging neighbours) whenever a value falls outside them, so a leaf's
memory is fixed whatever the values' range. A split's threshold is a bin edge: the rows
of each branch are exactly those its statistics counted. A feature absent from a row is
0, as in the classification trees (:mod:`streamlearn.models.tree.kernel`).

Layouts, beyond the trees' own (where they differ):

- ``counts[slot]``: weight, mean and M2 of the target at a leaf (the split's estimate,
  then what it learns); ``seen[slot]``: the same over what its bins took in
- ``observers[slot, f, b]`` for ``b < bins``: a bin's weight, mean value, mean target and
  the target's M2; ``observers[slot, f, bins]``: the lowest edge and the width of the
  bins, and the coefficient of ``f`` in the leaf's linear model
- ``leaves[slot]``: as in classification, with the faded squared errors of the mean and
  of the model where a classifier counts hits, and the linear model's intercept
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from streamlearn.models.tree.kernel import (
    DELTA,
    DEPTH,
    FEATURE,
    GRACE,
    INTERCEPT,
    LAST_ATTEMPT,
    LEAF_MODE,
    LEFT,
    MAX_DEPTH,
    MAX_LEAVES,
    MC_HITS,
    N_FREE,
    N_LEARNED,
    N_NODES,
    NB_HITS,
    SEED,
    SLOT,
    TAU,
    candidate_features,
    find_leaf,
    new_leaf,
)

TOTAL, MEAN, M2 = 0, 1, 2  # target statistics
BIN_W, BIN_X, BIN_Y, BIN_M2 = 0, 1, 2, 3
EDGE, WIDTH, COEF = 0, 1, 2
MEAN_ERROR, MODEL_ERROR = MC_HITS, NB_HITS
LEAF_MEAN, LEAF_MODEL, LEAF_ADAPTIVE = 0, 1, 2
# settings after the trees' own: bins per feature, the first bins' width, least weight on
# each side of a split, the leaf model's learning rate, the decay of the model selector
N_BINS, BIN_WIDTH0, MIN_SAMPLES, LEARNING_RATE, DECAY = range(8, 13)
_HUGE = 1e300  # errors are capped here: a state stays finite
_CLIP = 1e12  # a gradient's largest size


@nb.njit(inline="always")
def _merged(w1, m1, s1, w2, m2, s2):
    """Weight, mean and M2 of two sets together (Chan et al.)."""
    w = w1 + w2
    if w <= 0.0:
        return 0.0, 0.0, 0.0
    d = m2 - m1
    return w, m1 + d * w2 / w, s1 + s2 + d * d * w1 * w2 / w


@nb.njit(inline="always")
def _without(w, m, s, w2, m2, s2):
    """Weight, mean and M2 of a set less a part of it."""
    w1 = w - w2
    if w1 <= 1e-9 * max(w, 1.0):
        return 0.0, 0.0, 0.0
    m1 = (w * m - w2 * m2) / w1
    d = m2 - m1
    return w1, m1, max(s - s2 - d * d * w1 * w2 / w, 0.0)


@nb.njit(inline="always")
def _variance(w, s):
    return s / (w - 1.0) if w > 1.0 else 0.0


@nb.njit(inline="always")
def _add(stats, y, w):
    """Weighted Welford: one target into (weight, mean, M2)."""
    total = stats[TOTAL] + w
    d = y - stats[MEAN]
    stats[MEAN] += d * w / total
    stats[M2] += w * d * (y - stats[MEAN])
    stats[TOTAL] = total


@nb.njit(cache=True)
def _coarsen(bins, n_bins, below):
    """Double the bins' width, merging neighbours; the range grows downwards (``below``)
    or upwards."""
    half = n_bins // 2
    head = bins[n_bins]
    targets = range(n_bins - 1, half - 1, -1) if below else range(half)
    for j in targets:
        a = 2 * (j - half) if below else 2 * j
        wa, wb = bins[a, BIN_W], bins[a + 1, BIN_W]
        w = wa + wb
        x = (bins[a, BIN_X] * wa + bins[a + 1, BIN_X] * wb) / w if w > 0.0 else 0.0
        _, y, s = _merged(
            wa, bins[a, BIN_Y], bins[a, BIN_M2], wb, bins[a + 1, BIN_Y], bins[a + 1, BIN_M2]
        )
        bins[j, BIN_W], bins[j, BIN_X], bins[j, BIN_Y], bins[j, BIN_M2] = w, x, y, s
    cleared = range(half) if below else range(half, n_bins)
    for j in cleared:
        bins[j, :] = 0.0
    if below:
        head[EDGE] -= n_bins * head[WIDTH]
    head[WIDTH] *= 2.0


@nb.njit(cache=True)
def _observe_value(bins, n_bins, x, y, w, width0):
    """One value of a feature, with its target (weighted), into the feature's bins."""
    head = bins[n_bins]
    if head[WIDTH] <= 0.0:
        head[WIDTH] = width0
        head[EDGE] = x - width0 * (n_bins // 2)
    for _ in range(64):  # each doubling at least halves how far outside the value is
        at = (x - head[EDGE]) / head[WIDTH]
        if 0.0 <= at < n_bins or not math.isfinite(head[WIDTH] * 2.0):
            break
        _coarsen(bins, n_bins, at < 0.0)
    at = (x - head[EDGE]) / head[WIDTH]
    b = int(min(max(at, 0.0), n_bins - 1.0))
    total = bins[b, BIN_W] + w
    bins[b, BIN_X] += (x - bins[b, BIN_X]) * w / total
    d = y - bins[b, BIN_Y]
    bins[b, BIN_Y] += d * w / total
    bins[b, BIN_M2] += w * d * (y - bins[b, BIN_Y])
    bins[b, BIN_W] = total


@nb.njit(inline="always")
def _linear(observers, leaves, slot, ids, values, n_bins):
    """The leaf's linear model at a row (bounded, so its errors stay finite)."""
    p = leaves[slot, INTERCEPT]
    for s in range(len(ids)):
        f = ids[s]
        if 0 <= f < observers.shape[1]:
            p += observers[slot, f, n_bins, COEF] * values[s]
    return min(max(p, -1e150), 1e150) if math.isfinite(p) else 0.0


@nb.njit(inline="always")
def _learn_linear(observers, leaves, slot, ids, values, y, w, rate, n_bins):
    """One SGD step of squared loss (as River's ``LinearRegression``)."""
    g = 2.0 * (_linear(observers, leaves, slot, ids, values, n_bins) - y) * w
    g = min(max(g, -_CLIP), _CLIP)
    for s in range(len(ids)):
        f = ids[s]
        if 0 <= f < observers.shape[1]:
            coef = observers[slot, f, n_bins, COEF] - rate * g * values[s]
            observers[slot, f, n_bins, COEF] = min(max(coef, -1e150), 1e150)
    leaves[slot, INTERCEPT] = min(max(leaves[slot, INTERCEPT] - rate * g, -1e150), 1e150)


@nb.njit(cache=True)
def leaf_value(counts, leaves, observers, slot, ids, values, mode, n_bins):
    """A leaf's prediction: its mean, its linear model, or (adaptive) the one whose faded
    squared error is lower."""
    if mode == LEAF_MEAN or (
        mode == LEAF_ADAPTIVE and leaves[slot, MEAN_ERROR] < leaves[slot, MODEL_ERROR]
    ):
        return counts[slot, MEAN]
    return _linear(observers, leaves, slot, ids, values, n_bins)


@nb.njit(cache=True)
def _best_edge(seen, observers, slot, feature, n_bins, min_samples, left, right):
    """The bin edge of one feature that most reduces the target's variance at a leaf, and
    that reduction (-inf if none leaves ``min_samples`` on each side); the branches'
    statistics into ``left`` and ``right``."""
    bins = observers[slot, feature]
    pw, pm, ps = 0.0, 0.0, 0.0
    for b in range(n_bins):
        pw, pm, ps = _merged(pw, pm, ps, bins[b, BIN_W], bins[b, BIN_Y], bins[b, BIN_M2])
    tw, tm, ts = seen[slot, TOTAL], seen[slot, MEAN], seen[slot, M2]
    zw, zm, zs = _without(tw, tm, ts, pw, pm, ps)  # rows without it: value 0
    pre = _variance(tw, ts)
    best, threshold = -np.inf, 0.0
    lw, lm, ls = 0.0, 0.0, 0.0
    last = -1.0
    edge0, width = bins[n_bins, EDGE], bins[n_bins, WIDTH]
    for j in range(n_bins + 1):
        if j > 0:
            b = j - 1
            lw, lm, ls = _merged(lw, lm, ls, bins[b, BIN_W], bins[b, BIN_Y], bins[b, BIN_M2])
        edge = edge0 + j * width
        cw, cm, cs = lw, lm, ls
        if zw > 0.0 and edge >= 0.0:
            cw, cm, cs = _merged(cw, cm, cs, zw, zm, zs)
        if cw == last:
            continue
        last = cw
        rw, rm, rs = _without(tw, tm, ts, cw, cm, cs)
        if cw < min_samples or rw < min_samples:
            continue
        merit = pre - (cw / tw) * _variance(cw, cs) - (rw / tw) * _variance(rw, rs)
        if merit > best:
            best, threshold = merit, edge
            left[TOTAL], left[MEAN], left[M2] = cw, cm, cs
            right[TOTAL], right[MEAN], right[M2] = rw, rm, rs
    return best, threshold


@nb.njit(cache=True)
def attempt_regression_split(tree, node, leaf_count, n_features, settings, subspace, work):
    """Split a leaf when its best feature's variance reduction beats the second's by more
    than the Hoeffding bound allows (River's ratio test). Returns whether it split."""
    nodes, thresholds, counts, _seen, leaves, observers, free, counters, _rng = tree
    slot = nodes[node, SLOT]
    total = counts[slot, TOTAL]
    leaves[slot, LAST_ATTEMPT] = total
    if nodes[node, DEPTH] >= settings[MAX_DEPTH] or leaf_count >= settings[MAX_LEAVES]:
        return False
    n_bins = int(settings[N_BINS])
    width = min(n_features, observers.shape[1])
    observed = np.zeros(width, np.bool_)
    for f in range(width):
        observed[f] = observers[slot, f, n_bins, WIDTH] > 0.0
    best, second, best_feature, best_threshold = -np.inf, -np.inf, -1, 0.0
    for f in candidate_features(observed, subspace, np.uint64(leaves[slot, SEED])):
        merit, threshold = _best_edge(
            tree[3], observers, slot, f, n_bins, settings[MIN_SAMPLES], work[2], work[3]
        )
        if merit > best:
            second, best, best_feature, best_threshold = best, merit, f, threshold
            work[0, :3], work[1, :3] = work[2, :3], work[3, :3]
        elif merit > second:
            second = merit
    if best_feature < 0 or not best > 0.0:
        return False
    bound = math.sqrt(math.log(1.0 / settings[DELTA]) / (2.0 * total))
    if not (second / best < 1.0 - bound or bound < settings[TAU]):
        return False
    model = work[4]  # the children start from the parent's linear model
    for f in range(width):
        model[f] = observers[slot, f, n_bins, COEF]
    intercept = leaves[slot, INTERCEPT]
    nodes[node, FEATURE] = best_feature
    thresholds[node] = best_threshold
    nodes[node, SLOT] = -1
    free[counters[N_FREE]] = slot
    counters[N_FREE] += 1
    for side in range(2):
        child = new_leaf(tree, nodes[node, DEPTH] + 1, work[5], 0)
        nodes[node, LEFT + side] = child
        at = nodes[child, SLOT]
        counts[at, :3] = work[side, :3]
        leaves[at, LAST_ATTEMPT] = work[side, TOTAL]
        leaves[at, INTERCEPT] = intercept
        for f in range(width):
            observers[at, f, n_bins, COEF] = model[f]
    return True


@nb.njit(cache=True)
def learn_regression_leaf(tree, node, leaf_count, row, label, rules, work):
    """Learn a ``row`` (ids, values) with ``label`` (target y, weight) at a leaf node;
    attempt a split every grace period. ``rules``: the number of features, the settings
    and the subspace. Returns whether it split."""
    nodes, _thresholds, counts, seen, leaves, observers, _free, _counters, _rng = tree
    ids, values = row
    y, weight = label
    n_features, settings, subspace = rules
    slot = nodes[node, SLOT]
    n_bins = int(settings[N_BINS])
    mode = int(settings[LEAF_MODE])
    if mode == LEAF_ADAPTIVE:
        decay = settings[DECAY]
        e_mean = y - counts[slot, MEAN]
        e_model = y - _linear(observers, leaves, slot, ids, values, n_bins)
        leaves[slot, MEAN_ERROR] = min(decay * leaves[slot, MEAN_ERROR] + e_mean**2, _HUGE)
        leaves[slot, MODEL_ERROR] = min(decay * leaves[slot, MODEL_ERROR] + e_model**2, _HUGE)
    if mode != LEAF_MEAN:
        _learn_linear(
            observers, leaves, slot, ids, values, y, weight, settings[LEARNING_RATE], n_bins
        )
    _add(counts[slot], y, weight)
    _add(seen[slot], y, weight)
    for s in range(len(ids)):
        f = ids[s]
        if 0 <= f < observers.shape[1]:
            _observe_value(observers[slot, f], n_bins, values[s], y, weight, settings[BIN_WIDTH0])
    if counts[slot, TOTAL] - leaves[slot, LAST_ATTEMPT] < settings[GRACE]:
        return False
    return attempt_regression_split(tree, node, leaf_count, n_features, settings, subspace, work)


@nb.njit(cache=True)
def regression_work(n_features):
    """Scratch rows for a split: the best branches, a candidate's, the parent's model."""
    return np.zeros((6, max(n_features, 3)))


@nb.njit(cache=True)
def run_regression_tree_ops(
    rows, schedule, start, tree, roots, leaf_counts, n_features, settings, out
):
    """A schedule over one regression tree (``roots[0]``): predict rows (``out[:, 0]``),
    learn them, or both in that order, from operation ``start``. Returns where it stopped
    (before an operation with no room for a split, as the classification trees do)."""
    ids, values = rows
    ops, op_rows, targets = schedule
    nodes, thresholds, counts, _seen, leaves, observers, _free, counters, _rng = tree
    work = regression_work(n_features)
    n_bins, mode = int(settings[N_BINS]), int(settings[LEAF_MODE])
    rules = (n_features, settings, 0.0)
    for i in range(start, len(ops)):
        if counters[N_FREE] < 1 or counters[N_NODES] + 2 > len(nodes):
            return i
        row = op_rows[i]
        x = (ids[row], values[row])
        node = find_leaf(nodes, thresholds, x[0], x[1], roots[0])
        if ops[i] != 1:
            slot = nodes[node, SLOT]
            out[i, 0] = leaf_value(counts, leaves, observers, slot, x[0], x[1], mode, n_bins)
        if ops[i] != 0:
            label = (targets[i], 1.0)
            split = learn_regression_leaf(tree, node, leaf_counts[0], x, label, rules, work)
            leaf_counts[0] += split
            counters[N_LEARNED] += 1
    return len(ops)
