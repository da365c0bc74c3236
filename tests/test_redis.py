"""The Redis backends (registry, label join) against a real Redis server."""

from __future__ import annotations

import numpy as np
import pytest

from streamlearn.models import LogisticRegression
from streamlearn.registry import CorruptVersion, RedisRegistry
from streamlearn.runner import MemoryJoinStore, Runner
from streamlearn.runner.join import Rows
from streamlearn.runner.join.redis import RedisJoinStore
from streamlearn.streams import FileEvents
from tests.test_runner import delayed_file


def test_registry_versions_tags_and_checksums(redis_client):
    registry = RedisRegistry(redis_client, prefix="t")
    model = LogisticRegression(bits=8)
    model.learn_one({"a": 1.0}, True)
    first = registry.save(model.state(), events=1, offsets={"p0": 10}, tags=["champion"])
    second = registry.save(LogisticRegression(bits=8).state(), parent=first.id, events=2)
    assert [v.id for v in registry.versions()] == ["v000001", "v000002"]
    state, record = registry.load("v000001")
    np.testing.assert_array_equal(state.arrays["table"], model.table)
    assert record.offsets == {"p0": 10} and record.tags == ["champion"]
    registry.promote(second.id)
    assert registry.tags() == {"champion": "v000002", "previous-champion": "v000001"}
    assert registry.rollback() == "v000001"
    other = RedisRegistry(redis_client, prefix="t")  # another process sees the same
    assert other.tagged("champion").id == "v000001"
    data = bytearray(redis_client.get("t:snap:v000002"))
    data[len(data) // 2] ^= 0xFF  # inside the arrays
    redis_client.set("t:snap:v000002", bytes(data))
    with pytest.raises(CorruptVersion, match="unusable"):
        registry.load("v000002")
    with pytest.warns(UserWarning, match="falling back"):
        assert registry.latest()[1].id == "v000001"
    with pytest.raises(KeyError):
        registry.load("v000009")
    third = registry.save(LogisticRegression(bits=8).state(), events=3)
    assert registry.prune(keep=1) == []  # v1 is the champion, v2 the previous one
    registry.promote(third.id)
    assert registry.prune(keep=1) == ["v000002"]  # neither tagged nor among the newest
    assert [v.id for v in registry.versions()] == ["v000001", "v000003"]
    assert redis_client.get("t:snap:v000002") is None


def test_join_store_matches_the_memory_store(redis_client):
    rows = Rows(np.arange(12, dtype=np.uint32).reshape(4, 3), np.ones((4, 3)))
    stores = [MemoryJoinStore(), RedisJoinStore(redis_client, prefix="j")]
    for store in stores:
        store.put(
            ["a", "b", "c", "d"],
            rows,
            np.array([0.1, 0.2, 0.3, 0.4]),
            np.array([5.0, 6.0, 7.0, 8.0]),
            [1, 2, 3, 4],
            "v1",
        )
    taken = [store.take(["c", "x", "a"], at_offset=9) for store in stores]
    for got in taken[1:]:
        np.testing.assert_array_equal(got.found, taken[0].found)
        np.testing.assert_array_equal(got.rows.hashes, taken[0].rows.hashes)
        np.testing.assert_array_equal(got.predictions, taken[0].predictions)
        np.testing.assert_array_equal(got.deadlines, taken[0].deadlines)
    assert [len(s) for s in stores] == [2, 2]
    ids, expired = stores[1].take_expired(7.5, at_offset=10)
    assert ids == ["b"] and expired.predictions.tolist() == [0.2]
    stores[1].restore({}, offset=9)  # "b" was taken after offset 9: it waits again
    assert len(stores[1]) == 2


def test_resume_with_redis_equals_the_uninterrupted_run(tmp_path, redis_client):
    path = delayed_file(tmp_path / "delayed.csv", n=4000)

    def runner(join=None, registry=None):
        return Runner(
            LogisticRegression(bits=12),
            FileEvents(path, "y", delay_column="delay"),
            ttl=50,
            expiry="default",
            registry=registry,
            checkpoint_every=700,
            micro_batch=300,
            join=join,
        )

    whole = runner()
    whole.run()
    for limit in (1500, 1000, 10_000):
        part = runner(RedisJoinStore(redis_client, "rj"), RedisRegistry(redis_client, "rr"))
        summary = part.run(limit=limit)
        if limit == 1000:  # killed before its last checkpoint: resume from an older one
            newest = redis_client.zrange("rr:ids", -1, -1)[0]
            redis_client.zrem("rr:ids", newest)
    assert summary.served == 4000 and summary.learned == whole.summary.learned
    np.testing.assert_array_equal(part.model.table, whole.model.table)


def test_a_config_can_put_the_join_and_the_registry_in_redis(tmp_path, redis_client):
    from streamlearn.config import build_runner, load_config_text

    port = redis_client.connection_pool.connection_kwargs["port"]
    path = delayed_file(tmp_path / "d.csv", n=2000)
    config = load_config_text(f"""
[source]
path = "{path}"
target = "y"
delay_column = "delay"
[labels]
store = "redis"
[checkpoint]
redis_registry = "cfg"
every_events = 500
[redis]
url = "redis://127.0.0.1:{port}/0"
[output]
micro_batch = 250
""")
    summary = build_runner(config).run()
    assert summary.served == 2000 and len(summary.versions) >= 4
    assert redis_client.zcard("cfg:ids") == len(summary.versions)
    _, newest = RedisRegistry(redis_client, "cfg").latest()
    assert newest.notes["counters"]["learned"] == summary.learned > 1500
    assert redis_client.exists("streamlearn:join:entries")  # the join went through Redis


def test_the_registry_cli_opens_a_configs_redis_registry_and_takes_tags(tmp_path, redis_client):
    import json

    from streamlearn.config import build_registry, load_config
    from streamlearn.models import LogisticRegression as Logistic
    from tests.test_runner_cli import run

    port = redis_client.connection_pool.connection_kwargs["port"]
    config = tmp_path / "run.toml"
    config.write_text(
        f'[redis]\nurl = "redis://127.0.0.1:{port}/0"\n[checkpoint]\nredis_registry = "cli"\n'
    )
    registry = build_registry(load_config(config))
    first = registry.save(Logistic(bits=4).state(), events=0)
    second = registry.save(Logistic(bits=5).state(), parent=first.id, events=10)
    registry.promote(second.id)
    listing = run("registry", "list", str(config))
    assert listing.returncode == 0, listing.stderr
    assert first.id in listing.stdout and "champion" in listing.stdout
    shown = run("registry", "show", str(config), "champion")
    assert shown.returncode == 0 and json.loads(shown.stdout)["id"] == second.id
    assert run("registry", "promote", str(config), first.id).returncode == 0
    back = run("registry", "rollback", str(config), "previous-champion")
    assert back.returncode == 0 and second.id in back.stdout
    assert registry.tags()["champion"] == second.id
