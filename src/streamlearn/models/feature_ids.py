"""Hashed features numbered as dense feature ids, for the learners whose kernels read rows
of ids (trees, forests, neighbours, naive Bayes), and the growing of their arrays."""

from __future__ import annotations

import numpy as np


class FeatureIds:
    """Hashed features numbered in order of first learning, at most ``limit`` of them (a
    feature beyond that is not seen by the tree: its memory stays bounded).

    Parameters
    ----------
    limit
        The most features numbered.
    hashes
        The hashes numbered already, in order (a snapshot's).

    Example
    -------
    >>> ids = FeatureIds(limit=2)
    >>> ids.number(np.array([[7, 9], [9, 4]], np.uint32)).tolist()
    [[0, 1], [1, -1]]
    >>> ids.lookup(np.array([[4, 7, 0]], np.uint32)).tolist()
    [[-1, 0, -1]]
    """

    def __init__(self, limit: int, hashes: np.ndarray | None = None) -> None:
        if not 1 <= int(limit) <= 1 << 20:
            raise ValueError(f"feature_cap must be between 1 and {1 << 20}, got {limit!r}")
        self.limit = int(limit)
        self.hashes = np.zeros(0, np.uint32) if hashes is None else hashes.astype(np.uint32)
        if len(self.hashes) > self.limit or len(np.unique(self.hashes)) != len(self.hashes):
            raise ValueError("feature hashes: more than feature_cap, or repeated")
        self._index()

    def __len__(self) -> int:
        return len(self.hashes)

    def _index(self) -> None:
        self._order = np.argsort(self.hashes, kind="stable")
        self._sorted = self.hashes[self._order]

    def lookup(self, hashes: np.ndarray) -> np.ndarray:
        """Each hash's feature id; -1 for none (0) and for a hash not numbered."""
        if not len(self._sorted):
            return np.full(hashes.shape, -1, np.int64)
        at = np.minimum(np.searchsorted(self._sorted, hashes), len(self._sorted) - 1)
        found = (self._sorted[at] == hashes) & (hashes != 0)
        return np.where(found, self._order[at], -1).astype(np.int64)

    def number(self, hashes: np.ndarray) -> np.ndarray:
        """Like :meth:`lookup`, numbering new hashes first, row by row (while room lasts)."""
        ids = self.lookup(hashes)
        room = self.limit - len(self.hashes)
        if room > 0:
            flat = hashes.ravel()[(ids.ravel() < 0) & (hashes.ravel() != 0)]
            if len(flat):
                new, first = np.unique(flat, return_index=True)
                self.hashes = np.concatenate([self.hashes, new[np.argsort(first)][:room]])
                self._index()
                ids = self.lookup(hashes)
        return ids


def capacity(n: int) -> int:
    """Room for ``n``: the next power of two (at least 1)."""
    return max(1, 1 << max(int(n) - 1, 0).bit_length())


def grown(array: np.ndarray, shape: tuple, fill: float = 0) -> np.ndarray:
    """``array`` in a larger one of ``shape`` (the rest ``fill``)."""
    out = np.full(shape, fill, array.dtype)
    out[tuple(slice(0, s) for s in array.shape)] = array
    return out
