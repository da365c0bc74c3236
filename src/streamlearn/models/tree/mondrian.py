"""Compiled Aggregated Mondrian Forests (Mourtada, Gaïffas & Scornet, 2021): trees grown by
a Mondrian process over the range of the points each node has seen, and predictions that
aggregate, with exponential weights, every subtree along a point's path (context-tree
weighting), so a forest needs no pruning and no split criterion.

A node knows the box its points fill (``low``, ``high`` per feature; a feature a row
lacks is 0, so a feature numbered late has the box [0, 0] in every older node, which is
exact). A new point outside a node's box splits it at time ``time + Exp(extension)``
(the sum of how far the point lies outside the box), if that comes before the node's
children were born, on a feature drawn in proportion to its extension, at a threshold
drawn between the box and the point. All trees share one pool of nodes.

Layouts:

- ``links[node]``: parent, left (-1 at a leaf), right, feature, depth
- ``numbers[node]``: birth time, threshold, log weight, log weight of its subtree, points
- ``counts[node, class]`` (a regression's: ``counts[node, 0]`` the mean of its targets),
  ``low[node, feature]``, ``high[node, feature]``
- ``trees[t]``: root, points learned, nodes (per tree); ``counters``: nodes used, events
  learned, classes learned (the classes its probabilities are over, as for an event
  predicted before its label: a class not yet learned is not one); ``rng``: the state
  of the generator (splitmix64)
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from streamlearn.models.tree.kernel import scatter, uniform

PARENT, LEFT, RIGHT, FEATURE, DEPTH = range(5)
TIME, THRESHOLD, WEIGHT, TREE_WEIGHT, POINTS = range(5)
NUMBERS = 5  # columns of a node's numbers
ROOT, LEARNED, SIZE = range(3)
N_USED, N_LEARNED, N_CLASSES = 0, 1, 2
# settings: step, Dirichlet prior, aggregate (1/0), split pure nodes (1/0), nodes per tree,
# regression (1/0: a node predicts the mean of its targets, its loss is half the squared error)
STEP, DIRICHLET, AGGREGATE, SPLIT_PURE, MAX_NODES, REGRESSION = range(6)


@nb.njit(inline="always")
def _score(counts, numbers, node, k, n_classes, dirichlet):
    """A node's probability of class k (Jeffreys-like Dirichlet smoothing)."""
    total = numbers[node, POINTS] + dirichlet * n_classes
    return (counts[node, k] + dirichlet) / total


@nb.njit(inline="always")
def new_node(forest, parent, time, depth):
    """A fresh leaf (no points) under ``parent``, born at ``time``; returns it."""
    links, numbers, counts, low, high, _trees, counters, _rng = forest
    node = counters[N_USED]
    counters[N_USED] += 1
    links[node, PARENT], links[node, LEFT], links[node, RIGHT] = parent, -1, -1
    links[node, FEATURE], links[node, DEPTH] = -1, depth
    _fill_row(numbers, node, 0.0)
    numbers[node, TIME] = time
    _fill_row(counts, node, 0.0)
    _fill_row(low, node, 0.0)
    _fill_row(high, node, 0.0)
    return node


# Rows are filled and copied element by element: a slice assignment within one array
# would copy through a temporary (numba cannot tell the rows apart), an allocation a split.
@nb.njit(inline="always")
def _fill_row(array, row, value):
    for j in range(array.shape[1]):
        array[row, j] = value


@nb.njit(inline="always")
def _copy_row(array, source, target):
    for j in range(array.shape[1]):
        array[target, j] = array[source, j]


@nb.njit(cache=True)
def plant_tree(forest, t):
    """Tree ``t`` as one empty leaf."""
    trees = forest[5]
    trees[t, ROOT] = new_node(forest, -1, 0.0, 0)
    trees[t, LEARNED] = 0
    trees[t, SIZE] = 1


@nb.njit(inline="always")
def _extensions(low, high, node, dense, out):
    """How far the point lies outside the node's box, per feature; their sum."""
    total = 0.0
    for f in range(len(dense)):
        x = dense[f]
        if x < low[node, f]:
            out[f] = low[node, f] - x
        elif x > high[node, f]:
            out[f] = x - high[node, f]
        else:
            out[f] = 0.0
        total += out[f]
    return total


@nb.njit(inline="always")
def _take(forest, node, dense, y, learn_weight, n_classes, settings):
    """A point of class (or target) ``y`` into a node: its box, its points,
    (``learn_weight``) its log weight's loss, then its class count or mean (the order of
    the published algorithm)."""
    _links, numbers, counts, low, high, _trees, _counters, _rng = forest
    if numbers[node, POINTS] == 0.0:
        for f in range(len(dense)):
            low[node, f] = dense[f]
            high[node, f] = dense[f]
    else:
        for f in range(len(dense)):
            low[node, f] = min(low[node, f], dense[f])
            high[node, f] = max(high[node, f], dense[f])
    numbers[node, POINTS] += 1.0
    if settings[REGRESSION] > 0.0:
        error = counts[node, 0] - y
        if learn_weight and settings[AGGREGATE] > 0.0:
            numbers[node, WEIGHT] -= settings[STEP] * error * error / 2.0
        counts[node, 0] -= error / numbers[node, POINTS]
        return
    k = int(y)
    if learn_weight and settings[AGGREGATE] > 0.0:
        p = _score(counts, numbers, node, k, n_classes, settings[DIRICHLET])
        numbers[node, WEIGHT] -= settings[STEP] * -math.log(p)
    counts[node, k] += 1.0


