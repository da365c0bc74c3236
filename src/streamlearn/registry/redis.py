"""A model registry in Redis, for deployments where several processes share versions.

Keys under ``prefix``: ``:snap:<id>`` the snapshot's bytes (the same checksummed format as
the local registry's files), ``:info`` a hash of version records (for listings without
reading arrays), ``:ids`` a sorted set of ids, ``:tags`` a hash of tags, ``:next`` the id
counter. A version is written in one MULTI/EXEC transaction: readers see all of it or none.
Use: ``RedisRegistry(redis.Redis(host="127.0.0.1", port=6379), prefix="ctr")``
(``tests/test_redis.py`` runs it against a real server).
"""

from __future__ import annotations

import json
from typing import Any

from streamlearn.base.state import check_key
from streamlearn.registry.base import Registry


class RedisRegistry(Registry):
    """Versions in Redis (``client``: a ``redis.Redis``), under the key prefix ``prefix``.

    Parameters
    ----------
    client
        A ``redis.Redis`` connection.
    prefix
        The key prefix of the registry's keys (several registries can share a Redis).
    key
        A secret of 16 bytes or more: versions are signed with it, and one that is not is
        refused on load.

    Example
    -------
    >>> import redis
    >>> from streamlearn.models import LogisticRegression
    >>> registry = RedisRegistry(redis.Redis(host="127.0.0.1", port=6379), prefix="fraud")
    >>> str(registry)
    'redis fraud'
    >>> registry.save(LogisticRegression().state(), events=0)  # doctest: +SKIP
    """

    def __init__(
        self, client: Any, prefix: str = "streamlearn:registry", key: bytes | None = None
    ) -> None:
        from redis.exceptions import ConnectionError, TimeoutError

        self.key = check_key(key)
        self.client = client
        self.prefix = prefix
        self.unavailable = (OSError, ConnectionError, TimeoutError)

    def __str__(self) -> str:
        return f"redis {self.prefix}"

    def _key(self, *parts: str) -> str:
        return ":".join([self.prefix, *parts])

    def _ids(self) -> list[str]:
        return [i.decode() for i in self.client.zrange(self._key("ids"), 0, -1)]

    def _new_id(self) -> str:
        return f"v{int(self.client.incr(self._key('next'))):06d}"

    def _write(self, version_id: str, data: bytes, info: dict[str, Any]) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.set(self._key("snap", version_id), data)
        pipe.hset(self._key("info"), version_id, json.dumps(info, sort_keys=True))
        pipe.zadd(self._key("ids"), {version_id: int(version_id[1:])})
        pipe.execute()

    def _delete(self, version_id: str) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.zrem(self._key("ids"), version_id)
        pipe.hdel(self._key("info"), version_id)
        pipe.delete(self._key("snap", version_id))
        pipe.execute()

    def _read(self, version_id: str) -> bytes:
        data = self.client.get(self._key("snap", version_id))
        if data is None:
            raise KeyError(version_id)
        return data

    def _read_info(self, version_id: str) -> dict[str, Any]:
        info = self.client.hget(self._key("info"), version_id)
        if info is None:
            raise KeyError(version_id)
        try:
            return json.loads(info)
        except json.JSONDecodeError as exc:
            raise ValueError(f"record of {version_id} is not JSON ({exc})") from None

    def _tags(self) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.client.hgetall(self._key("tags")).items()}

    def _set_tag(self, tag: str, version_id: str) -> None:
        self.client.hset(self._key("tags"), tag, version_id)
