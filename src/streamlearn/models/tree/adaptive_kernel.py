"""Compiled Hoeffding Adaptive Tree (Bifet & Gavaldà, 2009), as River's
``HoeffdingAdaptiveTreeClassifier`` runs it: every node watches the errors of the
predictions made below it with an ADWIN detector; when a branch's errors rise, an alternate
subtree grows beside it from a fresh leaf and learns the same events; once both have seen
``drift_window_threshold`` events, the alternate replaces the branch if its error is lower
by more than a bound of confidence ``switch_significance``, or is dropped if it is higher by
as much. As in River, an alternate takes its owner's place (an alternate of an alternate
replaces the subtree in the tree), and an alternate that is still one leaf takes it when it
first splits. Leaves learn with a Poisson(1) bootstrap weight. A prediction combines the
leaf an event reaches with the leaves it reaches in the alternates on its way, each weighted
by the inverse square of its running error.

Beside the tree pool (:mod:`streamlearn.models.tree.kernel`), per node:
``alternates[node]`` the root of its alternate subtree (-1: none); ``errors[node]`` the sum
and count of its 0/1 errors since it was (re)set; its ADWIN state, error buffer and buffer
length (``detectors``, ``buffers``, ``buffered``, fed as in
:mod:`streamlearn.models.tree.forest_kernel`). ``signals``: alternates started, switched
in and pruned.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba as nb
import numpy as np

from streamlearn.drift.base import DRIFT
from streamlearn.models.tree.forest_kernel import DEAD, feed, poisson
from streamlearn.models.tree.kernel import (
    DEPTH,
    FEATURE,
    LEAF_MODE,
    LEFT,
    MAX_LEAVES,
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
)
from streamlearn.models.tree.regression_kernel import (
    N_BINS,
    leaf_value,
    learn_regression_leaf,
    regression_work,
)

# adaptive settings: bootstrap sampling (0/1), events before an alternate may be judged,
# the switch test's significance, whether the tree is a regressor's (0/1)
BOOTSTRAP, WINDOW, SIGNIFICANCE, REGRESSION = range(4)
STARTED, SWITCHED, PRUNED = range(3)
AS_ALTERNATE = 2  # a stack entry's side: the node is its owner's alternate


class AdaptiveParts(NamedTuple):
    """What a Hoeffding Adaptive Tree keeps beside its node pool.

    Parameters
    ----------
    adaptive
        Per node: its alternate, running errors, detector state and buffers.
    roots
        ``[root]``.
    leaf_counts
        ``[leaves of the tree and its alternates]``.
    signals
        Alternates started, switched in and pruned.

    Example
    -------
    >>> import numpy as np
    >>> parts = AdaptiveParts((), np.zeros(1, np.int64), np.ones(1, np.int64), np.zeros(3))
    >>> int(parts.leaf_counts[0])
    1
    """

    adaptive: tuple
    roots: np.ndarray
    leaf_counts: np.ndarray
    signals: np.ndarray


class AdaptiveRules(NamedTuple):
    """How a Hoeffding Adaptive Tree grows and switches.

    Parameters
    ----------
    sizes
        The classes and features numbered so far (a :class:`Sizes`).
    settings
        The tree kernels' settings.
    hat
        Bootstrap, window and significance (``BOOTSTRAP``, ...).
    detectors
        The branch detectors' parameters and their buffer length.

    Example
    -------
    >>> import numpy as np
    >>> from streamlearn.base.records import Sizes
    >>> hat = np.array([0.0, 300.0, 0.05])
    >>> rules = AdaptiveRules(Sizes(2, 8), np.zeros(9), hat, np.zeros(4))
    >>> float(rules.hat[SIGNIFICANCE])
    0.05
    """

    sizes: tuple[int, int]
    settings: np.ndarray
    hat: np.ndarray
    detectors: np.ndarray


@nb.njit(inline="always")
def _child_side(nodes, thresholds, ids, values, node):
    feature = nodes[node, FEATURE]
    for s in range(len(ids)):
        if ids[s] == feature:
            return 0 if values[s] <= thresholds[node] else 1
    return 0 if thresholds[node] >= 0.0 else 1


@nb.njit(inline="always")
def _mean_error(errors, node):
    return errors[node, 0] / errors[node, 1] if errors[node, 1] > 0.0 else 0.0


@nb.njit(inline="always")
def _fresh(adaptive, node):
    """A node's adaptive state as a new node's: no alternate, no errors, a fresh detector."""
    alternates, errors, detectors, _buffers, buffered = adaptive
    alternates[node] = -1
    errors[node, :] = 0.0
    detectors[node, :] = 0.0
    buffered[node] = 0


@nb.njit(cache=True)
def _leaf_prediction(tree, node, dense, n_classes, settings, work):
    """A leaf's class probabilities into ``work[3]`` (majority) or ``work[4]`` (naive
    Bayes); returns which row (-1: the leaf has learned nothing)."""
    nodes, counts = tree[0], tree[2]
    slot = nodes[node, SLOT]
    total = 0.0
    for k in range(n_classes):
        total += counts[slot, k]
    if total <= 0.0:
        return -1
    majority = leaf_scores(tree, slot, dense, n_classes, settings, 0.0, (work[3], work[4]))
    return 3 if majority else 4


@nb.njit(inline="always")
def _recall(tree, node, dense, n_classes, settings, work, memo, at):
    """:func:`_leaf_prediction`, or what it gave for the same leaf and row (operation
    ``at``) when the row was predicted: a leaf's statistics change only when it learns."""
    stamps, places, rows, scores = memo
    if stamps[node] == at:
        j = places[node]
        work[3, :n_classes] = scores[j, 0, :n_classes]
        work[4, :n_classes] = scores[j, 1, :n_classes]
        return rows[j]
    return _leaf_prediction(tree, node, dense, n_classes, settings, work)