@nb.njit(inline="always")
def _split_time(forest, node, dense, y, extension, settings):
    """When the point splits the node (0: it does not)."""
    links, numbers, counts, _low, _high, _trees, _counters, rng = forest
    pure = settings[REGRESSION] == 0.0 and numbers[node, POINTS] == counts[node, int(y)]
    if (settings[SPLIT_PURE] == 0.0 and pure) or extension <= 0.0:
        return 0.0
    time = numbers[node, TIME] - math.log(1.0 - uniform(rng)) / extension
    if not time < 1e300:  # a box extended by next to nothing: never
        return 0.0
    if links[node, LEFT] < 0 or time < numbers[links[node, LEFT], TIME]:
        return time
    return 0.0


@nb.njit(cache=True)
def _depths(links, node, depth):
    """Set the depths of a subtree from ``node`` (at ``depth``) down."""
    stack = [(node, depth)]
    while stack:
        at, d = stack.pop()
        links[at, DEPTH] = d
        if links[at, LEFT] >= 0:
            stack.append((links[at, LEFT], d + 1))
            stack.append((links[at, RIGHT], d + 1))


@nb.njit(inline="always")
def _split(forest, node, time, dense, extensions, extension):
    """Split ``node`` at ``time``: its old self (box, points, children) moves to the
    child on the box's side, a new leaf takes the point's side. Returns the new leaf."""
    links, numbers, counts, low, high, _trees, _counters, rng = forest
    draw = uniform(rng) * extension
    feature = len(extensions) - 1
    for f in range(len(extensions)):
        draw -= extensions[f]
        if draw < 0.0 and extensions[f] > 0.0:
            feature = f
            break
    x = dense[feature]
    right = x > high[node, feature]
    edge = high[node, feature] if right else low[node, feature]
    threshold = edge + uniform(rng) * (x - edge)
    depth = links[node, DEPTH] + 1
    old = new_node(forest, node, time, depth)
    fresh = new_node(forest, node, time, depth)
    links[old, LEFT], links[old, RIGHT] = links[node, LEFT], links[node, RIGHT]
    links[old, FEATURE] = links[node, FEATURE]
    _copy_row(numbers, node, old)
    numbers[old, TIME] = time
    _copy_row(counts, node, old)
    _copy_row(low, node, old)
    _copy_row(high, node, old)
    if links[old, LEFT] >= 0:
        links[links[old, LEFT], PARENT] = old
        links[links[old, RIGHT], PARENT] = old
        _depths(links, old, depth)
    links[node, FEATURE] = feature
    numbers[node, THRESHOLD] = threshold
    links[node, LEFT], links[node, RIGHT] = (old, fresh) if right else (fresh, old)
    return fresh


@nb.njit(inline="always")
def _child(links, numbers, node, dense):
    if dense[links[node, FEATURE]] <= numbers[node, THRESHOLD]:
        return links[node, LEFT]
    return links[node, RIGHT]


@nb.njit(inline="always")
def _log_sum_exp(a, b):
    top = max(a, b)
    return top + math.log(math.exp(a - top) + math.exp(b - top))


# The trees go down (and back up) their paths together, one node of each per round: a
# path is a chain of reads from memory, and the trees' chains then overlap in time.
DONE, DOWN, UP = 0, 1, 2


@nb.njit(inline="always")
def learn_forest(forest, dense, k, n_classes, settings, extensions, nodes, phase):
    """Every tree learns a point of class (or target) k: down its path (splitting where
    the Mondrian process says), then its subtrees' weights back up."""
    links, numbers, _counts, low, high, trees, _counters, _rng = forest
    moving = 0
    for t in range(len(trees)):
        nodes[t] = trees[t, ROOT]
        phase[t] = DOWN if trees[t, LEARNED] > 0 else DONE
        if phase[t] == DONE:
            _take(forest, nodes[t], dense, k, False, n_classes, settings)
        moving += phase[t] == DOWN
    while moving > 0:
        for t in range(len(trees)):
            if phase[t] != DOWN:
                continue
            node = nodes[t]
            extension = _extensions(low, high, node, dense, extensions)
            time = 0.0
            if trees[t, SIZE] + 2 <= settings[MAX_NODES]:
                time = _split_time(forest, node, dense, k, extension, settings)
            if time > 0.0:
                leaf = _split(forest, node, time, dense, extensions, extension)
                trees[t, SIZE] += 2
                _take(forest, node, dense, k, True, n_classes, settings)
                _take(forest, leaf, dense, k, False, n_classes, settings)
                nodes[t], phase[t] = leaf, UP
            else:
                _take(forest, node, dense, k, True, n_classes, settings)
                if links[node, LEFT] < 0:
                    phase[t] = UP
                else:
                    nodes[t] = _child(links, numbers, node, dense)
            moving -= phase[t] == UP
    if settings[AGGREGATE] > 0.0:
        _weigh_up(links, numbers, nodes, phase)
    for t in range(len(trees)):
        trees[t, LEARNED] += 1


