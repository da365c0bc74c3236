"""Per-entity streaming features (an online feature store): for each event of an entity
(a card, a user, a merchant, a segment), features from the entity's history *before* the
event, then the event folded in.

- ``amount_z``: the z-score of log(1 + amount) against the entity's past ones (Welford; the
  log tames amounts' heavy tails), 0 until it has two;
- ``log_count``: log(1 + events seen for the entity);
- ``velocity_<h>``: events in the recent past, exponentially decayed with half-life h (in the
  time column's unit), an O(1) stand-in for "transactions in the last h";
- ``since_last``: time since the entity's previous event (log1p);
- ``fraud_rate``: the entity's smoothed label rate, (positives + w·prior) / (labels + w),
  from the labels learned so far (labels arrive late: :meth:`learn_labels`).

The state is a table of rows (one per entity) updated by one compiled loop per batch, so
that a batch gives exactly what events one at a time would. :class:`EntityStore` keeps it
in the process; :class:`RedisEntityStore` keeps rows in Redis hashes so that several
workers share them (each batch reads its entities' rows, runs the same loop, writes back).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any

import numba as nb
import numpy as np

COUNT, MEAN, M2, LAST, LABELS, POSITIVES, VELOCITY = 0, 1, 2, 3, 4, 5, 6  # row layout


@nb.njit(nogil=True, cache=True)
def _transform_update(rows, table, times, amounts, labels, half_lives, prior, weight, out):
    """Events in order: features from ``table[rows[e]]`` before the event, then update (and
    learn the event's label right away, when ``labels`` has one per event)."""
    for e in range(rows.shape[0]):
        r, t, amount = rows[e], times[e], amounts[e]
        s = table[r]
        count = s[COUNT]
        if count >= 2.0:
            std = math.sqrt(s[M2] / (count - 1.0))
            out[e, 0] = (amount - s[MEAN]) / std if std > 0 else 0.0
        else:
            out[e, 0] = 0.0
        out[e, 1] = math.log1p(count)
        elapsed = t - s[LAST] if count > 0 else 0.0
        out[e, 2] = math.log1p(max(elapsed, 0.0))
        out[e, 3] = (s[POSITIVES] + weight * prior) / (s[LABELS] + weight)
        for h in range(half_lives.shape[0]):
            decayed = s[VELOCITY + h] * 0.5 ** (max(elapsed, 0.0) / half_lives[h])
            out[e, 4 + h] = decayed
            s[VELOCITY + h] = decayed + 1.0
        # Fold the event in (Welford).
        count += 1.0
        delta = amount - s[MEAN]
        s[MEAN] += delta / count
        s[M2] += delta * (amount - s[MEAN])
        s[COUNT] = count
        s[LAST] = max(t, s[LAST]) if count > 1 else t
        if labels.shape[0]:
            s[LABELS] += 1.0
            s[POSITIVES] += labels[e]


@nb.njit(nogil=True, cache=True)
def _learn_labels(rows, table, labels):
    for e in range(rows.shape[0]):
        table[rows[e], LABELS] += 1.0
        table[rows[e], POSITIVES] += labels[e]


class EntityStore:
    """The per-entity state, in this process (see the module doc).

    Parameters
    ----------
    half_lives
        The velocity features' half-lives, in the time column's unit.
    prior, weight
        The label rate of an entity with no labels, and how many labels it is worth.

    Example
    -------
    >>> store = EntityStore(half_lives=(3600.0,))
    >>> f = store.transform_update(["card1", "card1", "card1"], [0.0, 60.0, 120.0],
    ...                            [10.0, 12.0, 500.0])
    >>> [round(float(v), 2) for v in f["amount_z"]]
    [0.0, 0.0, 31.62]
    >>> [round(float(v), 2) for v in f["velocity_3600"]]
    [0.0, 0.99, 1.97]
    >>> store.learn_labels(["card1"], [1.0])
    >>> round(float(store.transform_update(["card1"], [180.0], [11.0])["fraud_rate"][0]), 3)
    0.05
    """

    def __init__(
        self,
        half_lives: Sequence[float] = (3600.0, 86400.0),
        prior: float = 0.002,
        weight: float = 20.0,
    ) -> None:
        if not half_lives or min(half_lives) <= 0:
            raise ValueError("half-lives must be > 0")
        self.half_lives = np.array(half_lives, np.float64)
        self.prior, self.weight = float(prior), float(weight)
        self.width = VELOCITY + len(self.half_lives)
        self.table = np.zeros((0, self.width))
        self.ids: list[Hashable] = []
        self._index: dict[Hashable, int] = {}

    @property
    def names(self) -> list[str]:
        return ["amount_z", "log_count", "since_last", "fraud_rate"] + [
            f"velocity_{h:g}" for h in self.half_lives
        ]

    def params(self) -> dict[str, Any]:
        return {"half_lives": self.half_lives.tolist(), "prior": self.prior, "weight": self.weight}

    def _rows(self, ids: Sequence[Hashable]) -> np.ndarray:
        rows = np.empty(len(ids), np.int64)
        for k, key in enumerate(ids):
            row = self._index.get(key)
            if row is None:
                row = self._index[key] = len(self.ids)
                self.ids.append(key)
            rows[k] = row
        if len(self.ids) > len(self.table):
            grown = np.zeros((max(2 * len(self.table), len(self.ids), 64), self.width))
            grown[: len(self.table)] = self.table
            self.table = grown
        return rows

    def peek(self, ids: Any, times: Any, amounts: Any) -> dict[str, np.ndarray]:
        """Each event's features from its entity's committed past alone (the events of the
        batch do not see each other): what predictions without learning need."""
        keys = _keys(ids)
        table = np.zeros((len(keys), self.width))
        for k, key in enumerate(keys):
            row = self._index.get(key)
            if row is not None:
                table[k] = self.table[row]
        return self._run(np.arange(len(keys)), table, times, amounts)

    def prepare(
        self, ids: Any, times: Any, amounts: Any, labels: Any = None
    ) -> tuple[dict[str, np.ndarray], Any]:
        """Each event's features from its entity's past, and a ``commit()`` that makes the
        events part of that past (nothing changes until it is called). With ``labels``, each
        event's label is learned right after it (labels that come with their events)."""
        keys = _keys(ids)
        distinct = list(dict.fromkeys(keys))
        local = {key: k for k, key in enumerate(distinct)}
        table = np.zeros((len(distinct), self.width))
        for k, key in enumerate(distinct):
            row = self._index.get(key)
            if row is not None:
                table[k] = self.table[row]
        features = self._run(
            np.array([local[key] for key in keys], np.int64), table, times, amounts, labels
        )

        def commit() -> np.ndarray:
            rows = self._rows(distinct)
            self.table[rows] = table
            return rows[[local[key] for key in keys]]

        return features, commit

    def transform_update(self, ids: Any, times: Any, amounts: Any) -> dict[str, np.ndarray]:
        """Each event's features from its entity's past, then the event joins that past."""
        features, commit = self.prepare(ids, times, amounts)
        commit()
        return features

    def _run(self, rows, table, times, amounts, labels=None) -> dict[str, np.ndarray]:
        times = _numbers(times, len(rows))
        amounts = np.log1p(np.maximum(_numbers(amounts, len(rows)), 0.0))
        labels = np.zeros(0) if labels is None else _numbers(labels, len(rows))
        out = np.empty((len(rows), 4 + len(self.half_lives)))
        _transform_update(
            rows, table, times, amounts, labels, self.half_lives, self.prior, self.weight, out
        )
        return {name: out[:, k].copy() for k, name in enumerate(self.names)}

    def learn_labels(self, ids: Any, labels: Any) -> None:
        """Labels of earlier events of these entities (fraud: 1)."""
        keys = _keys(ids)
        self.learn_label_rows(self._rows(keys), labels)

    def learn_label_rows(self, rows: np.ndarray, labels: Any) -> None:
        """The same, by the entities' rows (as :meth:`prepare`'s commit returns them)."""
        _learn_labels(np.asarray(rows, np.int64), self.table, _numbers(labels, len(rows)))

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {"entity_table": self.table[: len(self.ids)].copy()}, {"entity_ids": self.ids}

    def load_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        table = np.asarray(arrays["entity_table"], np.float64)
        if table.ndim != 2 or table.shape[1] != self.width or len(table) != len(meta["entity_ids"]):
            raise ValueError("the entity table does not fit these settings")
        self.ids = list(meta["entity_ids"])
        self._index = {key: k for k, key in enumerate(self.ids)}
        self.table = table.copy()


class RedisEntityStore(EntityStore):
    """The same state in Redis (a hash per entity: ``<prefix>:<id>``), shared by workers.
    Each batch reads its entities' rows, runs the same compiled loop, and writes them back
    in one pipeline.

    Parameters
    ----------
    client
        A ``redis.Redis`` connection.
    prefix
        The key prefix of the entities' hashes.
    **options
        As for :class:`EntityStore` (half-lives, prior, weight).

    Example
    -------
    >>> import redis
    >>> store = RedisEntityStore(redis.Redis(host="127.0.0.1", port=6379), prefix="fraud:entity")
    >>> store.prefix
    'fraud:entity'
    """

    def __init__(self, client: Any, prefix: str = "streamlearn:entity", **options: Any) -> None:
        super().__init__(**options)
        self.client, self.prefix = client, prefix

    def _fetch(self, ids: list[Hashable]) -> tuple[list[Hashable], np.ndarray, np.ndarray]:
        distinct = list(dict.fromkeys(ids))
        position = {key: k for k, key in enumerate(distinct)}
        pipe = self.client.pipeline()
        for key in distinct:
            pipe.hget(f"{self.prefix}:{key}", "row")
        raw = pipe.execute()
        table = np.zeros((len(distinct), self.width))
        for k, blob in enumerate(raw):
            if blob is not None:
                table[k] = np.frombuffer(blob, np.float64)
        return distinct, table, np.array([position[key] for key in ids], np.int64)

    def _store(self, distinct: list[Hashable], table: np.ndarray) -> None:
        pipe = self.client.pipeline()
        for key, row in zip(distinct, table, strict=True):
            pipe.hset(f"{self.prefix}:{key}", "row", row.tobytes())
        pipe.execute()

    def prepare(self, ids, times, amounts, labels=None):
        distinct, table, rows = self._fetch(_keys(ids))
        features = self._run(rows, table, times, amounts, labels)
        return features, lambda: self._store(distinct, table)

    def learn_labels(self, ids, labels) -> None:
        keys = _keys(ids)
        distinct, table, rows = self._fetch(keys)
        _learn_labels(rows, table, _numbers(labels, len(keys)))
        self._store(distinct, table)

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {}, {}  # Redis holds it

    def load_state(self, arrays, meta) -> None:
        pass


def _keys(ids: Any) -> list[Hashable]:
    """Entity ids; a missing one (None, NaN, "") is the unknown entity ""."""
    if hasattr(ids, "to_pylist"):
        ids = ids.to_pylist()
    values = ids.tolist() if hasattr(ids, "tolist") else list(ids)
    keys = []
    for key in values:
        if key is None or key == "" or (isinstance(key, float) and not math.isfinite(key)):
            key = ""
        elif isinstance(key, bool) or not isinstance(key, str | int | float):
            raise TypeError(
                f"an entity id must be a str or a number: unsupported type {type(key).__name__}"
            )
        keys.append(int(key) if isinstance(key, float) and key.is_integer() else key)
    return keys


def _numbers(values: Any, n: int) -> np.ndarray:
    """Numbers as float64; missing or non-finite ones are 0."""
    if hasattr(values, "to_numpy") and not isinstance(values, np.ndarray):
        values = values.to_numpy(zero_copy_only=False)
    if isinstance(values, list | tuple | np.ndarray) and np.asarray(values).dtype == object:
        values = [np.nan if v is None else v for v in values]
    try:
        array = np.asarray(values, np.float64)
    except (TypeError, ValueError):
        raise TypeError("times and amounts must be numbers: unsupported type") from None
    if array.shape != (n,):
        raise TypeError(f"expected {n} numbers, got shape {array.shape}: unsupported type")
    return np.where(np.isfinite(array), array, 0.0)