@nb.njit(inline="always")
def _remember(node, n_classes, work, row, memo, at, j):
    stamps, places, rows, scores = memo
    if at < 0 or j >= len(rows):
        return
    stamps[node], places[node], rows[j] = at, j, row
    scores[j, 0, :n_classes] = work[3, :n_classes]
    scores[j, 1, :n_classes] = work[4, :n_classes]


@nb.njit(cache=True)
def memo_arrays(n_nodes, n_classes, size=64):
    """Scratch for the leaf predictions of a row, kept from its prediction to its
    learning: per node the operation it was made at and its place; per place the row of
    ``work`` it chose and both rows."""
    return (
        np.full(n_nodes, -1, np.int64),
        np.zeros(n_nodes, np.int64),
        np.zeros(size, np.int64),
        np.zeros((size, 2, max(n_classes, 1))),
    )


@nb.njit(inline="always")
def _best(row, n_classes):
    best = 0
    for k in range(1, n_classes):
        if row[k] > row[best]:
            best = k
    return best


@nb.njit(inline="always")
def _reached(tree, alternates, root, ids, values, stack, found):
    """The leaves a row reaches in the tree and in every alternate on its way, into
    ``found`` (the tree's first); returns how many."""
    nodes, thresholds = tree[0], tree[1]
    stack[0], top, count = root, 1, 0
    while top > 0:
        top -= 1
        node = stack[top]
        while nodes[node, FEATURE] >= 0:
            if alternates[node] >= 0:
                stack[top] = alternates[node]
                top += 1
            if _child_side(nodes, thresholds, ids, values, node) == 0:
                node = nodes[node, LEFT]
            else:
                node = nodes[node, RIGHT]
        found[count] = node
        count += 1
    return count


@nb.njit(cache=True)
def predict_adaptive(tree, adaptive, root, row, n_classes, settings, scratch, at, out):
    """Class probabilities of a ``row`` (ids, values, dense) into ``out``: the leaves it
    reaches in the tree and in every alternate on its way, each weighted by the inverse
    square of its running error (as River's, a leaf without errors counts once). With
    ``at`` >= 0 (the row is learned next), each leaf's prediction is kept in the memo of
    ``scratch`` (work, stack, found, memo) for its learning."""
    ids, values, dense = row
    work, stack, found, memo = scratch
    alternates, errors = adaptive[0], adaptive[1]
    out[:n_classes] = 0.0
    for path in range(_reached(tree, alternates, root, ids, values, stack, found)):
        node = found[path]
        row = _leaf_prediction(tree, node, dense, n_classes, settings, work)
        _remember(node, n_classes, work, row, memo, at, path)
        if row < 0:
            continue
        error = _mean_error(errors, node)
        weight = 1.0 / (error * error) if error > 0.0 else 1.0
        for k in range(n_classes):
            out[k] += work[row, k] * weight
    total = 0.0
    for k in range(n_classes):
        total += out[k]
    if total > 0.0:
        for k in range(n_classes):
            out[k] /= total


