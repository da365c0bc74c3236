"""Fault injection with real parts: a Kafka broker frozen, killed and restarted under a
worker; Redis killed and restarted under a trainer and a replica; a disk that refuses a
snapshot half written; wall-clock steps under label TTLs."""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pytest
import redis
from fastapi.testclient import TestClient

from streamlearn.config import build_runner, kafka_events, load_config_text
from streamlearn.datasets import synth
from streamlearn.models import LogisticRegression
from streamlearn.registry import LocalRegistry, RedisRegistry
from streamlearn.runner import Runner
from streamlearn.service import Replica, Trainer
from streamlearn.service.app import create_app
from streamlearn.streams.batch import StreamClock
from streamlearn.streams.kafka import KafkaEvents
from streamlearn.streams.live import LiveEvents
from tests.conftest import create_topics, free_port, start_redis, start_serve, start_tansu
from tests.test_kafka import run_until
from tests.test_scale_out import produce
from tests.test_service import wait_for


def _in_thread(runner: Runner) -> threading.Thread:
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    return thread


def test_a_broker_frozen_then_killed_and_restarted_never_stops_the_worker(tmp_path):
    port = free_port()
    broker, bootstrap = start_tansu(port), f"127.0.0.1:{port}"
    try:
        create_topics(bootstrap, "ev")
        produce(bootstrap, "ev", 3000)
        # No checkpoints, so nothing is committed: after a lost session only the worker's
        # own positions keep it from learning everything again.
        runner = Runner(
            LogisticRegression(bits=12),
            KafkaEvents({"bootstrap.servers": bootstrap, "group.id": "g"}, "ev"),
            micro_batch=500,
            drain_at_end=False,
        )
        thread = _in_thread(runner)
        learned = lambda: runner.counters["learned"]  # noqa: E731
        assert wait_for(lambda: learned() == 3000)
        broker.send_signal(signal.SIGSTOP)  # longer than the session timeout (6 s)
        time.sleep(9)
        broker.send_signal(signal.SIGCONT)
        produce(bootstrap, "ev", 1000)
        assert wait_for(lambda: learned() >= 4000)
        time.sleep(3)  # a rebalance that read the partition again would show by now
        assert learned() == 4000 and thread.is_alive()
        broker.kill()
        broker.wait()
        assert wait_for(lambda: runner.problems(), timeout=60), "the outage went unreported"
        assert "source:" in runner.problems()[0] and thread.is_alive()
        # Back on the same port. Tansu keeps its log in memory: the test writes back what a
        # broker with a disk would still hold (the same 4,000 events), then 500 new ones.
        broker = start_tansu(port)
        create_topics(bootstrap, "ev")
        produce(bootstrap, "ev", 4000)
        produce(bootstrap, "ev", 500)
        assert wait_for(lambda: learned() == 4500 and not runner.problems(), timeout=90), (
            learned(),
            runner.problems(),
        )
        assert thread.is_alive() and runner.counters["served"] == 4500
        runner.request_stop()
        thread.join(30)
        assert not thread.is_alive()
    finally:
        broker.kill()
        broker.wait()


N_KAFKA = 30_000
WORKER = """
[model]
bits = 20
task = "binary"
[labels]
store = "memory"
[checkpoint]
registry = "registry"
every_events = 2000
[output]
micro_batch = 500
[kafka]
bootstrap_servers = "BOOTSTRAP"
group = "GROUP"
events_topic = "crash-events"
[service]
port = {port}
"""


def _worker_config(bootstrap: str, group: str) -> str:
    return WORKER.replace("BOOTSTRAP", bootstrap).replace("GROUP", group)


def _temp_file_appears(process: subprocess.Popen, registry: Path) -> bool:
    """Poll hard for a snapshot being written (its temp file); False if none came."""
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        if registry.exists() and any(p.suffix == ".tmp" for p in registry.iterdir()):
            return True
        time.sleep(0.0005)
    return False


def _newest(registry: Path):
    latest = LocalRegistry(registry).latest() if registry.exists() else None
    return latest[1] if latest else None


def _served(registry: Path) -> int:
    newest = _newest(registry)
    return newest.notes["counters"]["served"] if newest else 0


