"""The label join: served events wait here, keyed by event id, until their label arrives.

An entry holds the features *as served* (the encoded row the model predicted from: hashed
features and scaled values), the prediction and the model version that made it, the offset
it was served at and its deadline. A label learns from that row, so the model never trains
on features that changed after serving (no train/serve skew, no leakage).

Two stores:

- :class:`MemoryJoinStore`: a dict over blocks of rows; its pending entries go into each
  checkpoint (arrays), so a restart restores them exactly.
- :class:`SQLiteJoinStore` (the embedded default of a service): rows in a SQLite file, so a
  long label delay (days) does not have to fit in memory or in a snapshot. It commits before
  each checkpoint and keeps, per entry, the offset it was served at and the offset its label
  was taken at; restoring to a checkpoint's offset drops what was served after it and puts
  back what was taken after it, so the store matches the snapshot exactly.

>>> import numpy as np
>>> store = MemoryJoinStore()
>>> rows = Rows(np.array([[7, 9], [3, 0]], np.uint32), np.array([[1.0, 0.5], [1.0, 0.0]]))
>>> store.put([10, 11], rows, np.array([0.8, 0.3]), np.array([100.0, 101.0]), [5, 6], "v1")
>>> taken = store.take([11, 12], at_offset=20)
>>> taken.found.tolist(), taken.predictions.tolist(), len(store)
([True, False], [0.3], 1)
"""

from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ID_KINDS = (int, str)


@dataclass
class Rows:
    """Encoded rows as served: 32-bit feature hashes and values, (rows, slots)."""

    hashes: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.hashes)

    def take(self, index: np.ndarray) -> Rows:
        return Rows(self.hashes[index], self.values[index])

    @staticmethod
    def stack(parts: Sequence[Rows]) -> Rows:
        """One block of rows; fewer slots are padded with value 0 (which the kernels skip)."""
        width = max((p.hashes.shape[1] for p in parts), default=0)
        n = sum(len(p) for p in parts)
        hashes = np.zeros((n, width), np.uint32)
        values = np.zeros((n, width))
        at = 0
        for p in parts:
            hashes[at : at + len(p), : p.hashes.shape[1]] = p.hashes
            values[at : at + len(p), : p.values.shape[1]] = p.values
            at += len(p)
        return Rows(hashes, values)


@dataclass
class Taken:
    """What :meth:`JoinStore.take` found: ``found[i]`` for each asked id; rows, predictions,
    versions and offsets of the found ones, in the order asked."""

    found: np.ndarray
    rows: Rows
    predictions: np.ndarray
    served_offsets: np.ndarray
    versions: list[str]
    deadlines: np.ndarray


class JoinStore(ABC):
    """Served events waiting for their labels."""

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

    def saved(self, offset: int) -> None:  # noqa: B027 - only durable stores prune
        """The checkpoint at ``offset`` is saved (a snapshot that failed to save is not):
        what only older checkpoints needed may go from now on."""

    @abstractmethod
    def restore(self, arrays: dict[str, np.ndarray], offset: int) -> None:
        """Return to the state of the checkpoint at ``offset``."""

    def close(self) -> None:  # noqa: B027 - most stores hold nothing to release
        """Release files or connections."""


def _check_ids(ids: Sequence[Any]) -> list[Any]:
    out = ids.tolist() if isinstance(ids, np.ndarray) else list(ids)
    for value in out[:1]:
        if not isinstance(value, ID_KINDS):
            raise TypeError(f"event ids are ints or strings, got {type(value).__name__}")
    return out


