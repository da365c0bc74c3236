"""Compiled Adaptive Random Forest (Gomes et al., 2017) over the tree kernels: online
bagging (each tree learns each event with a Poisson weight), a random subspace of features
at each leaf, and per tree an ADWIN warning detector that starts a background tree and an
ADWIN drift detector that swaps it in.

Trees ``0 … T-1`` are the forest's, ``T … 2T-1`` their background trees (root -1: none).
The detectors are River's ADWIN (:mod:`streamlearn.drift.adwin`): its errors are buffered
and handed over at the value where the detector checks, so detections are those of one
update per event. Per tree: ``scores[t]`` right and judged since it was planted;
``detectors[t]`` warning, ``detectors[T + t]`` drift states; ``signals[t]`` warnings, drifts.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba as nb
import numpy as np

from streamlearn.drift.adwin import TICK, _adwin
from streamlearn.drift.base import DRIFT, NONE
from streamlearn.models.tree.kernel import (
    FEATURE,
    LEAF_MODE,
    LEFT,
    N_FREE,
    N_LEARNED,
    N_NODES,
    RIGHT,
    SLOT,
    find_leaf,
    leaf_scores,
    learn_leaf,
    new_leaf,
    scatter,
    tree_work,
    uniform,
)
from streamlearn.models.tree.regression_kernel import (
    N_BINS,
    leaf_value,
    learn_regression_leaf,
    regression_work,
)

DEAD = -2
# forest settings: Poisson rate, features per leaf (≥ 1: a count; (0, 1): a fraction;
# -1: square root; -2: log2), weighted vote, detector clock
RATE, SUBSPACE, WEIGHTED, CLOCK = range(4)


class ForestRules(NamedTuple):
    """How a forest's trees grow and are replaced.

    Parameters
    ----------
    tree
        Every tree's settings (the tree kernels' ``settings``).
    forest
        The forest's: Poisson rate, subspace, weighted vote (``RATE``, ``SUBSPACE``, ...).
    detectors
        ``(2, k)``: the warning and the drift detector's parameters.

    Example
    -------
    >>> import numpy as np
    >>> rules = ForestRules(np.zeros(9), np.array([6.0, 0.5, 1.0, 0.0]), np.zeros((2, 4)))
    >>> float(rules.forest[RATE])
    6.0
    """

    tree: np.ndarray
    forest: np.ndarray
    detectors: np.ndarray


@nb.njit(inline="always")
def poisson(rate, rng):
    """Knuth's Poisson draw, as River's online bagging does it."""
    limit = math.exp(-rate)
    k, p = 0, 1.0
    while True:
        k += 1
        p *= uniform(rng)
        if p <= limit:
            return k - 1


@nb.njit(cache=True)
def drop_tree(tree, root):
    """Free a tree's leaf slots and mark its nodes dead (compaction reclaims them)."""
    nodes, free, counters = tree[0], tree[6], tree[7]
    if root < 0:
        return
    stack = np.empty(counters[N_NODES], np.int64)
    stack[0], top = root, 1
    while top > 0:
        top -= 1
        node = stack[top]
        if nodes[node, FEATURE] >= 0:
            stack[top], stack[top + 1] = nodes[node, LEFT], nodes[node, RIGHT]
            top += 2
        else:
            free[counters[N_FREE]] = nodes[node, SLOT]
            counters[N_FREE] += 1
        nodes[node, FEATURE] = DEAD
        nodes[node, SLOT] = -1


@nb.njit(cache=True)
def feed(detectors, buffers, buffered, d, error, params, signal_out):
    """One error to detector ``d``; ADWIN runs when the buffered errors reach its check."""
    n = buffered[d]
    buffers[d, n] = error
    n += 1
    if (int(detectors[d, TICK]) + n) % int(params[1]) != 0:
        buffered[d] = n
        return NONE
    _adwin(detectors[d], params, buffers[d, :n], signal_out[:n])
    buffered[d] = 0
    return int(signal_out[n - 1])


@nb.njit(cache=True)
def _vote(tree, hits, nodes_at, dense, n_classes, settings, weighted, votes):
    """Each tree's probabilities (``probs[t]``, at the leaf ``nodes_at[t]``; its leaf's
    majority and naive Bayes scores in ``scores[t]``) and the forest's vote, weighted by
    each tree's accuracy, into ``out``; ``votes`` is (scores, probs, out)."""
    scores, probs, out = votes
    nodes = tree[0]
    out[:n_classes] = 0.0
    for t in range(len(hits)):
        slot = nodes[nodes_at[t], SLOT]
        scored = (scores[t, 0], scores[t, 1])
        majority = leaf_scores(tree, slot, dense, n_classes, settings, 0.0, scored)
        probs[t, :n_classes] = scores[t, 0 if majority else 1, :n_classes]
        weight = hits[t, 0] / hits[t, 1] if weighted and hits[t, 1] > 0.0 else 0.0
        weight = weight if weight > 0.0 else 1.0
        for k in range(n_classes):
            out[k] += weight * probs[t, k]
    total = 0.0
    for k in range(n_classes):
        total += out[k]
    for k in range(n_classes):
        out[k] = out[k] / total if total > 0.0 else 0.0