def test_sigkill_a_kafka_fed_worker_even_mid_snapshot_then_resume_equals_one_run(
    kafka_broker, tmp_path
):
    create_topics(kafka_broker, "crash-events")
    produce(kafka_broker, "crash-events", N_KAFKA)
    text = _worker_config(kafka_broker, "whole").replace("[service]\nport = {port}\n", "")
    reference = build_runner(
        load_config_text(text, base=tmp_path / "whole"), source=kafka_events(load_config_text(text))
    )
    run_until(reference, lambda s: s.served >= N_KAFKA)
    folder, registry = tmp_path / "killed", tmp_path / "killed" / "registry"
    folder.mkdir()
    rng, kills, mid_snapshot = np.random.default_rng(11), 0, 0
    while True:
        process, _ = start_serve(folder, _worker_config(kafka_broker, "killed"))
        if kills == 4:
            break
        aimed = kills % 2 == 0 and _temp_file_appears(process, registry)
        if not aimed:  # somewhere after a checkpoint: in a batch, a snapshot, a commit …
            before = _newest(registry)
            wait_for(lambda: _newest(registry) != before, timeout=60)  # noqa: B023
            time.sleep(rng.uniform(0.0, 0.3))
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1
        mid_snapshot += any(p.suffix == ".tmp" for p in registry.iterdir())  # cut short
    assert wait_for(lambda: _served(registry) == N_KAFKA, timeout=120), _newest(registry)
    process.send_signal(signal.SIGTERM)  # a clean stop: one more checkpoint, then exit
    process.communicate(timeout=60)
    assert process.returncode == 0
    assert mid_snapshot >= 1, "no kill landed inside a snapshot write"
    state, version = LocalRegistry(registry).latest()
    np.testing.assert_array_equal(state.arrays["table"], reference.model.state().arrays["table"])
    counters = version.notes["counters"]
    assert counters["served"] == reference.counters["served"] == N_KAFKA  # none lost
    assert counters["learned"] == reference.counters["learned"]  # none twice
    assert state.parts["runner"].meta["source"]["positions"] == {"crash-events:0": N_KAFKA}
    assert not [p for p in registry.iterdir() if p.suffix == ".tmp"]  # tidied on resume


def _redis_client(port: int) -> redis.Redis:
    # Timeouts: a client without them would wait forever on a server that stopped answering.
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=2, socket_connect_timeout=2)


def test_redis_down_a_while_the_service_serves_reports_and_recovers(tmp_path):
    port = free_port()
    server = start_redis(port, tmp_path, durable=True)
    try:
        events = LiveEvents()
        runner = Runner(
            LogisticRegression(bits=10),
            events,
            registry=RedisRegistry(_redis_client(port), "outage"),
            checkpoint_every=None,
            checkpoint_seconds=0.3,
            drain_at_end=False,
        )
        trainer = Trainer(runner, events, publish_every=0.05)
        trainer.start()
        replica = Replica(RedisRegistry(_redis_client(port), "outage"), poll_every=0.1)
        replica.start()
        trained = TestClient(create_app(trainer=trainer, token="t"))
        served = TestClient(create_app(replica=replica))
        feed = lambda n: events.put([{"colour": "red"}] * n, labels=[1.0] * n)  # noqa: E731
        feed(100)
        assert wait_for(lambda: replica.serving is not None)
        before = replica.serving.version
        health = lambda c: c.get("/health").json()  # noqa: E731
        assert health(trained)["status"] == health(served)["status"] == "ok"

        server.kill()
        server.wait()
        feed(100)
        assert wait_for(lambda: health(trained)["status"] == "degraded")
        assert "checkpoint failed" in health(trained)["error"]
        assert wait_for(lambda: health(served)["status"] == "degraded")
        assert "registry unreachable" in health(served)["error"]
        assert trained.get("/health").status_code == served.get("/health").status_code == 503
        # degraded, not dead: a liveness probe leaves it running, it still takes traffic
        assert trained.get("/livez").status_code == served.get("/readyz").status_code == 200
        answer = served.post("/predict", json={"features": {"colour": "red"}})
        assert answer.status_code == 200
        assert answer.json()["predictions"][0]["model_version"] == before
        assert wait_for(lambda: trainer.serving.events_learned == 200)  # still learning

        server = start_redis(port, tmp_path, durable=True)  # same data (append-only file)
        feed(100)
        assert wait_for(lambda: health(trained)["status"] == "ok")
        assert wait_for(lambda: health(served)["status"] == "ok")
        assert wait_for(lambda: replica.serving.events_learned == 300)  # a newer version
        assert replica.serving.version != before and runner.checkpoints.failures > 0
        trainer.stop()
        replica.stop()
    finally:
        server.kill()
        server.wait()


