"""Soak: mixed predict / feedback traffic on the live service for minutes, with learning on.

python bench/bench_soak.py [--minutes 10] [--rate 1000] [--markdown out.md]

``streamlearn serve`` runs in its own process (checkpoints every 10 s, old versions pruned).
A client on loopback sends ``rate`` requests/s on a fixed schedule over keep-alive
connections: three in four are a tracked ``POST /predict`` with an event id, one in four a
``POST /feedback`` with the label of an event predicted a moment before (the trainer joins
them and learns); events whose label never comes expire after the TTL. Every 10 s the
server's resident memory is read from ``/proc``. Reported per minute: requests, errors
(non-2xx or broken connections), latency p50/p99, the server's RSS and events learned.

The claim checked: zero errors, and memory that stays flat once the join store has filled to
its TTL (the first minute). Wall clock, one run: compare within the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _report import emit  # noqa: E402 - bench/ is on the path of its scripts
from bench_service import CONFIG as SERVICE_CONFIG  # noqa: E402
from bench_service import event, start_server  # noqa: E402

# The service benchmark's server, with a shorter TTL and a bounded registry.
CONFIG = (
    SERVICE_CONFIG.replace("ttl = 60", "ttl = 30")
    .replace("every_seconds = 10", "every_seconds = 10\nkeep = 5")
    .replace('"bench"', '"soak"')
    .replace("publish_every = 0.1", "publish_every = 0.2")
)
TOKEN = b"Bearer soak"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _request(path: bytes, body: bytes, auth: bool) -> bytes:
    head = b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" % path
    head += b"Authorization: %s\r\n" % TOKEN if auth else b""
    return head + b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


class Soak:
    """The schedule, the connections and what they saw, per second of the run."""

    def __init__(self, host: str, port: int, seconds: float, rate: float, connections: int):
        self.host, self.port, self.seconds, self.rate = host, port, seconds, rate
        self.connections = connections
        self.latencies: list[list[float]] = [[] for _ in range(int(seconds) + 2)]
        self.errors = np.zeros(int(seconds) + 2, np.int64)
        self.predicted: deque[str] = deque()  # ids waiting for their feedback
        self.rng = np.random.default_rng(5)

    def body(self, i: int) -> tuple[bytes, bool]:
        """Request ``i``: every fourth is feedback for an event predicted shortly before."""
        if i % 4 == 3 and self.predicted:
            event_id = self.predicted.popleft()
            label = int(self.rng.random() < 0.3)
            payload = {"labels": [{"id": event_id, "label": label}]}
            return _request(b"/feedback", json.dumps(payload).encode(), True), True
        event_id = f"e{i}"
        if self.rng.random() < 1 / 3:  # a label follows; the others' never come: they expire
            self.predicted.append(event_id)
        payload = {"id": event_id, "features": event(self.rng), "track": True}
        return _request(b"/predict", json.dumps(payload).encode(), False), False

    async def connection(self, k: int, start: float) -> None:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        n = int(self.seconds * self.rate)
        for i in range(k, n, self.connections):
            wait = start + i / self.rate - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            second = int(time.perf_counter() - start)
            request, _ = self.body(i)
            t0 = time.perf_counter()
            try:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                if not head.startswith(b"HTTP/1.1 2"):
                    self.errors[second] += 1
            except (OSError, asyncio.IncompleteReadError, IndexError):
                self.errors[second] += 1
                writer.close()
                reader, writer = await asyncio.open_connection(self.host, self.port)
                continue
            self.latencies[second].append(time.perf_counter() - t0)
        writer.close()

    async def run(self, sample) -> float:
        start = time.perf_counter() + 0.5
        sampler = asyncio.create_task(sample(start))
        await asyncio.gather(*(self.connection(k, start) for k in range(self.connections)))
        sampler.cancel()
        return time.perf_counter() - start


def soak(minutes: float, rate: float, connections: int = 16) -> tuple[list[str], dict]:
    import httpx

    with tempfile.TemporaryDirectory() as folder:
        process, base = start_server(Path(folder), CONFIG)
        host, port = base.removeprefix("http://").split(":")
        samples: list[tuple[float, float, int]] = []  # (seconds in, RSS MB, events learned)

        async def sample(start: float) -> None:
            async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as client:
                while True:
                    health = (await client.get("/health")).json()
                    samples.append(
                        (time.perf_counter() - start, rss_mb(process.pid), health["events_learned"])
                    )
                    await asyncio.sleep(10)

        run = Soak(host, int(port), minutes * 60, rate, connections)
        try:
            elapsed = asyncio.run(run.run(sample))
            health = httpx.get(f"http://{host}:{port}/health").json()
            versions = len(list((Path(folder) / "registry").glob("v*.snap")))
        finally:
            process.terminate()
            process.wait(60)
    return _table(run, samples, elapsed, health, versions, rate)


def _table(run: Soak, samples, elapsed, health, versions, rate) -> tuple[list[str], dict]:
    rows = [
        "| minute | requests | errors | p50 ms | p99 ms | server RSS MB | events learned |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    minutes = int(np.ceil(len(run.latencies) / 60))
    for m in range(minutes):
        window = [x for sec in run.latencies[m * 60 : (m + 1) * 60] for x in sec]
        if not window:
            continue
        ms = np.array(window) * 1000
        inside = [s for s in samples if m * 60 <= s[0] < (m + 1) * 60] or samples[-1:]
        rows.append(
            f"| {m + 1} | {len(window):,} | {int(run.errors[m * 60 : (m + 1) * 60].sum())} "
            f"| {np.percentile(ms, 50):.2f} | {np.percentile(ms, 99):.2f} "
            f"| {inside[-1][1]:.0f} | {inside[-1][2]:,} |"
        )
    total = sum(len(sec) for sec in run.latencies)
    errors = int(run.errors.sum())
    rss = [s[1] for s in samples]
    after_first = [s[1] for s in samples if s[0] >= 60] or rss
    summary = {
        "requests": total,
        "errors": errors,
        "achieved_rate": total / elapsed,
        "rss_first": rss[0],
        "rss_after_minute_1_min": min(after_first),
        "rss_after_minute_1_max": max(after_first),
        "rss_last": rss[-1],
        "health": health["status"],
        "versions_on_disk": versions,
        "learned": health["events_learned"],
    }
    rows.append("")
    rows.append(
        f"{total:,} requests at {summary['achieved_rate']:,.0f}/s asked {rate:,.0f}/s; "
        f"errors: {errors}; server RSS {rss[0]:.0f} MB at the start, "
        f"{min(after_first):.0f}–{max(after_first):.0f} MB after the first minute, "
        f"{rss[-1]:.0f} MB at the end; health {health['status']}; "
        f"{versions} versions on disk (keep = 5)."
    )
    return rows, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()
    print(f"soak: {args.minutes:g} minutes at {args.rate:,.0f} requests/s …", flush=True)
    rows, summary = soak(args.minutes, args.rate)
    emit(rows, args.markdown)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
