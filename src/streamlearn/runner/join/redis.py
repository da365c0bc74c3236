"""The label join in Redis, for deployments where serving and learning processes share it.

Same contract as :class:`~streamlearn.runner.join.SQLiteJoinStore`: every entry remembers
the offset it was served at and, once its label came, the offset it was taken at; restoring
to a checkpoint's offset drops what was served after it and puts back what was taken after
it. Keys under ``prefix``: ``:entries`` (hash id → block, row, prediction, deadline,
served), ``:blocks`` (hash block → encoded rows), ``:block_served`` / ``:served`` /
``:taken`` / ``:deadlines`` (sorted sets by offset or deadline), ``:next_block``.
Event ids are stored as text: give ids of one kind (all ints or all strings).
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np

from streamlearn.base.predictions import predictions_from_values
from streamlearn.runner.join.base import (
    JoinStore,
    JoinStoreMismatch,
    Rows,
    Taken,
    check_ids,
    empty_taken,
    rows_in_order,
)


def _pack_rows(rows: Rows, version: str) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, hashes=rows.hashes, values=rows.values, version=np.array(version))
    return buf.getvalue()


def _unpack_rows(data: bytes) -> tuple[Rows, str]:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return Rows(npz["hashes"], npz["values"]), str(npz["version"])


class RedisJoinStore(JoinStore):
    """Entries in Redis, so that a worker that takes over a partition finds what its
    predecessor served (see ``tests/test_redis.py``, which runs it on a real server).

    Parameters
    ----------
    client
        A ``redis.Redis`` client.
    prefix
        The key prefix of this store's entries.

    Example
    -------
    >>> import redis
    >>> str(RedisJoinStore(redis.Redis(host="127.0.0.1", port=6379), prefix="clicks:join"))
    'Redis keys clicks:join:*'
    """

    def __init__(self, client: Any, prefix: str = "streamlearn:join") -> None:
        self.client = client
        self.prefix = prefix
        self._cache: dict[int, tuple[Rows, str]] = {}
        self._prune_to: int | None = None

    def _key(self, name: str) -> str:
        return f"{self.prefix}:{name}"

    def __str__(self) -> str:
        return f"Redis keys {self.prefix}:*"

    def __len__(self) -> int:
        return int(self.client.zcard(self._key("deadlines")))

    def put(self, ids, rows, predictions, deadlines, offsets, version) -> None:
        ids = [str(i) for i in check_ids(ids)]
        if not ids:
            return
        block = int(self.client.incr(self._key("next_block")))
        self._cache[block] = (rows, version)
        served = np.asarray(offsets, np.int64)
        deadlines = np.asarray(deadlines, np.float64)
        records = {
            event_id: json.dumps([block, row, p, float(d), int(o)])
            for row, (event_id, p, d, o) in enumerate(
                zip(
                    ids,
                    np.asarray(predictions, np.float64).tolist(),
                    deadlines,
                    served,
                    strict=True,
                )
            )
        }
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self._key("blocks"), str(block), _pack_rows(rows, version))
        pipe.hset(self._key("alive"), str(block), len(ids))
        pipe.zadd(self._key("block_served"), {str(block): int(served.max())})
        pipe.hset(self._key("entries"), mapping=records)
        pipe.zadd(self._key("served"), dict(zip(ids, served.tolist(), strict=True)))
        pipe.zadd(self._key("deadlines"), dict(zip(ids, deadlines.tolist(), strict=True)))
        pipe.zrem(self._key("taken"), *ids)  # an id served again starts over
        pipe.execute()

    def _block(self, block: int) -> tuple[Rows, str, None]:
        if block not in self._cache:
            data = self.client.hget(self._key("blocks"), str(block))
            self._cache[block] = _unpack_rows(data)
        return (*self._cache[block], None)

    def take(self, ids, at_offset) -> Taken:
        ids = [str(i) for i in check_ids(ids)]
        if not ids:
            return empty_taken()
        pipe = self.client.pipeline(transaction=False)
        pipe.hmget(self._key("entries"), ids)
        pipe.zmscore(self._key("taken"), ids)
        records, taken_at = pipe.execute()
        found = np.array(
            [r is not None and t is None for r, t in zip(records, taken_at, strict=True)]
        )
        hits = [json.loads(r) for r, f in zip(records, found, strict=True) if f]
        if not hits:
            return empty_taken(len(ids))
        hit_ids = [i for i, f in zip(ids, found, strict=True) if f]
        pipe = self.client.pipeline(transaction=True)
        pipe.zadd(self._key("taken"), dict.fromkeys(hit_ids, int(at_offset)))
        pipe.zrem(self._key("deadlines"), *hit_ids)
        pipe.execute()
        columns = list(zip(*hits, strict=True))  # block, row, prediction, deadline, served
        rows, versions, _ = rows_in_order(np.array(columns[0]), np.array(columns[1]), self._block)
        return Taken(
            found,
            rows,
            predictions_from_values(columns[2]),
            np.array(columns[4], np.int64),
            versions,
            np.array(columns[3]),
        )

    def take_expired(self, before, at_offset):
        ids = [
            i.decode()
            for i in self.client.zrangebyscore(self._key("deadlines"), "-inf", f"({float(before)}")
        ]
        return ids, self.take(ids, at_offset)

    def checkpoint_arrays(self, offset: int) -> dict[str, np.ndarray]:
        # Entries learned at or before the oldest checkpoint a run may resume from can go.
        if self._prune_to is not None:
            gone = self.client.zrangebyscore(self._key("taken"), "-inf", self._prune_to)
            if gone:
                self._forget(gone)
            self.client.set(self._key("horizon"), self._prune_to)
        return {}

    @property
    def horizon(self) -> int:
        """The oldest offset this store can restore to exactly."""
        return int(self.client.get(self._key("horizon")) or 0)

    def restorable_from(self, offset: int) -> None:
        self._prune_to = int(offset)

    def _forget(self, ids: list[bytes]) -> None:
        """Delete learned entries, and the blocks left with none."""
        records = self.client.hmget(self._key("entries"), ids)
        blocks: dict[str, int] = {}
        for record in records:
            if record is not None:
                block = str(json.loads(record)[0])
                blocks[block] = blocks.get(block, 0) + 1
        pipe = self.client.pipeline(transaction=True)
        pipe.hdel(self._key("entries"), *ids)
        pipe.zrem(self._key("taken"), *ids)
        pipe.zrem(self._key("served"), *ids)
        for block, count in blocks.items():
            pipe.hincrby(self._key("alive"), block, -count)
        left = pipe.execute()[3:]
        empty = [block for block, alive in zip(blocks, left, strict=True) if alive <= 0]
        if empty:
            pipe = self.client.pipeline(transaction=True)
            pipe.hdel(self._key("blocks"), *empty)
            pipe.hdel(self._key("alive"), *empty)
            pipe.zrem(self._key("block_served"), *empty)
            pipe.execute()
            for block in empty:
                self._cache.pop(int(block), None)

    def restore(self, arrays, offset) -> None:
        if offset < self.horizon:
            raise JoinStoreMismatch(
                f"Redis join store {self.prefix!r} keeps the entries of checkpoints at offset "
                f"{self.horizon} and later, not those of offset {offset}: cannot resume there "
                "exactly"
            )
        after = f"({int(offset)}"
        later = self.client.zrangebyscore(self._key("served"), after, "+inf")
        blocks = self.client.zrangebyscore(self._key("block_served"), after, "+inf")
        back = self.client.zrangebyscore(self._key("taken"), after, "+inf")
        pipe = self.client.pipeline(transaction=True)
        if later:
            pipe.hdel(self._key("entries"), *later)
            for name in ("served", "taken", "deadlines"):
                pipe.zrem(self._key(name), *later)
        if blocks:
            pipe.hdel(self._key("blocks"), *blocks)
            pipe.zrem(self._key("block_served"), *blocks)
        pipe.execute()
        returning = [i for i in back if i not in set(later)]
        if returning:
            records = self.client.hmget(self._key("entries"), returning)
            deadlines = {i: json.loads(r)[3] for i, r in zip(returning, records, strict=True)}
            pipe = self.client.pipeline(transaction=True)
            pipe.zrem(self._key("taken"), *returning)
            pipe.zadd(self._key("deadlines"), deadlines)
            pipe.execute()
        self._cache.clear()
        self._prune_to = None  # until the run says again how far back it may resume

    def reset(self) -> None:
        names = ("entries", "blocks", "alive", "block_served", "served", "taken", "deadlines")
        self.client.delete(*(self._key(n) for n in (*names, "next_block", "horizon")))
        self._cache.clear()
        self._prune_to = None
