"""The join store in memory (the default): a dict of ids to entries and blocks of rows."""

from __future__ import annotations

from typing import Any

import numpy as np

from streamlearn.runner.join.base import (
    JoinStore,
    Rows,
    Taken,
    check_ids,
    empty_taken,
    rows_in_order,
)


class MemoryJoinStore(JoinStore):
    """Entries in memory, in blocks as they were served; checkpoints carry them. The default
    store of a run. Takes no parameters.

    Example
    -------
    Elec2 with every label 500 events late:

    >>> from streamlearn.runner import MemoryJoinStore
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.models import LogisticRegression
    >>> from streamlearn.runner import Runner
    >>> from streamlearn.streams import FileEvents
    >>> events = FileEvents(elec2.path(), "target")
    >>> store = MemoryJoinStore()
    >>> summary = Runner(LogisticRegression(bits=16), events, delay=500, join=store).run()
    >>> summary.learned, round(summary.metrics["accuracy"], 3)
    (45312, 0.763)
    """

    def __init__(self) -> None:
        self._index: dict[Any, tuple[int, int]] = {}
        self._blocks: dict[int, dict[str, Any]] = {}
        self._next_block = 0
        self._class_rows = False  # whether predictions are rows of class probabilities

    def __len__(self) -> int:
        return len(self._index)

    def put(self, ids, rows, predictions, deadlines, offsets, version) -> None:
        ids = check_ids(ids)
        if not ids:
            return
        block = self._next_block
        self._next_block += 1
        # Per row: offset served at, deadline, prediction (one number, or a row of class
        # probabilities); offsets are exact in float64.
        predictions = np.asarray(predictions, np.float64)
        self._class_rows = predictions.ndim == 2
        numbers = np.column_stack(
            [
                np.asarray(offsets, np.float64),
                np.asarray(deadlines, np.float64),
                predictions.reshape(len(ids), -1),
            ]
        )
        self._blocks[block] = {
            "rows": rows,
            "numbers": numbers,
            "version": version,
            "alive": len(ids),
        }
        index = self._index
        for row, event_id in enumerate(ids):
            old = index.get(event_id)
            if old is not None:
                self._release(old[0])
            index[event_id] = (block, row)

    def _release(self, block: int, count: int = 1) -> None:
        entry = self._blocks[block]
        entry["alive"] -= count
        if entry["alive"] == 0:
            del self._blocks[block]

    def take(self, ids, at_offset) -> Taken:
        ids = check_ids(ids)
        pop = self._index.pop
        places = [pop(event_id, None) for event_id in ids]
        return self._gather(places)

    def _gather(self, places: list[tuple[int, int] | None]) -> Taken:
        found = np.array([p is not None for p in places], bool)
        hits = [p for p in places if p is not None]
        if not hits:
            return empty_taken(len(found))
        blocks = np.array([p[0] for p in hits])
        rows, versions, numbers = rows_in_order(
            blocks, np.array([p[1] for p in hits]), self._lookup
        )
        for block, count in zip(*np.unique(blocks, return_counts=True), strict=True):
            self._release(int(block), int(count))
        predictions = numbers[:, 2:] if self._class_rows else numbers[:, 2]
        return Taken(
            found, rows, predictions, numbers[:, 0].astype(np.int64), versions, numbers[:, 1]
        )

    def _lookup(self, block: int) -> tuple[Rows, str, np.ndarray]:
        entry = self._blocks[block]
        return entry["rows"], entry["version"], entry["numbers"]

    def take_expired(self, before, at_offset):
        expired = []
        for block, entry in self._blocks.items():
            late = np.flatnonzero(entry["numbers"][:, 1] < before)
            if len(late):
                expired.extend((block, int(row)) for row in late)
        if not expired:
            return [], empty_taken()
        wanted = set(expired)
        ids = [event_id for event_id, place in self._index.items() if place in wanted]
        return ids, self.take(ids, at_offset)

    def checkpoint_arrays(self, offset: int) -> dict[str, np.ndarray]:
        ids = list(self._index)
        taken = self._peek(ids)
        kind = "int" if all(isinstance(i, int) for i in ids) else "str"
        return {
            "ids": np.array(ids, dtype=np.int64 if kind == "int" else str),
            "hashes": taken.rows.hashes,
            "values": taken.rows.values,
            "predictions": taken.predictions,
            "offsets": taken.served_offsets,
            "deadlines": taken.deadlines,
            "versions": np.array(taken.versions, dtype=str),
        }

    def _peek(self, ids: list[Any]) -> Taken:
        """The entries of ``ids`` without removing them."""
        index = dict(self._index)
        blocks = {k: dict(v) for k, v in self._blocks.items()}
        taken = self.take(ids, 0)
        self._index, self._blocks = index, blocks
        return taken

    def restore(self, arrays, offset) -> None:
        self.__init__()
        if not arrays or len(arrays["ids"]) == 0:
            return
        ids = arrays["ids"].tolist()
        versions = arrays["versions"].tolist()
        rows = Rows(arrays["hashes"], arrays["values"])
        for version in dict.fromkeys(versions):
            mask = np.array([v == version for v in versions])
            self.put(
                [i for i, m in zip(ids, mask, strict=True) if m],
                rows.take(mask),
                arrays["predictions"][mask],
                arrays["deadlines"][mask],
                arrays["offsets"][mask],
                version,
            )
