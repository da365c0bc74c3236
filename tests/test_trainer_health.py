"""A stalled trainer is reported (``/health`` 503, ``streamlearn_up`` 0) and recovers; a
trainer that stops on an error makes ``streamlearn serve`` exit 1 for its supervisor."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import numpy as np
from fastapi.testclient import TestClient

from streamlearn.base.state import register
from streamlearn.models import LogisticRegression
from streamlearn.runner import Runner
from streamlearn.service import Trainer
from streamlearn.service.app import create_app
from streamlearn.streams import LiveEvents
from tests.conftest import free_port
from tests.test_recovery import POISON, BrittleClassifier
from tests.test_service import wait_for

SLOW = 7.5
AUTH = {"Authorization": "Bearer t"}
RELEASE = threading.Event()
ROOT = str(Path(__file__).parents[1])  # where the child process finds ``tests``


@register
class StuckClassifier(LogisticRegression):
    """Hangs on an event of size SLOW until the test releases it (a trainer stuck on I/O)."""

    def serve_many(self, X):
        if np.any(np.asarray(X["size"]) == SLOW):
            RELEASE.wait(60)
        return super().serve_many(X)


def learn(client, size, n=10):
    body = {"events": [{"features": {"size": size}, "label": 1}] * n}
    return client.post("/learn", json=body, headers=AUTH)


def test_a_stalled_trainer_is_down_until_it_moves_again():
    live = LiveEvents()
    trainer = Trainer(
        Runner(StuckClassifier(bits=8), live, drain_at_end=False), live, stall_seconds=0.5
    )
    trainer.start()
    client = TestClient(create_app(trainer=trainer, token="t"))
    try:
        assert learn(client, 0.1).status_code == 200
        assert wait_for(lambda: client.get("/health").status_code == 200)
        assert learn(client, SLOW).status_code == 200
        assert wait_for(lambda: client.get("/health").status_code == 503)
        health = client.get("/health").json()
        assert health["status"] == "down" and "trainer stalled" in health["error"]
        assert "streamlearn_up 0.0" in client.get("/metrics").text
        RELEASE.set()
        assert wait_for(lambda: client.get("/health").status_code == 200)
        assert "streamlearn_up 1.0" in client.get("/metrics").text
        assert wait_for(lambda: trainer.runner.counters["learned"] == 20)
    finally:
        RELEASE.set()
        trainer.stop()


def serve_a_brittle_trainer() -> None:
    """`streamlearn serve` whose trainer has no registry to go back to (run in a child):
    an event that fails in it stops it."""
    from streamlearn.cli.main import main
    from streamlearn.service import serve as serving

    def build(config):
        live = LiveEvents()
        trainer = Trainer(Runner(BrittleClassifier(bits=8), live, drain_at_end=False), live)
        trainer.start()
        return create_app(trainer=trainer, token="t"), trainer

    serving.build_service = build
    main()


def test_serve_exits_1_when_its_trainer_stops_on_an_error(tmp_path):
    port = free_port()
    (tmp_path / "serve.toml").write_text(f"[service]\nport = {port}\n")
    code = "from tests.test_trainer_health import serve_a_brittle_trainer as s; s()"
    process = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "serve.toml"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        env=os.environ | {"PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")])},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: _answers(base), timeout=60)
        events = [{"features": {"size": POISON, "colour": "red"}, "label": 1}]
        httpx.post(f"{base}/learn", json={"events": events}, headers=AUTH, timeout=5)
        assert process.wait(timeout=60) == 1
    finally:
        process.kill()
    stderr = process.stderr.read().decode()
    assert "trainer stopped" in stderr and "a poisoned event" in stderr
    assert "exiting for the supervisor to restart" in stderr


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