@nb.njit(inline="always")
def _leaf_value(tree, node, ids, values, settings):
    """A regression leaf's prediction for a row."""
    counts, leaves, observers = tree[2], tree[4], tree[5]
    slot = tree[0][node, SLOT]
    mode, n_bins = int(settings[LEAF_MODE]), int(settings[N_BINS])
    return leaf_value(counts, leaves, observers, slot, ids, values, mode, n_bins)


@nb.njit(cache=True)
def predict_adaptive_value(tree, adaptive, root, ids, values, settings, stack, found):
    """A regression tree's prediction for a row: the mean of the leaves it reaches in the
    tree and in every alternate on its way (as River's)."""
    count = _reached(tree, adaptive[0], root, ids, values, stack, found)
    total = 0.0
    for path in range(count):
        total += _leaf_value(tree, found[path], ids, values, settings)
    return total / count


@nb.njit(cache=True)
def _visits(nodes, thresholds, alternates, root, ids, values, stack):
    """Nodes a row's learning passes (the tree's path and every alternate's)."""
    count = 0
    stack[0], top = root, 1
    while top > 0:
        top -= 1
        node = stack[top]
        while True:
            count += 1
            if nodes[node, FEATURE] < 0:
                break
            if alternates[node] >= 0:
                stack[top] = alternates[node]
                top += 1
            if _child_side(nodes, thresholds, ids, values, node) == 0:
                node = nodes[node, LEFT]
            else:
                node = nodes[node, RIGHT]
    return count


@nb.njit(cache=True)
def drop_subtree(tree, adaptive, root, stack):
    """Free a subtree's leaf slots, alternates' included, and mark its nodes dead;
    returns how many leaves it had."""
    nodes, free, counters = tree[0], tree[6], tree[7]
    alternates = adaptive[0]
    stack[0], top, leaves = root, 1, 0
    while top > 0:
        top -= 1
        node = stack[top]
        if nodes[node, FEATURE] >= 0:
            stack[top], stack[top + 1] = nodes[node, LEFT], nodes[node, RIGHT]
            top += 2
            if alternates[node] >= 0:
                stack[top] = alternates[node]
                top += 1
                alternates[node] = -1
        elif nodes[node, FEATURE] != DEAD:
            free[counters[N_FREE]] = nodes[node, SLOT]
            counters[N_FREE] += 1
            leaves += 1
        nodes[node, FEATURE] = DEAD
        nodes[node, SLOT] = -1
    return leaves


@nb.njit(inline="always")
def _watch(adaptive, node, error, detector_params, signal_out):
    """A node's error to its detector and running error; returns whether its errors rose
    (a drift that lowered them only restarts the running error)."""
    _alternates, errors, detectors, buffers, buffered = adaptive
    old = _mean_error(errors, node)
    signal = feed(detectors, buffers, buffered, node, error, detector_params, signal_out)
    errors[node, 0] += error
    errors[node, 1] += 1.0
    if errors.shape[1] > 2:  # a regressor's: Welford's M2, for the switch test's variance
        errors[node, 2] += (error - old) * (error - _mean_error(errors, node))
    if signal != DRIFT:
        return False
    if old > _mean_error(errors, node):
        errors[node, :] = 0.0
        return False
    return True


