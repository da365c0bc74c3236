"""The arrays of a tree (or of a forest's trees, which share one pool), grown between
compiled calls."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from streamlearn.models.feature_ids import capacity, grown
from streamlearn.models.tree.kernel import (
    DEPTH,
    FEATURE,
    LEAF_FIELDS,
    LEFT,
    N_FREE,
    N_NODES,
    RIGHT,
    SLOT,
    new_leaf,
)

_STATISTICS = ("counts", "seen", "leaves", "observers")
_ARRAYS = ("nodes", "thresholds", *_STATISTICS, "free", "counters", "rng", "roots")
DEAD = -2  # the feature of a node of a tree that was dropped (until the pool is compacted)


class TreeArrays:
    """Nodes, leaf slots and observers of one tree or of a forest's trees (a pool they share:
    ``roots`` names each tree's root node, -1 for none). A classifier's observers hold one
    row per class; with ``bins``, a regressor's hold that many rows per feature.

    Parameters
    ----------
    n_roots
        The trees in the pool.
    seed
        Seeds the pool's random numbers.
    bins
        A regressor's bins per leaf and feature (0: a classifier's).

    Example
    -------
    >>> TreeArrays(n_roots=2).roots.tolist()
    [-1, -1]
    """

    def __init__(self, n_roots: int = 1, seed: int = 0, bins: int = 0) -> None:
        slots = 4
        self.bins = int(bins)
        self.nodes = np.full((slots, 5), -1, np.int64)
        self.thresholds = np.zeros(slots)
        self.counts = np.zeros((slots, 1))
        self.seen = np.zeros((slots, 1))
        self.leaves = np.zeros((slots, LEAF_FIELDS))
        self.observers = np.zeros((slots, 1, max(self.bins, 1), 5))
        self.free = np.arange(slots - 1, -1, -1).astype(np.int64)
        self.counters = np.array([0, slots, 0, 0], np.int64)
        self.rng = np.array([seed], np.uint64)
        self.roots = np.full(n_roots, -1, np.int64)
        self.n_classes = 0
        self.n_features = 0
        self.max_slots = self.max_nodes = self.max_features = 1 << 62

    def limit(self, max_slots: int, max_nodes: int, max_features: int) -> None:
        """The most leaf slots, nodes and features its arrays grow to (what its learner's
        size cap needs at most); more only if a caller asks for more room than that."""
        self.max_slots, self.max_nodes = int(max_slots), int(max_nodes)
        self.max_features = int(max_features)

    def max_nbytes(self) -> int:
        """The most bytes its arrays can take, for the classes it has room for now."""
        per_slot = self.counts.shape[1] * 2 + LEAF_FIELDS + 1  # counts, seen, leaves, free
        per_slot += min(self.max_features, self.observers.shape[1]) * self.observers[0, 0].size
        per_node = self.nodes.shape[1] + 1  # and its threshold
        rest = self.counters.size + self.rng.size + self.roots.size
        return 8 * (self.max_slots * per_slot + self.max_nodes * per_node + rest)

    @property
    def parts(self) -> tuple:
        """The arrays the kernels take, as one tuple."""
        return (
            self.nodes,
            self.thresholds,
            self.counts,
            self.seen,
            self.leaves,
            self.observers,
            self.free,
            self.counters,
            self.rng,
        )

    def plant(self, tree: int) -> None:
        """A new, empty tree (one leaf) as tree ``tree``."""
        self.grow(1)
        weights = np.zeros(max(self.counts.shape[1], 1))
        self.roots[tree] = new_leaf(self.parts, 0, weights, 0)

    # ------------------------------------------------------------------ growth
    def fit(self, n_classes: int, n_features: int) -> None:
        """Room for this many classes and features (capacity doubles)."""
        self.n_classes, self.n_features = n_classes, n_features
        k, f = self.counts.shape[1], self.observers.shape[1]
        if n_classes > k or n_features > f:
            k = max(k, capacity(n_classes))
            f = max(f, min(capacity(n_features), max(self.max_features, n_features)))
            self.counts = grown(self.counts, (len(self.counts), k))
            self.seen = grown(self.seen, (len(self.seen), k))
            rows = self.observer_rows(k)
            self.observers = grown(self.observers, (len(self.observers), f, rows, 5))

    def observer_rows(self, n_classes: int) -> int:
        """Rows of statistics per leaf and feature."""
        return self.bins or n_classes

    def grow(self, splits: int = 1) -> None:
        """Room for ``splits`` more splits: two nodes and one leaf slot each (capacity
        doubles)."""
        if self.counters[N_NODES] + 2 * splits > len(self.nodes):
            needed = int(self.counters[N_NODES]) + 2 * splits
            size = max(min(2 * len(self.nodes), self.max_nodes), needed)
            self.nodes = grown(self.nodes, (size, 5), fill=-1)
            self.thresholds = grown(self.thresholds, (size,))
        if self.counters[N_FREE] < splits:
            slots = len(self.counts)
            size = max(min(2 * slots, self.max_slots), slots + splits - int(self.counters[N_FREE]))
            self.counts = grown(self.counts, (size, self.counts.shape[1]))
            self.seen = grown(self.seen, (size, self.seen.shape[1]))
            self.leaves = grown(self.leaves, (size, LEAF_FIELDS))
            self.observers = grown(self.observers, (size, *self.observers.shape[1:]))
            n_free = int(self.counters[N_FREE])
            new = np.arange(size - 1, slots - 1, -1)
            free = np.zeros(size, np.int64)
            free[: len(new)] = new
            free[len(new) : len(new) + n_free] = self.free[:n_free]
            self.free = free
            self.counters[N_FREE] = n_free + len(new)

    # ------------------------------------------------------------------ state
    def arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        """The arrays by name: the classes and features in use; every node and slot (how
        many there is room for decides when a forest compacts its pool)."""
        k, f = self.n_classes, self.n_features
        arrays = {
            "nodes": self.nodes,
            "thresholds": self.thresholds,
            "counts": self.counts[:, :k],
            "seen": self.seen[:, :k],
            "leaves": self.leaves,
            "observers": self.observers[:, :f, : self.observer_rows(k)],
            "free": self.free[: int(self.counters[N_FREE])],
            "counters": self.counters,
            "rng": self.rng,
            "roots": self.roots,
        }
        return {prefix + name: array.copy() for name, array in arrays.items()}

    @classmethod
    def from_arrays(
        cls,
        arrays: Mapping[str, Any],
        n_roots: int,
        n_classes: int,
        n_features: int,
        prefix: str = "",
        bins: int = 0,
    ) -> TreeArrays:
        """Arrays of :meth:`arrays`, checked so that no kernel can read out of bounds."""
        get = {name: np.asarray(arrays[prefix + name]) for name in _ARRAYS}
        counters = get["counters"].astype(np.int64)
        nodes = get["nodes"].astype(np.int64)
        slots = len(get["leaves"])
        if counters.shape != (4,) or nodes.ndim != 2 or nodes.shape[1] != 5:
            raise ValueError("tree state: malformed counters or nodes")
        used, n_free = int(counters[N_NODES]), int(counters[N_FREE])
        if not (0 <= used <= len(nodes) and 0 <= n_free <= slots):
            raise ValueError("tree state: node or slot counts out of range")
        shapes = {
            "thresholds": (len(nodes),),
            "counts": (slots, n_classes),
            "seen": (slots, n_classes),
            "leaves": (slots, LEAF_FIELDS),
            "observers": (slots, n_features, bins or n_classes, 5),
            "free": (n_free,),
            "rng": (1,),
            "roots": (n_roots,),
        }
        for name, shape in shapes.items():
            if get[name].shape != shape:
                raise ValueError(f"tree state: {name} has shape {get[name].shape}, not {shape}")
        roots = get["roots"].astype(np.int64)
        _check_links(nodes[:used], roots, get["free"], slots)
        floats = [get[name].astype(np.float64) for name in ("thresholds", *_STATISTICS)]
        if not all(np.isfinite(a).all() for a in floats):
            raise ValueError("tree state: non-finite statistics")
        tree = cls(n_roots, bins=bins)
        tree.nodes = nodes.copy()
        tree.nodes[used:] = -1
        tree.thresholds = floats[0]
        tree.counts, tree.seen, tree.leaves, tree.observers = floats[1:]
        tree.free = grown(get["free"].astype(np.int64), (slots,))
        tree.counters = counters.copy()
        tree.rng = get["rng"].astype(np.uint64).copy()
        tree.roots = roots.copy()
        tree.fit(max(n_classes, 1), max(n_features, 1))
        tree.n_classes, tree.n_features = n_classes, n_features
        return tree

    def leaf_count(self, tree: int = 0) -> int:
        """Leaves of tree ``tree``."""
        count, stack = 0, [int(self.roots[tree])]
        while stack:
            node = stack.pop()
            if node < 0:
                continue
            if self.nodes[node, FEATURE] < 0:
                count += 1
            else:
                stack += [int(self.nodes[node, LEFT]), int(self.nodes[node, RIGHT])]
        return count

    def nbytes(self) -> int:
        """Bytes the arrays take, spare capacity included."""
        return sum(array.nbytes for array in (*self.parts, self.roots))


def _check_links(nodes: np.ndarray, roots: np.ndarray, free: np.ndarray, slots: int) -> None:
    """Children point forward to nodes in use; each leaf has its own slot, never a free one;
    roots are nodes (or -1)."""
    used = len(nodes)
    kind = nodes[:, FEATURE]
    if (kind < DEAD).any() or ((roots < -1) | (roots >= used)).any():
        raise ValueError("tree state: a node of no kind, or a root out of range")
    inner = kind >= 0
    children = nodes[inner][:, [LEFT, RIGHT]]
    own = np.arange(used)[inner][:, None]
    if ((children <= own) | (children >= used)).any():
        raise ValueError("tree state: a child link out of order")
    leaf_slots = nodes[kind == -1, SLOT]
    taken = np.concatenate([leaf_slots, free])
    if ((taken < 0) | (taken >= slots)).any() or len(np.unique(taken)) != len(taken):
        raise ValueError("tree state: leaf slots out of range or shared")
    if (nodes[:, DEPTH] < -1).any():
        raise ValueError("tree state: negative depth")
