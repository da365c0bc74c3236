"""Records the compiled kernels take: encoded rows, a runner schedule, a tree's rows and sizes.

A kernel reads the arrays of a record by name (``rows.hashes``), so its signature names what
it works on rather than listing a dozen arrays in an order every caller must repeat. Numba
compiles a function over a named tuple of arrays as over the arrays themselves.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Rows(NamedTuple):
    """Encoded rows, one per event, padded to one width.

    Parameters
    ----------
    hashes
        ``(n, width)`` feature hashes.
    values
        ``(n, width)`` their values; 0 marks padding (and a feature that is absent).

    Example
    -------
    >>> import numpy as np
    >>> rows = Rows(np.array([[3, 7]], np.uint64), np.array([[1.0, 0.0]]))
    >>> rows.hashes.shape, float(rows.values.sum())
    ((1, 2), 1.0)
    """

    hashes: np.ndarray
    values: np.ndarray


class Schedule(NamedTuple):
    """A runner schedule: operations in order, each on one served row.

    Parameters
    ----------
    ops
        Each operation's code: ``PREDICT``, ``LEARN`` or ``PREDICT_LEARN``.
    rows
        The row of :class:`Rows` each operation reads.
    targets
        The label each ``LEARN`` learns (ignored by ``PREDICT``).

    Example
    -------
    >>> import numpy as np
    >>> from streamlearn.base import LEARN, PREDICT
    >>> schedule = Schedule(
    ...     np.array([PREDICT, LEARN], np.int8), np.array([0, 0]), np.array([0.0, 1.0])
    ... )
    >>> len(schedule.ops), float(schedule.targets[1])
    (2, 1.0)
    """

    ops: np.ndarray
    rows: np.ndarray
    targets: np.ndarray


class SparseRows(NamedTuple):
    """Rows as the trees read them: feature ids (``-1``: nothing) and their values.

    Parameters
    ----------
    ids
        ``(n, width)`` feature ids.
    values
        ``(n, width)`` their values.

    Example
    -------
    >>> import numpy as np
    >>> rows = SparseRows(np.array([[0, -1]]), np.array([[2.5, 0.0]]))
    >>> float(rows.values[0, 0])
    2.5
    """

    ids: np.ndarray
    values: np.ndarray


class Sizes(NamedTuple):
    """How many classes and features a tree's arrays have room for.

    Parameters
    ----------
    n_classes
        Classes numbered so far.
    n_features
        Features numbered so far.

    Example
    -------
    >>> Sizes(n_classes=2, n_features=8).n_features
    8
    """

    n_classes: int
    n_features: int