@nb.njit(cache=True)
def _judge(adaptive, node, hat):
    """+1: the alternate is significantly better (switch), -1: worse (prune), 0: neither
    yet."""
    alternates, errors = adaptive[0], adaptive[1]
    alternate = alternates[node]
    n_alt, n = errors[alternate, 1], errors[node, 1]
    if not (n_alt > hat[WINDOW] and n > hat[WINDOW]):
        return 0
    mine, theirs = _mean_error(errors, node), _mean_error(errors, alternate)
    if hat[REGRESSION] > 0.0:
        return _z_test(
            mine,
            theirs,
            errors[node, 2] / (n - 1.0),
            errors[alternate, 2] / (n_alt - 1.0),
            n,
            n_alt,
            hat[SIGNIFICANCE],
        )
    bound = math.sqrt(
        2.0 * mine * (1.0 - mine) * math.log(2.0 / hat[SIGNIFICANCE]) * (1.0 / n_alt + 1.0 / n)
    )
    if bound < mine - theirs:
        return 1
    if bound < theirs - mine:
        return -1
    return 0


@nb.njit(inline="always")
def _z_test(mine, theirs, variance, variance_alt, n, n_alt, significance):
    """River's regressor's test of two mean absolute errors: two-tailed z, +1 when the
    alternate's is significantly lower, -1 when higher."""
    spread = math.sqrt(variance_alt / n_alt + variance / n)
    if not spread > 0.0:
        return 0
    z = (theirs - mine) / spread
    if math.erfc(abs(z) / math.sqrt(2.0)) > significance:  # the p-value
        return 0
    return 1 if theirs < mine else -1


@nb.njit(inline="always")
def _push(stack, top, node, parent, side, wrong, within, place_parent, place_side):
    """A node to learn the row: its parent (an alternate's root: its owner), its side (or
    AS_ALTERNATE), whether the leaf its path reaches predicts the row wrong (-1: not known
    yet), whether it lies within an alternate, and the place that what replaces it takes
    (River's: an alternate, and what replaces it, take their owner's place)."""
    stack[top, 0], stack[top, 1], stack[top, 2] = node, parent, side
    stack[top, 3], stack[top, 4] = wrong, within  # the stack is float: wrong is an error
    stack[top, 5], stack[top, 6] = place_parent, place_side
    return top + 1


@nb.njit(cache=True)
def _install(tree, adaptive, roots, leaf_counts, new, place_parent, place_side, paths):
    """``new`` (unlinked from its owner) in the place of the subtree there, dropped."""
    nodes = tree[0]
    if place_parent < 0:
        old, roots[0] = roots[0], new
    else:
        old = nodes[place_parent, LEFT + place_side]
        nodes[place_parent, LEFT + place_side] = new
    leaf_counts[0] -= drop_subtree(tree, adaptive, old, paths)


@nb.njit(inline="always")
def _bootstrap(hat, rng):
    """A leaf's weight for the row: Poisson(1), a draw of 0 counting as 1 (as River's)."""
    if hat[BOOTSTRAP] > 0.0:
        draw = poisson(1.0, rng)
        if draw > 0:
            return float(draw)
    return 1.0


@nb.njit(inline="always")
def _wrong(work, row, n_classes, k):
    return 1 if row < 0 or _best(work[row], n_classes) != k else 0


@nb.njit(cache=True)
def _start_alternate(tree, adaptive, node, leaf_counts, signals, settings, paths):
    """A fresh leaf as ``node``'s alternate (in place of one it had), while the alternates
    have room: ``max_leaves`` leaves beyond the tree's."""
    alternates = adaptive[0]
    adaptive[1][node, :] = 0.0
    if alternates[node] >= 0:
        leaf_counts[0] -= drop_subtree(tree, adaptive, alternates[node], paths)
        alternates[node] = -1
    if leaf_counts[0] < 2 * settings[MAX_LEAVES]:
        fresh = new_leaf(tree, tree[0][node, DEPTH], np.zeros(0), 0)
        _fresh(adaptive, fresh)
        alternates[node] = fresh
        leaf_counts[0] += 1
        signals[STARTED] += 1


@nb.njit(inline="always")
def _path_error(tree, leaf, x, target, rules, scratch, at):
    """The error of a leaf's prediction for the row: 0/1 (a classifier's, as it predicted
    the row, from the memo), or the absolute error (a regressor's)."""
    ids, values, dense = x
    (n_classes, _n_features), settings, hat, _detector_params = rules
    work, memo = scratch[0], scratch[5]
    if hat[REGRESSION] > 0.0:
        return abs(target - _leaf_value(tree, leaf, ids, values, settings))
    scored = _recall(tree, leaf, dense, n_classes, settings, work, memo, at)
    return float(_wrong(work, scored, n_classes, int(target)))