class MemoryJoinStore(JoinStore):
    """Entries in memory, in blocks as they were served; checkpoints carry them."""

    def __init__(self) -> None:
        self._index: dict[Any, tuple[int, int]] = {}
        self._blocks: dict[int, dict[str, Any]] = {}
        self._next_block = 0

    def __len__(self) -> int:
        return len(self._index)

    def put(self, ids, rows, predictions, deadlines, offsets, version) -> None:
        ids = _check_ids(ids)
        if not ids:
            return
        block = self._next_block
        self._next_block += 1
        # Per row: prediction, offset served at, deadline (offsets are exact in float64).
        numbers = np.column_stack(
            [
                np.asarray(predictions, np.float64),
                np.asarray(offsets, np.float64),
                np.asarray(deadlines, np.float64),
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
        ids = _check_ids(ids)
        pop = self._index.pop
        places = [pop(event_id, None) for event_id in ids]
        return self._gather(places)

    def _gather(self, places: list[tuple[int, int] | None]) -> Taken:
        found = np.array([p is not None for p in places], bool)
        hits = [p for p in places if p is not None]
        if not hits:
            return _empty_taken(len(found))
        blocks = np.array([p[0] for p in hits])
        rows, versions, numbers = rows_in_order(
            blocks, np.array([p[1] for p in hits]), self._lookup
        )
        for block, count in zip(*np.unique(blocks, return_counts=True), strict=True):
            self._release(int(block), int(count))
        return Taken(
            found, rows, numbers[:, 0], numbers[:, 1].astype(np.int64), versions, numbers[:, 2]
        )

    def _lookup(self, block: int) -> tuple[Rows, str, np.ndarray]:
        entry = self._blocks[block]
        return entry["rows"], entry["version"], entry["numbers"]

    def take_expired(self, before, at_offset):
        expired = []
        for block, entry in self._blocks.items():
            late = np.flatnonzero(entry["numbers"][:, 2] < before)
            if len(late):
                expired.extend((block, int(row)) for row in late)
        if not expired:
            return [], _empty_taken()
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


def _concat_taken(first: Taken, second: Taken, order: np.ndarray | None = None) -> Taken:
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
        np.concatenate([first.predictions, second.predictions])[order],
        np.concatenate([first.served_offsets, second.served_offsets])[order],
        np.array(first.versions + second.versions, dtype=object)[order].tolist(),
        np.concatenate([first.deadlines, second.deadlines])[order],
    )


def _merge_taken(first: Taken, second: Taken) -> Taken:
    """``first`` answered every asked id; ``second`` the ones ``first`` did not find, in the
    same order. One answer, in the asked order."""
    missing = np.flatnonzero(~first.found)
    places = np.concatenate([np.flatnonzero(first.found), missing[second.found]])
    merged = _concat_taken(first, second, np.argsort(places, kind="stable"))
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
    gathered = np.concatenate(numbers)[inverse] if numbers else None
    return Rows.stack(parts).take(inverse), versions.tolist(), gathered


def _empty_taken(n_asked: int = 0) -> Taken:
    return Taken(
        np.zeros(n_asked, bool),
        Rows(np.zeros((0, 0), np.uint32), np.zeros((0, 0))),
        np.zeros(0),
        np.zeros(0, np.int64),
        [],
        np.zeros(0),
    )


class SQLiteJoinStore(JoinStore):
    """Entries in a SQLite file (WAL); durable at checkpoints, see the module doc.

    Entries served since the last checkpoint wait in memory in front of the file: most
    labels come within a checkpoint interval and never touch SQLite. At a checkpoint those
    still waiting are written, in the same transaction that is committed then.
    """

    CHUNK = 900  # ids per statement (SQLite's limit on parameters is 999 by default)

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One thread at a time uses it (the trainer), but not always the one that opened it.
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS blocks (block INTEGER PRIMARY KEY, served INTEGER,
                version TEXT, slots INTEGER, hashes BLOB, vals BLOB);
            CREATE TABLE IF NOT EXISTS entries (id PRIMARY KEY, block INTEGER, row INTEGER,
                prediction REAL, deadline REAL, served INTEGER, taken INTEGER);
            CREATE INDEX IF NOT EXISTS by_deadline ON entries (deadline) WHERE taken IS NULL;
            """
        )
        self._db.execute("BEGIN")
        self._cache: dict[int, tuple[Rows, str]] = {}
        self._durable_offset: int | None = None
        self._front = MemoryJoinStore()

    def __len__(self) -> int:
        stored = self._db.execute("SELECT COUNT(*) FROM entries WHERE taken IS NULL").fetchone()
        return len(self._front) + stored[0]

    def put(self, ids, rows, predictions, deadlines, offsets, version) -> None:
        self._front.put(ids, rows, predictions, deadlines, offsets, version)

    def _write(self, ids, rows, predictions, deadlines, offsets, version) -> None:
        if not len(ids):
            return
        cur = self._db.execute(
            "INSERT INTO blocks (served, version, slots, hashes, vals) VALUES (?, ?, ?, ?, ?)",
            (
                int(np.max(offsets)),
                version,
                rows.hashes.shape[1],
                np.ascontiguousarray(rows.hashes).tobytes(),
                np.ascontiguousarray(rows.values).tobytes(),
            ),
        )
        block = cur.lastrowid
        self._cache[block] = (rows, version)
        self._db.executemany(
            "INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?, ?, NULL)",
            zip(
                ids,
                [block] * len(ids),
                range(len(ids)),
                np.asarray(predictions).tolist(),
                np.asarray(deadlines, np.float64).tolist(),
                np.asarray(offsets).tolist(),
                strict=True,
            ),
        )

    def _block(self, block: int) -> tuple[Rows, str, None]:
        if block not in self._cache:
            version, slots, hashes, vals = self._db.execute(
                "SELECT version, slots, hashes, vals FROM blocks WHERE block = ?", (block,)
            ).fetchone()
            rows = Rows(
                np.frombuffer(hashes, np.uint32).reshape(-1, slots),
                np.frombuffer(vals, np.float64).reshape(-1, slots),
            )
            self._cache[block] = (rows, version)
        return (*self._cache[block], None)

    def take(self, ids, at_offset) -> Taken:
        ids = _check_ids(ids)
        front = self._front.take(ids, at_offset)
        if front.found.all():
            return front
        rest = [i for i, hit in zip(ids, front.found, strict=True) if not hit]
        return _merge_taken(front, self._take_stored(rest, at_offset))

    def _take_stored(self, ids: list[Any], at_offset: int) -> Taken:
        found_rows: dict[Any, tuple] = {}
        for start in range(0, len(ids), self.CHUNK):
            chunk = ids[start : start + self.CHUNK]
            marks = ",".join("?" * len(chunk))
            for record in self._db.execute(
                "SELECT id, block, row, prediction, served, deadline FROM entries "
                f"WHERE taken IS NULL AND id IN ({marks})",
                chunk,
            ):
                found_rows[record[0]] = record[1:]
            self._db.execute(
                f"UPDATE entries SET taken = ? WHERE taken IS NULL AND id IN ({marks})",
                [int(at_offset), *chunk],
            )
        return self._collect(ids, found_rows)

    def _collect(self, ids: list[Any], found_rows: dict[Any, tuple]) -> Taken:
        found = np.array([i in found_rows for i in ids], bool)
        hits = [found_rows[i] for i in ids if i in found_rows]
        if not hits:
            return _empty_taken(len(ids))
        columns = list(zip(*hits, strict=True))  # block, row, prediction, served, deadline
        rows, versions, _ = rows_in_order(np.array(columns[0]), np.array(columns[1]), self._block)
        return Taken(
            found,
            rows,
            np.array(columns[2], np.float64),
            np.array(columns[3], np.int64),
            versions,
            np.array(columns[4], np.float64),
        )

    def take_expired(self, before, at_offset):
        front_ids, front = self._front.take_expired(before, at_offset)
        ids = [
            r[0]
            for r in self._db.execute(
                "SELECT id FROM entries WHERE taken IS NULL AND deadline < ? ORDER BY deadline",
                (float(before),),
            )
        ]
        return front_ids + ids, _concat_taken(front, self._take_stored(ids, at_offset))

    def checkpoint_arrays(self, offset: int) -> dict[str, np.ndarray]:
        waiting = self._front.checkpoint_arrays(offset)
        self._front = MemoryJoinStore()
        if len(waiting["ids"]):
            versions = waiting["versions"]
            for version in np.unique(versions):
                mine = versions == version
                self._write(
                    waiting["ids"][mine].tolist(),
                    Rows(waiting["hashes"][mine], waiting["values"][mine]),
                    waiting["predictions"][mine],
                    waiting["deadlines"][mine],
                    waiting["offsets"][mine],
                    str(version),
                )
        # Entries learned before the last saved checkpoint can go: no restore needs them.
        if self._durable_offset is not None:
            self._db.execute("DELETE FROM entries WHERE taken <= ?", (self._durable_offset,))
            self._db.execute(
                "DELETE FROM blocks WHERE block NOT IN (SELECT DISTINCT block FROM entries)"
            )
            self._cache.clear()
        self._db.execute("COMMIT")
        self._db.execute("BEGIN")
        return {}

    def saved(self, offset: int) -> None:
        self._durable_offset = int(offset)

    def restore(self, arrays, offset) -> None:
        self._front = MemoryJoinStore()
        self._db.execute("ROLLBACK")
        self._db.execute("BEGIN")
        self._db.execute("DELETE FROM entries WHERE served > ?", (int(offset),))
        self._db.execute("DELETE FROM blocks WHERE served > ?", (int(offset),))
        self._db.execute("UPDATE entries SET taken = NULL WHERE taken > ?", (int(offset),))
        self._cache.clear()
        self._durable_offset = int(offset)

    def close(self) -> None:
        if self._db.in_transaction:
            self._db.execute("COMMIT")
        self._db.close()