@nb.njit(cache=True)
def _right(probs, k, n_classes):
    best = 0
    for j in range(1, n_classes):
        if probs[j] > probs[best]:
            best = j
    return probs[best] > 0.0 and best == k


@nb.njit(cache=True)
def run_forest_ops(rows, schedule, start, tree, roots, forest, sizes, rules, out):
    """A schedule over the forest: predict rows (``out``: the weighted vote), learn them, or
    both in that order, from operation ``start``. Returns where it stopped: at the end, or
    before an operation that might need more nodes or slots than are free. ``rules`` are
    :class:`ForestRules`."""
    ids, values = rows
    ops, op_rows, targets = schedule
    n_classes, n_features = sizes
    settings, forest_settings, detector_params = rules
    leaf_counts, hits, _detectors, buffers, _buffered, _signals = forest
    nodes, thresholds, counters, rng = tree[0], tree[1], tree[7], tree[8]
    n_trees = len(hits)
    width = max(n_classes, 1)
    work = tree_work(n_classes)
    scores = np.zeros((n_trees, 2, width))
    probs = np.zeros((n_trees, width))
    vote = np.zeros(width)
    dense = np.zeros(n_features)
    signal_out = np.zeros(buffers.shape[1])
    at = np.zeros(n_trees, np.int64)
    leaf_rules = (n_classes, n_features, settings, forest_settings[SUBSPACE])
    weighted = forest_settings[WEIGHTED] > 0.0
    for i in range(start, len(ops)):
        # Each tree and its background may split, and each may plant a tree.
        if counters[N_FREE] < 4 * n_trees or counters[N_NODES] + 6 * n_trees > len(nodes):
            return i
        row = op_rows[i]
        x_ids, x_values = ids[row], values[row]
        x = (x_ids, x_values, dense)
        scatter(x_ids, x_values, dense, True)
        for t in range(n_trees):
            at[t] = find_leaf(nodes, thresholds, x_ids, x_values, roots[t])
        op = ops[i]
        _vote(tree, hits, at, dense, n_classes, settings, weighted, (scores, probs, vote))
        if op != 1:
            out[i, :n_classes] = vote[:n_classes]
        if op != 0:
            k = int(targets[i])
            for t in range(n_trees):
                right = _right(probs[t], k, n_classes)
                hits[t, 0] += right
                hits[t, 1] += 1.0
                weight = poisson(forest_settings[RATE], rng)
                if weight > 0:
                    label = (k, float(weight))
                    back = roots[n_trees + t]
                    if back >= 0:
                        leaf = find_leaf(nodes, thresholds, x_ids, x_values, back)
                        count = leaf_counts[n_trees + t]
                        split = learn_leaf(tree, leaf, count, x, label, leaf_rules, work, False)
                        leaf_counts[n_trees + t] += split
                    work[3:5] = scores[t]
                    count = leaf_counts[t]
                    leaf_counts[t] += learn_leaf(
                        tree, at[t], count, x, label, leaf_rules, work, True
                    )
                error = 0.0 if right else 1.0
                if watch(tree, roots, forest, t, error, detector_params, signal_out):
                    hits[t, 0] = hits[t, 1] = 0.0
            counters[N_LEARNED] += 1
        scatter(x_ids, x_values, dense, False)
    return len(ops)


@nb.njit(cache=True)
def _drift_input(errors, t, y, prediction):
    """A regression tree's error for its detectors, in [0, 1] mostly: min-max scaled by its
    running mean and three standard deviations (River's ARF regressor)."""
    e = y - prediction
    w = errors[t, 0] + 1.0
    d = e - errors[t, 1]
    errors[t, 1] += d / w
    errors[t, 2] += d * (e - errors[t, 1])
    errors[t, 0] = w
    if w <= 1.0:
        return 0.5
    sd = math.sqrt(errors[t, 2] / (w - 1.0))
    return (e + 3.0 * sd) / (6.0 * sd) if sd > 0.0 else 0.5


