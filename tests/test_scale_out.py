"""Scale-out: workers that share one model by parameter mixing through a real Redis, two
workers in one Kafka consumer group on a real broker, and serving replicas that follow the
newest version."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from confluent_kafka import Producer

from streamlearn.datasets import synth
from streamlearn.models import LogisticRegression
from streamlearn.registry import RedisRegistry
from streamlearn.runner import Runner
from streamlearn.scaleout.mixing import ParameterMixer
from streamlearn.service import Replica
from streamlearn.streams import FileEvents
from streamlearn.streams.kafka import KafkaEvents
from tests.conftest import create_topics
from tests.test_service import wait_for

CROSSES = [("C1", "C2"), ("C3", "C4")]


def log_loss(p, y):
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return float(-np.mean(np.where(y >= 0.5, np.log(p), np.log1p(-p))))


@pytest.fixture(scope="module")
def partitions(tmp_path_factory):
    """A click stream and its two halves (even and odd events: two partitions)."""
    folder = tmp_path_factory.mktemp("parts")
    n = 80_000
    table = synth.click_stream(n, seed=2, drift=False).append_column("eid", pa.array(np.arange(n)))
    pacsv.write_csv(table, folder / "all.csv")
    halves = [table.filter(pa.array(np.arange(n) % 2 == k)) for k in (0, 1)]
    for k, half in enumerate(halves):
        pacsv.write_csv(half, folder / f"part{k}.csv")
    return folder, table, halves


def runner(path, mixer=None, predictions=None):
    categorical = [f"C{i}" for i in range(1, 21)]
    return Runner(
        LogisticRegression(bits=18, interactions=CROSSES),
        FileEvents(path, "click", categorical=categorical, id_column="eid"),
        micro_batch=500,
        mixer=mixer,
        predictions=predictions,
    )


def served(path):
    return pacsv.read_csv(path)["prediction"].to_numpy()


def test_two_mixing_workers_learn_as_well_as_one(partitions, redis_client, tmp_path):
    folder, table, halves = partitions
    single = runner(folder / "all.csv", predictions=tmp_path / "single.csv")
    single.run()
    workers = {}

    def work(k: int, mix: bool) -> None:
        mixer = ParameterMixer(redis_client, "clicks", f"w{k}", every_events=1000) if mix else None
        workers[(k, mix)] = runner(folder / f"part{k}.csv", mixer, tmp_path / f"{k}{mix}.csv")
        workers[(k, mix)].run()

    losses = {}
    for mix in (True, False):
        threads = [threading.Thread(target=work, args=(k, mix)) for k in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        both = np.concatenate([served(tmp_path / f"{k}{mix}.csv") for k in (0, 1)])
        truth = np.concatenate([half["click"].to_numpy() for half in halves])
        losses[mix] = log_loss(both, truth)
    alone = log_loss(served(tmp_path / "single.csv"), table["click"].to_numpy())
    assert losses[True] <= 1.01 * alone  # the goal: within 1% of one worker on everything
    assert losses[True] < losses[False]  # and mixing is what does it
    assert workers[(0, True)].mixer.mixes >= 30 and workers[(1, True)].mixer.mixes >= 30
    # Mixed workers hold nearly one model (each has learned up to 1,000 events of its own
    # since its last mix, and the threads race for the last mixes): they predict far more
    # alike than workers that never mix.
    probe = {k: v[:2000] for k, v in table.drop(["click", "eid"]).to_pydict().items()}
    gap = {
        mix: np.abs(
            workers[(0, mix)].model.predict_proba_many(probe)
            - workers[(1, mix)].model.predict_proba_many(probe)
        ).mean()
        for mix in (True, False)
    }
    assert gap[True] < 0.7 * gap[False]


def test_a_stale_or_misshapen_worker_is_left_out(redis_client):
    model = LogisticRegression(bits=6)
    model.learn_many({"x": np.ones(10)}, np.ones(10))
    ghost = ParameterMixer(redis_client, "g", "ghost", every_events=1, stale_after=0.2)
    ghost.mix(LogisticRegression(bits=6), 5)  # publishes fresh-model weights
    small = ParameterMixer(redis_client, "g", "small", every_events=1)
    small.mix(LogisticRegression(bits=4), 5)  # another shape: never averaged in
    time.sleep(0.3)  # the ghost goes stale
    live = ParameterMixer(redis_client, "g", "live", every_events=1)
    mixed = live.mix(model, 10)
    np.testing.assert_array_equal(mixed.table, model.table)  # only itself was live and fit


def test_garbage_another_worker_publishes_is_left_out(redis_client):
    """What is read from Redis is checked: garbage bytes, a missing field, a NaN or
    infinite weight, weights of NaN, a text array — each is skipped, never averaged in."""
    import io

    model = LogisticRegression(bits=6)
    model.learn_many({"x": np.ones(10)}, np.ones(10))
    shape = model.state().arrays["table"].shape

    def npz(**arrays) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    good_intercept = model.state().arrays["intercept"]
    bad = {
        "garbage": {"arrays": b"\x00not a zip", "weight": 1, "time": time.time()},
        "no-weight": {"arrays": npz(table=np.zeros(shape), intercept=good_intercept)},
        "nan-weight": {"arrays": npz(table=np.zeros(shape), intercept=good_intercept)}
        | {"weight": "nan", "time": time.time()},
        "nan-table": {"arrays": npz(table=np.full(shape, np.nan), intercept=good_intercept)}
        | {"weight": 1, "time": time.time()},
        "text-table": {"arrays": npz(table=np.full(shape, "x"), intercept=good_intercept)}
        | {"weight": 1, "time": time.time()},
        "bad-time": {"arrays": npz(table=np.zeros(shape), intercept=good_intercept)}
        | {"weight": 1, "time": "soon"},
    }
    for worker, entry in bad.items():
        redis_client.hset(f"bad:mix:{worker}", mapping=entry)
        redis_client.sadd("bad:mix:workers", worker)
    mixed = ParameterMixer(redis_client, "bad", "live", every_events=1).mix(model, 10)
    np.testing.assert_array_equal(mixed.table, model.table)  # only itself was sound


def test_a_rankers_heads_are_mixed(redis_client):
    from streamlearn.models import EngagementRanker

    tasks = {"click": "binary", "dwell": "regression"}
    first, second = EngagementRanker(tasks, bits=6), EngagementRanker(tasks, bits=6)
    first.learn_many(
        {"x": ["a", "c"] * 10}, [{"click": 1.0, "dwell": 5.0}, {"click": 1.0, "dwell": 1.0}] * 10
    )
    second.learn_many({"x": ["b"] * 20}, [{"click": 0.0}] * 20)
    ParameterMixer(redis_client, "r", "first", every_events=1).mix(first, 20)
    mixed = ParameterMixer(redis_client, "r", "second", every_events=1).mix(second, 20)
    for name in ("click/table", "click/intercept", "dwell/table"):
        expected = (first.state().arrays[name] + second.state().arrays[name]) / 2
        np.testing.assert_allclose(mixed.state().arrays[name], expected, atol=1e-12, err_msg=name)
    assert mixed.heads["dwell"].state().arrays["table"].any()  # learned on the first only


def produce(bootstrap, topic, n):
    rng = np.random.default_rng(1)
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for i in range(n):
        colour = str(rng.choice(["red", "blue", "green"]))
        record = {
            "id": f"e{i}",
            "features": {"colour": colour, "size": float(rng.normal())},
            "label": float(colour == "red"),
        }
        producer.produce(topic, json.dumps(record).encode(), key=f"e{i}".encode())
    producer.flush(30)


def test_two_kafka_workers_share_the_partitions_and_replicas_follow(kafka_broker, redis_client):
    create_topics(kafka_broker, "scale-events", partitions=2)
    n = 6000
    produce(kafka_broker, "scale-events", n)
    registries = [RedisRegistry(redis_client, f"scale:w{k}") for k in (0, 1)]
    workers = []
    for k in (0, 1):
        source = KafkaEvents(
            {"bootstrap.servers": kafka_broker, "group.id": "scale"}, "scale-events"
        )
        mixer = ParameterMixer(redis_client, "scale", f"w{k}", every_events=300)
        workers.append(
            Runner(
                LogisticRegression(bits=12),
                source,
                registry=registries[k],
                checkpoint_seconds=0.5,
                micro_batch=200,
                mixer=mixer,
                drain_at_end=False,
            )
        )
    threads = [threading.Thread(target=w.run) for w in workers]
    for thread in threads:
        thread.start()
    replicas = [Replica(registries[0], poll_every=0.1) for _ in range(2)]  # follow worker 0
    try:
        deadline = time.monotonic() + 90
        while sum(w.counters["learned"] for w in workers) < n:
            assert time.monotonic() < deadline, [w.counters for w in workers]
            time.sleep(0.2)
        assert all(w.counters["learned"] > 0 for w in workers)  # each got a partition
        assert sum(w.counters["learned"] for w in workers) == n  # none twice
        # Worker 0 checkpoints what it learned (every 0.5 s); the replicas follow that.
        assert wait_for(lambda: registries[0].latest()[1].events == workers[0].counters["learned"])
        for replica in replicas:
            replica.start()
        newest = registries[0].tagged("champion").id
        assert all(
            wait_for(lambda r=r: r.serving is not None and r.serving.version >= newest)
            for r in replicas
        )
        red, blue = (replicas[0].predict([{"colour": c, "size": 0.0}])[0] for c in ("red", "blue"))
        assert red > 0.8 > 0.2 > blue
        assert all(w.mixer.mixes > 0 for w in workers)
        offsets = [registries[k].latest()[1].offsets for k in (0, 1)]
        assert all(offsets)  # each worker's snapshot records its own partitions' offsets
    finally:
        for w in workers:
            w.request_stop()
        for thread in threads:
            thread.join(30)
        for replica in replicas:
            replica.stop()
        for w in workers:
            w.close()


WORKER = """
[model]
task = "binary"
bits = 12
[labels]
store = "memory"
[checkpoint]
registry = "registry"
every_seconds = 0.3
[kafka]
bootstrap_servers = "BOOTSTRAP"
group = "rebalance"
events_topic = "rb-events"
[service]
port = {port}
token = "t"
[scale]
worker = "WORKER"
group = "rebalance"
mix_every_events = 500
[redis]
url = "REDIS"
"""


def learned(base) -> int:
    import httpx

    return httpx.get(f"{base}/health", timeout=5).json()["events_learned"]


def read_topic(bootstrap: str, topic: str, n: int) -> dict[int, tuple[int, int]]:
    """Per partition: (messages, next offset), by reading the topic (Tansu's watermarks are
    not reliable)."""
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"read-{topic}",
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
        }
    )
    consumer.subscribe([topic])
    found: dict[int, tuple[int, int]] = {}
    deadline = time.monotonic() + 60
    while sum(c for c, _ in found.values()) < n and time.monotonic() < deadline:
        for message in consumer.consume(1000, timeout=0.5):
            if message.error() is None:
                count, end = found.get(message.partition(), (0, 0))
                found[message.partition()] = (count + 1, max(end, message.offset() + 1))
    consumer.close()
    return found


def test_killing_one_of_two_workers_loses_no_event(kafka_broker, redis_client, tmp_path):
    import signal

    from streamlearn.registry import LocalRegistry
    from tests.conftest import start_serve

    create_topics(kafka_broker, "rb-events", partitions=2)
    port = redis_client.connection_pool.connection_kwargs["port"]
    processes = {}
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        text = (
            WORKER.replace("BOOTSTRAP", kafka_broker)
            .replace("WORKER", name)
            .replace("REDIS", f"redis://127.0.0.1:{port}/0")
        )
        processes[name] = start_serve(folder, text)
    time.sleep(8)  # both join the group (session timeout 6 s) before events flow
    n = 20_000
    produce(kafka_broker, "rb-events", n)
    ends = {
        f"rb-events:{p}": end for p, (_, end) in read_topic(kafka_broker, "rb-events", n).items()
    }
    (a, a_url), (b, b_url) = processes["a"], processes["b"]

    def b_positions() -> dict:
        latest = LocalRegistry(tmp_path / "b" / "registry").latest()
        return latest[0].parts["runner"].meta["source"]["positions"] if latest else {}

    try:
        assert wait_for(lambda: learned(a_url) > 2000 and learned(b_url) > 0, timeout=60)
        time.sleep(0.5)  # a checkpoint or two more
        a.send_signal(signal.SIGKILL)  # worker a dies mid-stream
        a.wait(10)
        a_version = LocalRegistry(tmp_path / "a" / "registry").latest()[1]
        # b is given a's partition, resumes it from a's last checkpoint, reads it to the end.
        assert wait_for(lambda: b_positions() == ends, timeout=90), (b_positions(), ends)
    finally:
        b.send_signal(signal.SIGTERM)  # stops after a checkpoint
        b.wait(60)
        if a.poll() is None:
            a.kill()
    b_version = LocalRegistry(tmp_path / "b" / "registry").latest()[1]
    assert b_positions() == ends
    duplicated = a_version.events + b_version.events - n
    assert duplicated >= 0  # none lost: every event is in a's or b's snapshot
    assert duplicated <= 0.25 * n  # learned twice: at most what a learned after its checkpoint


def keyed_worker(bootstrap: str, folder: str) -> None:
    """A keyed worker process (killed by the test, or stopped when all is read)."""
    from pathlib import Path

    from streamlearn.registry import LocalRegistry
    from streamlearn.scaleout.keyed import KeyedWorker

    worker = KeyedWorker(
        {"bootstrap.servers": bootstrap},
        "keyed-events",
        "keyed",
        lambda: LogisticRegression(bits=12),
        lambda p: LocalRegistry(Path(folder) / f"partition{p}"),
        checkpoint_seconds=0.3,
        micro_batch=500,
    )
    worker.run()


def test_keyed_workers_resume_a_dead_workers_partition_from_its_snapshot(kafka_broker, tmp_path):
    import multiprocessing

    from streamlearn.registry import LocalRegistry

    create_topics(kafka_broker, "keyed-events", partitions=2)
    spawn = multiprocessing.get_context("spawn")
    a = spawn.Process(target=keyed_worker, args=(kafka_broker, str(tmp_path)))
    b = spawn.Process(target=keyed_worker, args=(kafka_broker, str(tmp_path)))
    a.start()
    b.start()
    time.sleep(8)  # both in the group
    n = 20_000
    produce(kafka_broker, "keyed-events", n)
    counts = {
        f"keyed-events:{p}": c for p, (c, _) in read_topic(kafka_broker, "keyed-events", n).items()
    }

    def snapshot(p: int):
        latest = LocalRegistry(tmp_path / f"partition{p}").latest()
        return latest if latest else (None, None)

    try:
        assert wait_for(
            lambda: all(
                snapshot(p)[1] is not None and snapshot(p)[1].events > 1000 for p in (0, 1)
            ),
            timeout=60,
        )
        a.kill()  # SIGKILL: no goodbye, no last checkpoint
        a.join(10)
        # The survivor resumes the dead worker's partition from its last snapshot.
        done = {f"keyed-events:{p}" for p in (0, 1)}
        assert wait_for(
            lambda: all(snapshot(p)[1].events == counts[f"keyed-events:{p}"] for p in (0, 1)),
            timeout=90,
        ), ([snapshot(p)[1].events for p in (0, 1)], counts)
    finally:
        for process in (a, b):
            if process.is_alive():
                process.kill()
            process.join(10)
    for p in (0, 1):
        state, version = snapshot(p)
        key = f"keyed-events:{p}"
        # Each partition's model learned each of its events exactly once, across the crash.
        assert version.events == counts[key] and key in done
        assert state.parts["runner"].meta["source"]["positions"][key] >= counts[key]
