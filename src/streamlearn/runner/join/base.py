"""What a join store holds and does: rows as served, what a take returns, the store's
contract, and helpers the stores share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from streamlearn.base.predictions import stack_predictions
from streamlearn.streams.batch import Rows

ID_KINDS = (int, str)


@dataclass
class Taken:
    """What :meth:`JoinStore.take` found.

    Parameters
    ----------
    found
        For each id asked, whether an entry waited for it.
    rows
        The found entries' rows as served, in the order asked.
    predictions
        The predictions they were served with.
    served_offsets
        Their offsets in the stream.
    versions
        The model version that served each.
    deadlines
        When each would have expired.

    Example
    -------
    >>> from streamlearn.runner.join import MemoryJoinStore
    >>> from streamlearn.streams.batch import Rows
    >>> store = MemoryJoinStore()
    >>> rows = Rows(np.zeros((2, 1), np.uint32), np.ones((2, 1)))
    >>> store.put(["a", "b"], rows, np.array([0.2, 0.9]), np.array([10.0, 10.0]), [1, 2], "v1")
    >>> taken = store.take(["b", "c"], at_offset=3)
    >>> taken.found.tolist(), taken.predictions.tolist(), taken.versions
    ([True, False], [0.9], ['v1'])
    """

    found: np.ndarray
    rows: Rows
    predictions: np.ndarray
    served_offsets: np.ndarray
    versions: list[str]
    deadlines: np.ndarray


class JoinStoreMismatch(ValueError):
    """The store does not hold what a checkpoint says it held (its file was deleted or
    replaced), or it no longer keeps what restoring that checkpoint needs.

    Example
    -------
    >>> issubclass(JoinStoreMismatch, ValueError)
    True
    """


class JoinStore(ABC):
    """Served events waiting for their labels.

    Example
    -------
    >>> from streamlearn.runner.join import MemoryJoinStore
    >>> from streamlearn.streams.batch import Rows
    >>> store = MemoryJoinStore()
    >>> rows = Rows(np.zeros((2, 1), np.uint32), np.ones((2, 1)))
    >>> store.put(["a", "b"], rows, np.array([0.2, 0.9]), np.array([10.0, 10.0]), [1, 2], "v1")
    >>> isinstance(store, JoinStore), store.take(["a"], at_offset=3).predictions.tolist()
    (True, [0.2])
    """

    @abstractmethod
    def put(
        self,
        ids: Sequence[Any],
        rows: Rows,
        predictions: np.ndarray,
        deadlines: np.ndarray,
        offsets: Sequence[int],
        version: str,
    ) -> None:
        """Add served events (an id served again replaces its entry)."""

    @abstractmethod
    def take(self, ids: Sequence[Any], at_offset: int) -> Taken:
        """Remove and return the entries of ``ids`` (missing ones: not found)."""

    @abstractmethod
    def take_expired(self, before: float, at_offset: int) -> tuple[list[Any], Taken]:
        """Remove and return every entry whose deadline is earlier than ``before``."""

    @abstractmethod
    def __len__(self) -> int: ...

    def checkpoint_arrays(self, offset: int) -> dict[str, np.ndarray]:
        """Make the store consistent with a checkpoint at ``offset``; returns the arrays
        the checkpoint must hold for :meth:`restore` (none for a durable store)."""
        return {}

    def restorable_from(self, offset: int) -> None:  # noqa: B027 - only durable stores prune
        """Restores may return to any saved checkpoint at ``offset`` or later: what only
        older checkpoints needed may go from the next checkpoint on."""

    def reset(self) -> None:
        """Forget everything: a fresh run starts (nothing the store holds belongs to it)."""
        self.restore({}, 0)

    @abstractmethod
    def restore(self, arrays: dict[str, np.ndarray], offset: int) -> None:
        """Return to the state of the checkpoint at ``offset``."""

    def close(self) -> None:  # noqa: B027 - most stores hold nothing to release
        """Release files or connections."""

    def put_back(self, taken: Taken, picked: np.ndarray) -> None:
        """Put back the ``picked`` entries of what :meth:`take` returned (a schedule that
        stopped early did not learn them), each under the version that served it."""
        for version in dict.fromkeys(taken.versions[i] for i in picked):
            mine = np.array([i for i in picked if taken.versions[i] == version])
            self.put(
                taken.ids[mine],
                taken.rows.take(mine),
                taken.predictions[mine],
                taken.deadlines[mine],
                taken.served_offsets[mine],
                version,
            )


def check_ids(ids: Sequence[Any]) -> list[Any]:
    out = ids.tolist() if isinstance(ids, np.ndarray) else list(ids)
    for value in out[:1]:
        if not isinstance(value, ID_KINDS):
            raise TypeError(f"event ids are ints or strings, got {type(value).__name__}")
    return out


def concat_taken(first: Taken, second: Taken, order: np.ndarray | None = None) -> Taken:
    """Two answers as one (the found entries optionally put in ``order``)."""
    found = np.concatenate([first.found, second.found])
    if not len(second.predictions):
        return Taken(
            found,
            first.rows,
            first.predictions,
            first.served_offsets,
            first.versions,
            first.deadlines,
        )
    order = np.arange(len(first.predictions) + len(second.predictions)) if order is None else order
    return Taken(
        found,
        Rows.stack([first.rows, second.rows]).take(order),
        stack_predictions([first.predictions, second.predictions])[order],
        np.concatenate([first.served_offsets, second.served_offsets])[order],
        np.array(first.versions + second.versions, dtype=object)[order].tolist(),
        np.concatenate([first.deadlines, second.deadlines])[order],
    )


def merge_taken(first: Taken, second: Taken) -> Taken:
    """``first`` answered every asked id; ``second`` the ones ``first`` did not find, in the
    same order. One answer, in the asked order."""
    missing = np.flatnonzero(~first.found)
    places = np.concatenate([np.flatnonzero(first.found), missing[second.found]])
    merged = concat_taken(first, second, np.argsort(places, kind="stable"))
    merged.found = first.found.copy()
    merged.found[missing[second.found]] = True
    return merged


def rows_in_order(blocks: np.ndarray, rows: np.ndarray, lookup) -> tuple[Rows, list[str]]:
    """Rows ``rows[i]`` of blocks ``blocks[i]``, gathered one block at a time, in the order
    asked. ``lookup(block)`` gives (Rows, version, per-row numbers or None); returns the rows,
    each row's version and numbers (None if the blocks have none)."""
    order = np.argsort(blocks, kind="stable")
    bounds = np.flatnonzero(np.diff(blocks[order])) + 1
    parts, numbers, versions = [], [], np.empty(len(blocks), object)
    for group in np.split(order, bounds):
        block_rows, version, block_numbers = lookup(int(blocks[group[0]]))
        parts.append(block_rows.take(rows[group]))
        if block_numbers is not None:
            numbers.append(block_numbers[rows[group]])
        versions[group] = version
    inverse = np.empty(len(blocks), np.int64)
    inverse[order] = np.arange(len(blocks))
    gathered = stack_predictions(numbers)[inverse] if numbers else None
    return Rows.stack(parts).take(inverse), versions.tolist(), gathered


def empty_taken(n_asked: int = 0) -> Taken:
    return Taken(
        np.zeros(n_asked, bool),
        Rows(np.zeros((0, 0), np.uint32), np.zeros((0, 0))),
        np.zeros(0),
        np.zeros(0, np.int64),
        [],
        np.zeros(0),
    )
