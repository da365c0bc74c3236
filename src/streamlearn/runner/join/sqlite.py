"""The join store in SQLite: entries survive the process, for long label windows."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np

from streamlearn.base.predictions import predictions_from_values
from streamlearn.runner.join.base import (
    JoinStore,
    JoinStoreMismatch,
    Rows,
    Taken,
    check_ids,
    concat_taken,
    empty_taken,
    merge_taken,
    rows_in_order,
)
from streamlearn.runner.join.memory import MemoryJoinStore


class SQLiteJoinStore(JoinStore):
    """Entries in a SQLite file (WAL); durable at checkpoints (see
    :mod:`streamlearn.runner.join`).

    Entries served since the last checkpoint wait in memory in front of the file: most
    labels come within a checkpoint interval and never touch SQLite. At a checkpoint those
    still waiting are written, in the same transaction that is committed then.

    Parameters
    ----------
    path
        The SQLite file (made, with its folder, if missing).

    Example
    -------
    Elec2 with every label 500 events late:

    >>> import tempfile
    >>> from pathlib import Path
    >>> store = SQLiteJoinStore(Path(tempfile.mkdtemp()) / "join.sqlite")
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.models import LogisticRegression
    >>> from streamlearn.runner import Runner
    >>> from streamlearn.streams import FileEvents
    >>> events = FileEvents(elec2.path(), "target")
    >>> summary = Runner(LogisticRegression(bits=16), events, delay=500, join=store).run()
    >>> summary.learned, round(summary.metrics["accuracy"], 3)
    (45312, 0.763)
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
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER);
            """
        )
        self._db.execute("BEGIN")
        self._cache: dict[int, tuple[Rows, str]] = {}
        self._prune_to: int | None = None
        self._front = MemoryJoinStore()

    def __str__(self) -> str:
        return f"SQLite file {self.path}"

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
                [_stored(p) for p in np.asarray(predictions, np.float64).tolist()],
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
        ids = check_ids(ids)
        front = self._front.take(ids, at_offset)
        if front.found.all():
            return front
        rest = [i for i, hit in zip(ids, front.found, strict=True) if not hit]
        return merge_taken(front, self._take_stored(rest, at_offset))

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
            return empty_taken(len(ids))
        columns = list(zip(*hits, strict=True))  # block, row, prediction, served, deadline
        rows, versions, _ = rows_in_order(np.array(columns[0]), np.array(columns[1]), self._block)
        return Taken(
            found,
            rows,
            predictions_from_values([_loaded(p) for p in columns[2]]),
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
        return front_ids + ids, concat_taken(front, self._take_stored(ids, at_offset))

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
        if self._prune_to is not None:
            self._prune(self._prune_to)
        self._db.execute("COMMIT")
        self._db.execute("BEGIN")
        return {}

    def _prune(self, offset: int) -> None:
        """Entries learned at or before ``offset`` go: no restore this store allows needs
        them (the horizon, in the same transaction, says from where restores are exact)."""
        self._db.execute("DELETE FROM entries WHERE taken <= ?", (offset,))
        self._db.execute(
            "DELETE FROM blocks WHERE block NOT IN (SELECT DISTINCT block FROM entries)"
        )
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('horizon', ?)", (offset,))
        self._cache.clear()

    @property
    def horizon(self) -> int:
        """The oldest offset this store can restore to exactly."""
        found = self._db.execute("SELECT value FROM meta WHERE key = 'horizon'").fetchone()
        return int(found[0]) if found else 0

    def restorable_from(self, offset: int) -> None:
        self._prune_to = int(offset)

    def restore(self, arrays, offset) -> None:
        self._front = MemoryJoinStore()
        self._db.execute("ROLLBACK")
        self._db.execute("BEGIN")
        if offset < self.horizon:
            raise JoinStoreMismatch(
                f"{self.path} keeps the entries of checkpoints at offset {self.horizon} "
                f"and later, not those of offset {offset}: cannot resume there exactly"
            )
        self._db.execute("DELETE FROM entries WHERE served > ?", (int(offset),))
        self._db.execute("DELETE FROM blocks WHERE served > ?", (int(offset),))
        self._db.execute("UPDATE entries SET taken = NULL WHERE taken > ?", (int(offset),))
        self._cache.clear()
        self._prune_to = None  # until the run says again how far back it may resume

    def reset(self) -> None:
        self._front = MemoryJoinStore()
        self._db.execute("ROLLBACK")
        self._db.execute("BEGIN")
        for table in ("entries", "blocks", "meta"):
            self._db.execute(f"DELETE FROM {table}")
        self._cache.clear()
        self._prune_to = None

    def close(self) -> None:
        if self._db.in_transaction:
            self._db.execute("COMMIT")
        self._db.close()


def _stored(prediction: float | list[float]) -> float | str:
    """A prediction as the table holds it: a number, or class probabilities as JSON text."""
    return json.dumps(prediction) if isinstance(prediction, list) else prediction


def _loaded(value: float | str) -> float | list[float]:
    return json.loads(value) if isinstance(value, str) else value