@nb.njit(cache=True)
def run_regression_forest_ops(rows, schedule, start, tree, roots, forest, n_features, rules, out):
    """A schedule over a regression forest: predict rows (``out[:, 0]``: the trees'
    median), learn them, or both in that order, from operation ``start``. Returns where it
    stopped, as :func:`run_forest_ops` does. ``forest[1]`` holds each tree's error count,
    mean and M2 (which scale what its detectors see). ``rules`` are :class:`ForestRules`."""
    ids, values = rows
    ops, op_rows, targets = schedule
    settings, forest_settings, detector_params = rules
    leaf_rules = (n_features, settings, forest_settings[SUBSPACE])
    leaf_counts, errors = forest[0], forest[1]
    nodes, thresholds, counts, leaves, observers = tree[0], tree[1], tree[2], tree[4], tree[5]
    counters, rng = tree[7], tree[8]
    n_trees = len(errors)
    work = regression_work(n_features)
    predictions = np.zeros(n_trees)
    signal_out = np.zeros(forest[3].shape[1])
    at = np.zeros(n_trees, np.int64)
    n_bins, mode = int(settings[N_BINS]), int(settings[LEAF_MODE])
    for i in range(start, len(ops)):
        if counters[N_FREE] < 4 * n_trees or counters[N_NODES] + 6 * n_trees > len(nodes):
            return i
        row = op_rows[i]
        x_ids, x_values = ids[row], values[row]
        for t in range(n_trees):
            at[t] = find_leaf(nodes, thresholds, x_ids, x_values, roots[t])
            slot = nodes[at[t], SLOT]
            predictions[t] = leaf_value(
                counts, leaves, observers, slot, x_ids, x_values, mode, n_bins
            )
        if ops[i] != 1:
            out[i, 0] = np.median(predictions)
        if ops[i] == 0:
            continue
        y = targets[i]
        for t in range(n_trees):
            weight = poisson(forest_settings[RATE], rng)
            if weight > 0:
                for tree_id, node in ((n_trees + t, roots[n_trees + t]), (t, at[t])):
                    if tree_id == t or node >= 0:
                        leaf = find_leaf(nodes, thresholds, x_ids, x_values, node)
                        count, label = leaf_counts[tree_id], (y, float(weight))
                        leaf_counts[tree_id] += learn_regression_leaf(
                            tree, leaf, count, (x_ids, x_values), label, leaf_rules, work
                        )
            error = _drift_input(errors, t, y, predictions[t])
            if watch(tree, roots, forest, t, error, detector_params, signal_out):
                errors[t, :] = 0.0
        counters[N_LEARNED] += 1
    return len(ops)


@nb.njit(cache=True)
def watch(tree, roots, forest, t, error, detector_params, signal_out):
    """Tree ``t``'s error to its detectors: a warning (re)starts its background tree, a
    drift puts the background tree (or a new one) in its place. Returns whether it did."""
    leaf_counts, _scores, detectors, buffers, buffered, signals = forest
    n_trees = len(signals)
    back = n_trees + t
    warned = feed(detectors, buffers, buffered, t, error, detector_params[0], signal_out)
    if warned == DRIFT:
        drop_tree(tree, roots[back])
        roots[back], leaf_counts[back] = new_leaf(tree, 0, signal_out, 0), 1
        _reset(detectors, buffered, t)
        signals[t, 0] += 1
    drifted = feed(detectors, buffers, buffered, back, error, detector_params[1], signal_out)
    if drifted != DRIFT:
        return False
    drop_tree(tree, roots[t])
    if roots[back] >= 0:
        roots[t], leaf_counts[t] = roots[back], leaf_counts[back]
        roots[back] = -1
        _reset(detectors, buffered, t)
    else:
        roots[t], leaf_counts[t] = new_leaf(tree, 0, signal_out, 0), 1
    _reset(detectors, buffered, back)
    signals[t, 1] += 1
    return True


@nb.njit(inline="always")
def _reset(detectors, buffered, d):
    detectors[d, :] = 0.0
    buffered[d] = 0


@nb.njit(cache=True)
def compact(nodes, thresholds, roots, used):
    """Drop the dead among the first ``used`` nodes, keeping the others in order (a child
    stays after its parent); returns how many are left."""
    new_id = np.full(used, -1, np.int64)
    n = 0
    for node in range(used):
        if nodes[node, FEATURE] != DEAD:
            new_id[node] = n
            n += 1
    for node in range(used):
        target = new_id[node]
        if target < 0:
            continue
        nodes[target] = nodes[node]
        thresholds[target] = thresholds[node]
        if nodes[target, FEATURE] >= 0:
            nodes[target, LEFT] = new_id[nodes[target, LEFT]]
            nodes[target, RIGHT] = new_id[nodes[target, RIGHT]]
    nodes[n:] = -1
    thresholds[n:] = 0.0
    for t in range(len(roots)):
        if roots[t] >= 0:
            roots[t] = new_id[roots[t]]
    return n