@nb.njit(inline="always")
def _leaf_learns(tree, adaptive, node, count, x, label, rules, scratch, at):
    """A leaf's error to its detector, then the row (``label``: target, weight, and the
    error if the path knew it) to the leaf; returns whether it split."""
    ids, values, dense = x
    target, weight, wrong = label
    (n_classes, n_features), settings, hat, detector_params = rules
    work, grow_work, signal_out, _stack, _paths, memo = scratch
    if hat[REGRESSION] > 0.0:
        if wrong < 0.0:
            wrong = _path_error(tree, node, x, target, rules, scratch, at)
        _watch(adaptive, node, wrong, detector_params, signal_out)
        rules_ = (n_features, settings, 0.0)
        return learn_regression_leaf(
            tree, node, count, (ids, values), (target, weight), rules_, grow_work
        )
    scored = _recall(tree, node, dense, n_classes, settings, work, memo, at)
    if wrong < 0.0:
        wrong = float(_wrong(work, scored, n_classes, int(target)))
    _watch(adaptive, node, wrong, detector_params, signal_out)
    rules_ = (n_classes, n_features, settings, 0.0)
    return learn_leaf(tree, node, count, x, (int(target), weight), rules_, work, scored >= 0)


@nb.njit(cache=True)
def learn_adaptive(tree, hat_tree, x, target, rules, scratch, at):
    """Learn a row (a class id, or a regressor's target): every node on its way (the tree's
    and the alternates') judges its prediction, branches start, switch in or prune
    alternates, leaves learn with a bootstrap weight and split (the tree's while all leaves
    are under ``max_leaves``, an alternate's under twice that). Every branch on a path
    judges the prediction of the same leaf, made before anything on the path learns.
    ``stack`` and ``paths``: scratch of a row per node; ``memo`` holds the leaves'
    predictions of operation ``at``, if any. ``hat_tree`` is :class:`AdaptiveParts`'
    arrays, ``x`` (ids, values, dense), ``rules`` :class:`AdaptiveRules`', ``scratch``
    (work, the regression leaves' work, signal_out, stack, paths, memo)."""
    adaptive, roots, leaf_counts, signals = hat_tree
    ids, values, _dense = x
    _sizes, settings, hat, detector_params = rules
    signal_out, stack, paths = scratch[2], scratch[3], scratch[4]
    regression = hat[REGRESSION] > 0.0
    nodes, thresholds, rng = tree[0], tree[1], tree[8]
    alternates = adaptive[0]
    top = _push(stack, 0, roots[0], -1, 0, -1.0, 0, -1, 0)
    while top > 0:
        top -= 1
        entry = stack[top]
        node, parent, side, wrong = int(entry[0]), int(entry[1]), int(entry[2]), entry[3]
        within, place_parent, place_side = int(entry[4]), int(entry[5]), int(entry[6])
        if nodes[node, FEATURE] == DEAD:  # replaced earlier in the row
            continue
        if nodes[node, FEATURE] < 0:
            label = (target, _bootstrap(hat, rng), wrong)
            count = leaf_counts[0] - settings[MAX_LEAVES] * within  # what the cap is of
            if _leaf_learns(tree, adaptive, node, count, x, label, rules, scratch, at):
                leaf_counts[0] += 1
                _fresh(adaptive, node)
                _fresh(adaptive, nodes[node, LEFT])
                _fresh(adaptive, nodes[node, RIGHT])
                if side == AS_ALTERNATE:  # as River's: a leaf alternate that splits takes over
                    alternates[parent] = -1
                    _install(
                        tree, adaptive, roots, leaf_counts, node, place_parent, place_side, paths
                    )
                    signals[SWITCHED] += 1
            continue
        if wrong < 0.0:
            leaf = find_leaf(nodes, thresholds, ids, values, node)
            wrong = _path_error(tree, leaf, x, target, rules, scratch, at)
        changed = _watch(adaptive, node, wrong, detector_params, signal_out)
        # River's regressor judges an alternate it has rather than starting another
        if changed and not (regression and alternates[node] >= 0):
            _start_alternate(tree, adaptive, node, leaf_counts, signals, settings, paths)
        elif alternates[node] >= 0:
            verdict = _judge(adaptive, node, hat)
            if verdict > 0:
                alternate = alternates[node]
                alternates[node] = -1
                _install(
                    tree, adaptive, roots, leaf_counts, alternate, place_parent, place_side, paths
                )
                signals[SWITCHED] += 1
                if place_parent < 0:  # a new root learns the row, as River's does
                    top = _push(stack, top, alternate, -1, 0, -1.0, 0, -1, 0)
                continue
            if verdict < 0:
                leaf_counts[0] -= drop_subtree(tree, adaptive, alternates[node], paths)
                alternates[node] = -1
                signals[PRUNED] += 1
        way = _child_side(nodes, thresholds, ids, values, node)
        top = _push(stack, top, nodes[node, LEFT + way], node, way, wrong, within, node, way)
        if alternates[node] >= 0:  # learned first, as River's
            alternate = alternates[node]
            top = _push(
                stack, top, alternate, node, AS_ALTERNATE, -1.0, 1, place_parent, place_side
            )