@nb.njit(inline="always")
def _weigh_up(links, numbers, nodes, phase):
    """From each learning tree's last node up to its root: each node's subtree weight."""
    moving = 0
    for t in range(len(nodes)):
        moving += phase[t] == UP
    while moving > 0:
        for t in range(len(nodes)):
            if phase[t] != UP:
                continue
            node = nodes[t]
            if links[node, LEFT] < 0:
                numbers[node, TREE_WEIGHT] = numbers[node, WEIGHT]
            else:
                below = (
                    numbers[links[node, LEFT], TREE_WEIGHT]
                    + numbers[links[node, RIGHT], TREE_WEIGHT]
                )
                numbers[node, TREE_WEIGHT] = _log_sum_exp(numbers[node, WEIGHT], below)
            nodes[t] = links[node, PARENT]
            if nodes[t] < 0:
                phase[t] = DONE
                moving -= 1


@nb.njit(inline="always")
def predict_forest(forest, dense, n_classes, settings, nodes, scores, out):
    """The trees' mean class probabilities (a regression's prediction: ``n_classes`` 1)
    for a point, added into ``out``: each tree's leaf's, mixed on the way up with each
    node's by the weight of the node against its subtree (``scores``: per tree)."""
    links, numbers, counts, _low, _high, trees, _counters, _rng = forest
    n_trees = len(trees)
    for t in range(n_trees):
        nodes[t] = trees[t, ROOT]
    moving = True
    while moving:
        moving = False
        for t in range(n_trees):
            if links[nodes[t], LEFT] >= 0:
                nodes[t] = _child(links, numbers, nodes[t], dense)
                moving = True
    for t in range(n_trees):
        for k in range(n_classes):
            scores[t, k] = _node_score(counts, numbers, nodes[t], k, n_classes, settings)
        nodes[t] = links[nodes[t], PARENT]
    moving = settings[AGGREGATE] > 0.0
    while moving:
        moving = False
        for t in range(n_trees):
            node = nodes[t]
            if node < 0:
                continue
            moving = True
            w = 0.5 * math.exp(numbers[node, WEIGHT] - numbers[node, TREE_WEIGHT])
            for k in range(n_classes):
                score = _node_score(counts, numbers, node, k, n_classes, settings)
                scores[t, k] = w * score + (1.0 - w) * scores[t, k]
            nodes[t] = links[node, PARENT]
    for t in range(n_trees):
        for k in range(n_classes):
            out[k] += scores[t, k] / n_trees


@nb.njit(inline="always")
def _node_score(counts, numbers, node, k, n_classes, settings):
    """A node's probability of class k, or a regression node's mean."""
    if settings[REGRESSION] > 0.0:
        return counts[node, 0]
    return _score(counts, numbers, node, k, n_classes, settings[DIRICHLET])


@nb.njit(cache=True)
def run_mondrian_ops(rows, schedule, start, forest, sizes, settings, out):
    """A schedule over the forest: predict rows (``out``: the trees' mean probabilities,
    or predictions), learn them, or both in that order, from operation ``start``. Returns
    where it stopped: at the end, or before an operation that might need more nodes than
    there are. ``sizes``: the width of a node's statistics and the number of features."""
    ids, values = rows
    ops, op_rows, targets = schedule
    n_classes, n_features = sizes
    links, counters, trees = forest[0], forest[6], forest[5]
    n_trees = len(trees)
    dense = np.zeros(n_features)
    extensions = np.zeros(n_features)
    scores = np.zeros((n_trees, max(n_classes, 1)))
    nodes = np.zeros(n_trees, np.int64)
    phase = np.zeros(n_trees, np.int64)
    for i in range(start, len(ops)):
        if counters[N_USED] + 2 * n_trees > len(links):
            return i
        row = op_rows[i]
        scatter(ids[row], values[row], dense, True)
        known = 1 if settings[REGRESSION] > 0.0 else counters[N_CLASSES]
        if ops[i] != 1 and known > 0:
            predict_forest(forest, dense, known, settings, nodes, scores, out[i])
        if ops[i] != 0:
            y = targets[i]
            if settings[REGRESSION] == 0.0:
                counters[N_CLASSES] = max(known, int(y) + 1)
            n_known = counters[N_CLASSES]
            learn_forest(forest, dense, y, n_known, settings, extensions, nodes, phase)
            counters[N_LEARNED] += 1
        scatter(ids[row], values[row], dense, False)
    return len(ops)
