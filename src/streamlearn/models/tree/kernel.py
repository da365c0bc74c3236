"""Compiled Hoeffding trees for classification: node arrays, Gaussian observers per leaf,
split attempts bounded by Hoeffding's inequality, and majority / naive Bayes leaves.

A forest is a pool of nodes and leaf slots shared by its trees (one root per tree), so one
compiled call runs a schedule of events through every tree. Rows are sparse: feature ids
(``-1``: nothing) and values; a feature absent from a row counts as 0, as in a sparse
matrix, so a one-hot category splits as "is it this value", and the observers only touch
the features a row holds (a class's zeros are its events without the feature).

Layouts (every array grows in Python between calls; the kernels never allocate):

- ``nodes[node]``: feature (``-1`` at a leaf), left, right, leaf slot (``-1`` inside), depth
- ``thresholds[node]``: go left when the value is ``<=`` it
- ``counts[slot, class]``: class weights at a leaf (the split's estimate, then what it learns)
- ``seen[slot, class]``: weight the leaf's observers have taken in
- ``leaves[slot]``: weight at the last split attempt, majority and naive Bayes hits, the
  seed that draws the features it may split on (and a regression leaf's intercept)
- ``observers[slot, feature, class]``: weight with the feature, its mean, M2, min and max
- ``free``: a stack of free leaf slots; ``counters``: nodes used, free slots, events learned;
  ``rng``: the state of the generator of seeds (and of a forest's draws)
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

FEATURE, LEFT, RIGHT, SLOT, DEPTH = 0, 1, 2, 3, 4
LAST_ATTEMPT, MC_HITS, NB_HITS, SEED, INTERCEPT = range(5)
LEAF_FIELDS = 5
WEIGHT, MEAN, M2, LOW, HIGH = 0, 1, 2, 3, 4
N_NODES, N_FREE, N_LEARNED = 0, 1, 2
# leaf predictions (the last two: a naive Bayes learner's, of counts or of presence)
MAJORITY, NAIVE_BAYES, ADAPTIVE, MULTINOMIAL, BERNOULLI = range(5)
# settings: grace period, delta, tau, max depth, split points, min branch fraction, leaf
# prediction, max leaves per tree
GRACE, DELTA, TAU, MAX_DEPTH, N_SPLITS, MIN_BRANCH, LEAF_MODE, MAX_LEAVES = range(8)
ALPHA = 8  # a multinomial or Bernoulli naive Bayes's additive smoothing
_LOG_2PI = math.log(2 * math.pi)


@nb.njit(inline="always")
def _value(ids, values, feature):
    for s in range(len(ids)):
        if ids[s] == feature:
            return values[s]
    return 0.0


@nb.njit(cache=True)
def find_leaf(nodes, thresholds, ids, values, node):
    """The leaf node a row reaches from ``node``."""
    while nodes[node, FEATURE] >= 0:
        if _value(ids, values, nodes[node, FEATURE]) <= thresholds[node]:
            node = nodes[node, LEFT]
        else:
            node = nodes[node, RIGHT]
    return node


@nb.njit(inline="always")
def _gaussian(observers, seen, slot, feature, k):
    """Weight, mean and variance of a feature in class k at a leaf, its zeros included."""
    n = seen[slot, k]
    present = observers[slot, feature, k, WEIGHT]
    if n <= 0.0 or present <= 0.0:
        return n, 0.0, 0.0
    mean_p = observers[slot, feature, k, MEAN]
    mean = mean_p * present / n
    m2 = observers[slot, feature, k, M2] + mean_p * mean_p * present * (n - present) / n
    var = m2 / (n - 1.0) if n > 1.0 else 0.0
    return n, mean, max(var, 0.0)


@nb.njit(inline="always")
def _range(observers, seen, slot, feature, k):
    """Lowest and highest value of a feature in class k at a leaf (0 if a row lacked it)."""
    low = observers[slot, feature, k, LOW]
    high = observers[slot, feature, k, HIGH]
    if observers[slot, feature, k, WEIGHT] < seen[slot, k]:
        low, high = min(low, 0.0), max(high, 0.0)
    return low, high


@nb.njit(inline="always")
def _log_pdf(x, mean, var):
    return -0.5 * (_LOG_2PI + math.log(var) + (x - mean) * (x - mean) / var)


@nb.njit(cache=True)
def _naive_bayes(counts, seen, observers, slot, dense, n_classes, out):
    """Naive Bayes class probabilities at a leaf into ``out``, over the features the leaf
    has observed (a row's other features, 0 in ``dense``, count as zeros)."""
    _log_prior(counts, slot, n_classes, out)
    for f in range(min(observers.shape[1], len(dense))):
        if not _observed(observers, slot, f, n_classes):
            continue
        for k in range(n_classes):
            if out[k] == -np.inf:
                continue
            n, mean, var = _gaussian(observers, seen, slot, f, k)
            if n > 0.0 and var > 0.0:  # a class without spread here is not judged by it
                out[k] += _log_pdf(dense[f], mean, var)
    _softmax(out, n_classes)


@nb.njit(cache=True)
def _majority(counts, slot, n_classes, out):
    total = 0.0
    for k in range(n_classes):
        total += counts[slot, k]
    for k in range(n_classes):
        out[k] = counts[slot, k] / total if total > 0.0 else 0.0


@nb.njit(cache=True)
def leaf_scores(tree, slot, dense, n_classes, settings, unknown, scores):
    """A leaf's majority and (unless it only ever predicts by majority) naive Bayes
    probabilities into ``scores`` (the two rows ``mc`` and ``nb``); returns whether it
    predicts by majority. ``unknown``: the row's total value of features the leaf has not
    observed (which a multinomial naive Bayes counts as unseen terms)."""
    counts, seen, leaves, observers = tree[2], tree[3], tree[4], tree[5]
    mc, nb = scores
    mode = int(settings[LEAF_MODE])
    _majority(counts, slot, n_classes, mc)
    if mode != MAJORITY:
        total = 0.0
        for k in range(n_classes):
            total += counts[slot, k]
        if total <= 0.0:
            nb[:n_classes] = 0.0
        elif mode == MULTINOMIAL:
            _multinomial(counts, observers, slot, dense, unknown, n_classes, settings[ALPHA], nb)
        elif mode == BERNOULLI:
            _bernoulli(counts, observers, slot, dense, n_classes, settings[ALPHA], nb)
        else:
            _naive_bayes(counts, seen, observers, slot, dense, n_classes, nb)
    return mode == MAJORITY or (mode == ADAPTIVE and leaves[slot, MC_HITS] > leaves[slot, NB_HITS])


@nb.njit(inline="always")
def _log_prior(counts, slot, n_classes, out):
    total = 0.0
    for k in range(n_classes):
        total += counts[slot, k]
    for k in range(n_classes):
        out[k] = math.log(counts[slot, k] / total) if counts[slot, k] > 0.0 else -np.inf


@nb.njit(inline="always")
def _softmax(out, n_classes):
    best = -np.inf
    for k in range(n_classes):
        best = max(best, out[k])
    norm = 0.0
    for k in range(n_classes):
        out[k] = math.exp(out[k] - best) if best > -np.inf else 0.0
        norm += out[k]
    for k in range(n_classes):
        out[k] = out[k] / norm if norm > 0.0 else 0.0


@nb.njit(inline="always")
def _observed(observers, slot, f, n_classes):
    found = False
    for k in range(n_classes):
        found = found or observers[slot, f, k, WEIGHT] > 0.0
    return found


@nb.njit(cache=True)
def _multinomial(counts, observers, slot, dense, unknown, n_classes, alpha, out):
    """Multinomial naive Bayes (River's): a feature's value is a term's count; a class's
    term probabilities are its smoothed shares of its total count."""
    _log_prior(counts, slot, n_classes, out)
    n_features = min(observers.shape[1], len(dense))
    terms = 0
    for f in range(n_features):
        terms += _observed(observers, slot, f, n_classes)
    for k in range(n_classes):
        if out[k] == -np.inf:
            continue
        class_total = 0.0
        for f in range(n_features):
            class_total += observers[slot, f, k, WEIGHT] * observers[slot, f, k, MEAN]
        den = class_total + alpha * terms
        for f in range(n_features):
            if dense[f] != 0.0 and _observed(observers, slot, f, n_classes):
                term = observers[slot, f, k, WEIGHT] * observers[slot, f, k, MEAN]
                out[k] += dense[f] * math.log((term + alpha) / den)
        if unknown != 0.0:
            out[k] += unknown * math.log(alpha / den)
    _softmax(out, n_classes)


@nb.njit(cache=True)
def _bernoulli(counts, observers, slot, dense, n_classes, alpha, out):
    """Bernoulli naive Bayes (River's): each feature the leaf has seen is there or not
    (its values are 1 there, -1 held but not there: the mean says how often it was)."""
    _log_prior(counts, slot, n_classes, out)
    for f in range(min(observers.shape[1], len(dense))):
        if not _observed(observers, slot, f, n_classes):
            continue
        for k in range(n_classes):
            if out[k] == -np.inf:
                continue
            held = observers[slot, f, k, WEIGHT]
            there = held * (1.0 + observers[slot, f, k, MEAN]) / 2.0
            p = (there + alpha) / (counts[slot, k] + 2.0 * alpha)
            out[k] += math.log(1e-9 + (p if dense[f] > 0.0 else 1.0 - p))
    _softmax(out, n_classes)


@nb.njit(inline="always")
def _argmax(values, n):
    best = 0
    for k in range(1, n):
        if values[k] > values[best]:
            best = k
    return best


@nb.njit(cache=True)
def _observe(observers, seen, slot, ids, values, k, weight):
    """Fold one row of class k (weighted) into a leaf's observers (weighted Welford)."""
    seen[slot, k] += weight
    n_features = observers.shape[1]
    for s in range(len(ids)):
        f = ids[s]
        if f < 0 or f >= n_features:
            continue
        x = values[s]
        w = observers[slot, f, k, WEIGHT]
        if w <= 0.0:
            observers[slot, f, k, LOW] = x
            observers[slot, f, k, HIGH] = x
        else:
            observers[slot, f, k, LOW] = min(observers[slot, f, k, LOW], x)
            observers[slot, f, k, HIGH] = max(observers[slot, f, k, HIGH], x)
        w += weight
        delta = x - observers[slot, f, k, MEAN]
        observers[slot, f, k, MEAN] += delta * weight / w
        observers[slot, f, k, M2] += weight * delta * (x - observers[slot, f, k, MEAN])
        observers[slot, f, k, WEIGHT] = w


@nb.njit(inline="always")
def _entropy(dist, n):
    total = 0.0
    for k in range(n):
        total += dist[k]
    if total <= 0.0:
        return 0.0, 0.0
    h = 0.0
    for k in range(n):
        if dist[k] > 0.0:
            p = dist[k] / total
            h -= p * math.log2(p)
    return h, total


@nb.njit(inline="always")
def _info_gain(pre, left, right, n, min_branch):
    """Information gain of a binary split; -inf when a branch has too little weight."""
    h_pre, _ = _entropy(pre, n)
    h_left, w_left = _entropy(left, n)
    h_right, w_right = _entropy(right, n)
    total = w_left + w_right
    if total <= 0.0 or min(w_left, w_right) <= min_branch * total:
        return -np.inf
    return h_pre - (w_left * h_left + w_right * h_right) / total


@nb.njit(inline="always")
def _normal_cdf(x, mean, var):
    if var <= 0.0:
        return 1.0 if x >= mean else 0.0
    return 0.5 * (1.0 + math.erf((x - mean) / math.sqrt(2.0 * var)))


@nb.njit(cache=True)
def _split_class_weights(observers, seen, slot, feature, threshold, n_classes, left, right):
    for k in range(n_classes):
        n, mean, var = _gaussian(observers, seen, slot, feature, k)
        low, high = _range(observers, seen, slot, feature, k)
        if n <= 0.0:
            left[k] = right[k] = 0.0
        elif threshold < low:
            left[k], right[k] = 0.0, n
        elif threshold >= high:
            left[k], right[k] = n, 0.0
        else:
            left[k] = _normal_cdf(threshold, mean, var) * n
            right[k] = n - left[k]


@nb.njit(cache=True)
def _best_threshold(counts, seen, observers, slot, feature, n_classes, settings, work):
    """The best threshold of one feature at a leaf and its merit (-inf if none)."""
    low, high = np.inf, -np.inf
    for k in range(n_classes):
        if seen[slot, k] > 0.0:
            lo, hi = _range(observers, seen, slot, feature, k)
            low, high = min(low, lo), max(high, hi)
    best_merit, best_threshold = -np.inf, 0.0
    if not low < high:
        return best_merit, best_threshold
    n_splits = int(settings[N_SPLITS])
    step = (high - low) / (n_splits + 1)
    pre, left, right = work[0], work[1], work[2]
    for k in range(n_classes):
        pre[k] = counts[slot, k]
    for i in range(1, n_splits + 1):
        threshold = low + step * i
        _split_class_weights(observers, seen, slot, feature, threshold, n_classes, left, right)
        merit = _info_gain(pre, left, right, n_classes, settings[MIN_BRANCH])
        if merit > best_merit:
            best_merit, best_threshold = merit, threshold
    return best_merit, best_threshold


@nb.njit(cache=True)
def _pure(counts, slot, n_classes):
    classes = 0
    for k in range(n_classes):
        if counts[slot, k] > 0.0:
            classes += 1
    return classes < 2


@nb.njit(inline="always")
def next_random(rng):
    """The next 64 random bits of a splitmix64 generator (state ``rng[0]``)."""
    rng[0] += np.uint64(0x9E3779B97F4A7C15)
    z = rng[0]
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@nb.njit(inline="always")
def uniform(rng):
    """A uniform number in [0, 1) (53 random bits)."""
    return float(next_random(rng) >> np.uint64(11)) / 9007199254740992.0


@nb.njit(inline="always")
def subspace_size(spec, n_features):
    """How many of ``n_features`` a leaf may split on: ``spec`` ≥ 1 a count, in (0, 1) a
    fraction, -1 the square root, -2 log2, 0 all of them."""
    if spec == 0.0:
        m = n_features
    elif spec >= 1.0:
        m = int(spec)
    elif spec > 0.0:
        m = int(spec * n_features)
    elif spec == -1.0:
        m = int(math.sqrt(n_features))
    else:
        m = int(math.log2(max(n_features, 1)))
    return max(1, min(m, n_features))


@nb.njit(cache=True)
def observed_features(observers, seen, slot, n_features):
    """Which features a classification leaf has observed."""
    observed = np.zeros(n_features, np.bool_)
    for f in range(n_features):
        for k in range(seen.shape[1]):
            if observers[slot, f, k, WEIGHT] > 0.0:
                observed[f] = True
    return observed


@nb.njit(cache=True)
def candidate_features(observed, subspace, seed):
    """The features a leaf may split on: of those it has observed, all, or a random few
    (``subspace``, see :func:`subspace_size`) drawn by the leaf's seed, as in a random
    forest. Only what the leaf observed counts, so the draw does not depend on features
    numbered elsewhere."""
    features = np.flatnonzero(observed)
    m = subspace_size(subspace, len(features))
    if m >= len(features):
        return features
    keys = np.empty(len(features), np.uint64)
    state = np.empty(1, np.uint64)
    for j in range(len(features)):
        state[0] = np.uint64(seed) ^ (np.uint64(features[j]) * np.uint64(0xD1B54A32D192ED03))
        keys[j] = next_random(state)
    return np.sort(features[np.argsort(keys)[:m]])


@nb.njit(cache=True)
def attempt_split(tree, node, leaf_count, n_classes, n_features, settings, subspace, work):
    """Split a leaf when its best feature beats the second (or not splitting) by more than
    the Hoeffding bound. Returns whether it split."""
    nodes, thresholds, counts, seen, leaves, observers, free, counters, _rng = tree
    slot = nodes[node, SLOT]
    total = 0.0
    for k in range(n_classes):
        total += counts[slot, k]
    leaves[slot, LAST_ATTEMPT] = total
    if _pure(counts, slot, n_classes) or nodes[node, DEPTH] >= settings[MAX_DEPTH]:
        return False
    if leaf_count >= settings[MAX_LEAVES]:
        return False
    best, second, best_feature, best_threshold = -np.inf, 0.0, -1, 0.0  # 0: not splitting
    seed = np.uint64(leaves[slot, SEED])
    observed = observed_features(observers, seen, slot, n_features)
    for f in candidate_features(observed, subspace, seed):
        merit, threshold = _best_threshold(
            counts, seen, observers, slot, f, n_classes, settings, work
        )
        if merit > best:
            second = max(second, best)
            best, best_feature, best_threshold = merit, f, threshold
        elif merit > second:
            second = merit
    if best_feature < 0:
        return False
    known = 0
    for k in range(n_classes):
        if counts[slot, k] > 0.0:
            known += 1
    value_range = math.log2(max(known, 2))
    bound = math.sqrt(value_range * value_range * math.log(1.0 / settings[DELTA]) / (2.0 * total))
    if not (best - second > bound or bound < settings[TAU]):
        return False
    left, right = work[1], work[2]
    _split_class_weights(
        observers, seen, slot, best_feature, best_threshold, n_classes, left, right
    )
    nodes[node, FEATURE] = best_feature
    thresholds[node] = best_threshold
    nodes[node, SLOT] = -1
    free[counters[N_FREE]] = slot
    counters[N_FREE] += 1
    for side in range(2):
        child = new_leaf(tree, nodes[node, DEPTH] + 1, left if side == 0 else right, n_classes)
        nodes[node, LEFT + side] = child
    return True


@nb.njit(cache=True)
def new_leaf(tree, depth, weights, n_classes):
    """A new leaf node (a free slot, fresh statistics, its own random seed) with the class
    weights a split estimated for it; returns the node."""
    nodes, thresholds, counts, seen, leaves, observers, free, counters, rng = tree
    node = counters[N_NODES]
    counters[N_NODES] += 1
    counters[N_FREE] -= 1
    slot = free[counters[N_FREE]]
    nodes[node, FEATURE] = -1
    nodes[node, LEFT] = nodes[node, RIGHT] = -1
    nodes[node, SLOT] = slot
    nodes[node, DEPTH] = depth
    thresholds[node] = 0.0
    counts[slot, :] = 0.0
    seen[slot, :] = 0.0
    observers[slot] = 0.0
    total = 0.0
    for k in range(n_classes):
        counts[slot, k] = weights[k]
        total += weights[k]
    leaves[slot, LAST_ATTEMPT] = total
    leaves[slot, MC_HITS] = 0.0
    leaves[slot, NB_HITS] = 0.0
    leaves[slot, INTERCEPT] = 0.0
    leaves[slot, SEED] = float(next_random(rng) >> np.uint64(12))  # exact in a float
    return node


@nb.njit(cache=True)
def learn_leaf(tree, node, leaf_count, row, label, rules, work, scored):
    """Learn a ``row`` (ids, values and the dense row) of ``label`` (class k, weight) at a
    leaf node; attempt a split every grace period. ``rules``: the number of classes and of
    features, the settings and the subspace. With ``scored``, ``work[3]`` and ``work[4]``
    hold the leaf's :func:`leaf_scores` for the row already. Returns whether it split."""
    nodes, _thresholds, counts, seen, leaves, observers, _free, _counters, _rng = tree
    ids, values, dense = row
    k, weight = label
    n_classes, n_features, settings, subspace = rules
    slot = nodes[node, SLOT]
    if settings[LEAF_MODE] == ADAPTIVE:
        mc, nb = work[3], work[4]
        if not scored:
            leaf_scores(tree, slot, dense, n_classes, settings, 0.0, (mc, nb))
        # An empty leaf counts as right by majority (as River's: the best guess it has).
        if mc[_argmax(mc, n_classes)] <= 0.0 or (_argmax(mc, n_classes) == k and mc[k] > 0.0):
            leaves[slot, MC_HITS] += weight
        if _argmax(nb, n_classes) == k and nb[k] > 0.0:
            leaves[slot, NB_HITS] += weight
    counts[slot, k] += weight
    _observe(observers, seen, slot, ids, values, k, weight)
    total = 0.0
    for j in range(n_classes):
        total += counts[slot, j]
    if total - leaves[slot, LAST_ATTEMPT] < settings[GRACE]:
        return False
    return attempt_split(tree, node, leaf_count, n_classes, n_features, settings, subspace, work)


@nb.njit(cache=True)
def tree_work(n_classes):
    """Scratch rows: a split's class weights (three), a leaf's scores (two)."""
    return np.zeros((5, max(n_classes, 1)))


@nb.njit(cache=True)
def run_tree_ops(rows, schedule, start, tree, roots, leaf_counts, sizes, settings, out):
    """A schedule over one tree (``roots[0]``): predict rows (``out``), learn them, or both
    in that order, from operation ``start``. Returns where it stopped: at the end, or before
    an operation that could split with no room for two more nodes (the caller grows the
    arrays and goes on)."""
    ids, values = rows
    ops, op_rows, targets = schedule
    n_classes, n_features = sizes
    nodes, thresholds, observers, counters = tree[0], tree[1], tree[5], tree[7]
    work = tree_work(n_classes)
    dense = np.zeros(n_features)
    rules = (n_classes, n_features, settings, 0.0)
    for i in range(start, len(ops)):
        if counters[N_FREE] < 1 or counters[N_NODES] + 2 > len(nodes):
            return i
        row = op_rows[i]
        scatter(ids[row], values[row], dense, True)
        node = find_leaf(nodes, thresholds, ids[row], values[row], roots[0])
        op = ops[i]
        if op != 1:  # predict (alone or before learning)
            slot = nodes[node, SLOT]
            unseen = 0.0
            if settings[LEAF_MODE] == MULTINOMIAL:
                unseen = _unseen(ids[row], values[row], observers, slot, n_classes)
            scores = (work[3], work[4])
            majority = leaf_scores(tree, slot, dense, n_classes, settings, unseen, scores)
            out[i, :n_classes] = work[3, :n_classes] if majority else work[4, :n_classes]
        if op != 0:
            label = (int(targets[i]), 1.0)
            x = (ids[row], values[row], dense)
            split = learn_leaf(tree, node, leaf_counts[0], x, label, rules, work, op == 2)
            leaf_counts[0] += split
            counters[N_LEARNED] += 1
        scatter(ids[row], values[row], dense, False)
    return len(ops)


@nb.njit(inline="always")
def _unseen(ids, values, observers, slot, n_classes):
    """The total value of a row's features that a leaf has not observed (in the row's
    order, whether or not they are numbered yet)."""
    total = 0.0
    for s in range(len(ids)):
        f = ids[s]
        if f < 0 or f >= observers.shape[1] or not _observed(observers, slot, f, n_classes):
            total += values[s]
    return total


@nb.njit(inline="always")
def scatter(ids, values, dense, on):
    """Write a sparse row into ``dense`` (or clear it again)."""
    for s in range(len(ids)):
        if ids[s] >= 0:
            dense[ids[s]] = values[s] if on else 0.0