@nb.njit(cache=True)
def run_adaptive_ops(rows, schedule, start, tree, hat_tree, rules, room, out):
    """A schedule over a Hoeffding Adaptive Tree (``roots[0]``): predict rows (``out``),
    learn them, or both in that order, from operation ``start``. Returns where it stopped:
    at the end, or before a row whose learning could need more nodes or leaf slots than
    are free (``room[0]``: the splits to make room for). ``hat_tree`` and ``rules`` are
    :class:`AdaptiveParts` and :class:`AdaptiveRules`."""
    ids, values = rows
    ops, op_rows, targets = schedule
    adaptive, roots = hat_tree.adaptive, hat_tree.roots
    (n_classes, n_features), settings, hat, detector_params = rules
    regression = hat[REGRESSION] > 0.0
    nodes, thresholds, counters = tree[0], tree[1], tree[7]
    alternates = adaptive[0]
    work, grow_work = tree_work(n_classes), regression_work(n_features if regression else 0)
    dense = np.zeros(n_features)
    signal_out = np.zeros(int(detector_params[1]))
    # a node is pending at most once: scratch of a row per node is enough
    paths = np.empty(len(nodes) + 1, np.int64)
    found = np.empty(len(nodes) + 1, np.int64)
    stack = np.empty((len(nodes) + 1, 7))
    memo = memo_arrays(len(nodes) + 1, n_classes)
    for i in range(start, len(ops)):
        row = op_rows[i]
        op = ops[i]
        if op != 0:
            visits = _visits(nodes, thresholds, alternates, roots[0], ids[row], values[row], paths)
            # each node passed may split (a leaf) or start an alternate (a branch), and
            # each alternate started learns the row too
            need = 2 * visits
            if counters[N_FREE] < need or counters[N_NODES] + 2 * need > len(nodes):
                room[0] = need
                return i
        scatter(ids[row], values[row], dense, True)
        x = (ids[row], values[row], dense)
        if op != 1 and regression:
            out[i, 0] = predict_adaptive_value(
                tree, adaptive, roots[0], ids[row], values[row], settings, paths, found
            )
        elif op != 1:
            at = i if op == 2 else -1
            scratch = (work, paths, found, memo)
            predict_adaptive(tree, adaptive, roots[0], x, n_classes, settings, scratch, at, out[i])
        if op != 0:
            scratch = (work, grow_work, signal_out, stack, paths, memo)
            learn_adaptive(tree, hat_tree, x, targets[i], rules, scratch, i)
            counters[N_LEARNED] += 1
        scatter(ids[row], values[row], dense, False)
    return len(ops)


@nb.njit(cache=True)
def compact_adaptive(adaptive, nodes, used):
    """Move the adaptive state of the first ``used`` nodes as the pool's compaction moves
    the nodes (the dead dropped, the others in order); call before compacting the nodes."""
    alternates, errors, detectors, buffers, buffered = adaptive
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
        alternate = alternates[node]
        alternates[target] = new_id[alternate] if alternate >= 0 else -1
        errors[target] = errors[node]
        detectors[target] = detectors[node]
        buffers[target] = buffers[node]
        buffered[target] = buffered[node]
    alternates[n:] = -1