DISK_CONFIG = """
[source]
path = "clicks.csv"
target = "click"
[model]
bits = 16
[labels]
store_path = "{registry}.sqlite"
[checkpoint]
registry = "{registry}"
every_events = 4000
[output]
micro_batch = 1000
"""


def _run_cli(folder, config, file_size_limit=None) -> subprocess.CompletedProcess:
    def limit_file_size() -> None:  # in the child: a disk that takes only this much
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write fails instead (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    return subprocess.run(
        [sys.executable, "-m", "streamlearn.cli.main", "run", config, "--output", "json"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=limit_file_size if file_size_limit else None,
    )


def test_a_disk_that_fills_during_a_snapshot_keeps_the_previous_version(tmp_path):
    pacsv.write_csv(synth.click_stream(20_000, seed=4, drift=False), tmp_path / "clicks.csv")
    (tmp_path / "whole.toml").write_text(DISK_CONFIG.format(registry="whole"))
    whole = build_runner(load_config_text(DISK_CONFIG.format(registry="whole"), base=tmp_path))
    whole.run()
    (tmp_path / "full.toml").write_text(DISK_CONFIG.format(registry="full"))
    first = subprocess.run(
        [sys.executable, "-m", "streamlearn.cli.main", "run", "full.toml", "--limit", "4000"],
        cwd=tmp_path,
        capture_output=True,
    )
    assert first.returncode == 0, first.stderr
    registry = LocalRegistry(tmp_path / "full")
    size = (tmp_path / "full" / "v000002.snap").stat().st_size
    # Every later snapshot is cut off half way: the periodic ones are logged and retried,
    # the last one fails the run with a clear error.
    full = _run_cli(tmp_path, "full.toml", file_size_limit=size // 2)
    assert full.returncode != 0
    assert "checkpoint failed" in full.stderr and "File too large" in full.stderr
    assert [v.id for v in registry.versions()] == ["v000001", "v000002"]  # start, 4000
    state, version = registry.latest()  # checksummed: whole
    assert version.offsets == {"file": 4000}
    assert not list((tmp_path / "full").glob("*.tmp"))  # no half-written file left behind
    # Space again: the run resumes from the last good version and ends as if nothing happened.
    again = _run_cli(tmp_path, "full.toml")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["resumed_from"] == "v000002"
    state, version = registry.latest()
    np.testing.assert_array_equal(state.arrays["table"], whole.model.state().arrays["table"])
    assert version.offsets == {"file": 20_000}


def test_wall_clock_steps_neither_expire_nor_hold_waiting_events(monkeypatch):
    events = LiveEvents()
    runner = Runner(
        LogisticRegression(bits=8), events, ttl=1.0, expiry="default", drain_at_end=False
    )
    thread = _in_thread(runner)
    real_time = time.time
    events.put([{"colour": "red"}], ids=["a"])
    monkeypatch.setattr(time, "time", lambda: real_time() + 3600)  # an hour ahead
    time.sleep(0.4)
    assert runner.counters["expired"] == 0  # the step did not expire it
    events.put_feedback(["a"], [1.0])
    assert wait_for(lambda: runner.counters["learned"] == 1)
    assert runner.counters["expired"] == 0  # learned with its own label
    events.put([{"colour": "blue"}], ids=["b"])
    monkeypatch.setattr(time, "time", lambda: real_time() - 3600)  # an hour back
    assert wait_for(lambda: runner.counters["expired"] == 1, timeout=5)  # after its TTL
    runner.request_stop()
    events.close()
    thread.join(10)


def test_a_producer_clock_far_ahead_cannot_expire_everything():
    clock = StreamClock()
    now = clock.now()
    bounded = clock.bound(np.array([now - 10, now + 30, now + 86_400]))
    assert bounded[0] == pytest.approx(now - 10) and bounded[1] == pytest.approx(now + 30)
    assert bounded[2] <= clock.now() + clock.max_ahead
