"""Hostile requests, generated, to a running ``streamlearn serve``: invalid Unicode in names
and values, wide events, deep nesting, huge and non-finite numbers, labels of every type.
No answer is a 500, every refusal says why, the process and its trainer live on, its model
stays sane, and 10,000 such requests leave its memory within 200 MB of where it started."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import httpx
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamlearn.registry import LocalRegistry
from tests.conftest import start_serve

CONFIG = """
[model]
task = "binary"
bits = 14
[labels]
ttl = 5
[checkpoint]
registry = "registry"
every_seconds = 2
[output]
dead_letters = "dead.jsonl"
[service]
port = {port}
token = "t"
publish_every = 0.1
"""
AUTH = {"Authorization": "Bearer t", "Content-Type": "application/json"}
REQUESTS_PER_EXAMPLE, EXAMPLES = 100, 100  # 10,000 requests in all

BAD_TEXT = st.sampled_from(["\ud800", "a\udfffb", "\udbff\udc00\ud800", "x" * 300, "", "\x00"])
NAMES = st.text(max_size=8) | BAD_TEXT
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([1e308, -1e308, 1e12, 1e13, 5e-324, -0.0])
    | st.text(max_size=12)
    | BAD_TEXT
)
VALUES = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(NAMES, inner, max_size=3),
    max_leaves=6,
)
FEATURES = st.dictionaries(NAMES, VALUES, max_size=6) | st.integers(900, 1500).map(
    lambda n: {f"k{i}": float(i) for i in range(n)}  # wider than an event may be, or nearly
)
LABELS = VALUES | st.sampled_from([0, 1, True, False, 2, -1, 0.5, 1e308, "1", None])
IDS = st.integers(-(10**20), 10**20) | st.text(max_size=20) | BAD_TEXT | st.none()


@st.composite
def requests(draw):
    path = draw(st.sampled_from(["/predict", "/learn", "/feedback", "/rank"]))
    features = draw(FEATURES)
    if path == "/predict":
        body = draw(
            st.sampled_from(
                [
                    {"features": features},
                    {"events": [{"features": features, "id": draw(IDS)}]},
                    {"features": [features]},
                ]
            )
        )
    elif path == "/learn":
        n = draw(st.integers(1, 3))
        body = {"events": [{"features": features, "label": draw(LABELS)}] * n}
    elif path == "/feedback":
        body = {"id": draw(IDS), "label": draw(LABELS)}
    else:
        body = {"candidates": [{"id": draw(IDS), "features": features}]}
    return path, json.dumps(body, allow_nan=True)  # lone surrogates as "\ud800" escapes


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def warm_up(client: httpx.Client) -> None:
    """Every kind of good request first: kernels compiled, buffers grown, caches filled."""
    events = [
        {"features": {"a": i % 7, "c": ["x", "y"][i % 2]}, "label": i % 2} for i in range(500)
    ]
    for _ in range(10):
        assert client.post("/learn", json={"events": events}, headers=AUTH).status_code == 200
        for i in range(20):
            body = {"events": [{"features": {"a": i, "c": "x"}, "id": f"w{i}"}]}
            assert client.post("/predict", json=body).status_code == 200
            client.post("/feedback", json={"id": f"w{i}", "label": 1}, headers=AUTH)


def test_hostile_requests_to_a_running_service(tmp_path):
    process, base = start_serve(tmp_path, CONFIG)
    answers: dict[int, int] = {}
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            warm_up(client)
            time.sleep(2)
            start_mb = rss_mb(process.pid)

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(
                st.lists(requests(), min_size=REQUESTS_PER_EXAMPLE, max_size=REQUESTS_PER_EXAMPLE)
            )
            def hostile(batch):
                for path, body in batch:
                    answer = client.post(path, content=body, headers=AUTH)
                    answers[answer.status_code] = answers.get(answer.status_code, 0) + 1
                    assert answer.status_code < 500 or answer.status_code == 503, (
                        path,
                        body[:300],
                        answer.text[:300],
                    )
                    if answer.status_code in (413, 422):
                        assert answer.json()["detail"], "a refusal says why"

            hostile()
            assert sum(answers.values()) >= REQUESTS_PER_EXAMPLE * EXAMPLES
            assert answers.get(422, 0) > 1000 and answers.get(200, 0) > 1000, answers
            health = client.get("/health")
            assert health.status_code == 200 and health.json()["status"] == "ok", health.text
            time.sleep(3)  # the trainer learns what is queued
            grown = rss_mb(process.pid) - start_mb
            print(f"service memory {start_mb:.0f} MB after warm-up, {grown:+.0f} MB after", answers)
            assert grown < 200, f"the service grew {grown:.0f} MB over 10,000 requests"
            assert process.poll() is None
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err.decode()[-3000:]
    state, _ = LocalRegistry(tmp_path / "registry").latest()
    assert all(np.isfinite(a).all() for a in state.arrays.values() if a.dtype.kind == "f")
    weights = np.concatenate([state.arrays["table"].ravel(), state.arrays["intercept"]])
    assert np.abs(weights).max() < 1e4, "no absurd weight"
