"""`streamlearn serve CONFIG.toml` as a user runs it: a real server on a loopback port."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import httpx

from tests.conftest import start_serve

CONFIG = """
[model]
task = "binary"
bits = 16
[labels]
ttl = 30
[checkpoint]
registry = "registry"
every_seconds = 0.5
[service]
port = {port}
token = "t0ken"
publish_every = 0.05
"""


def test_serve_learns_over_http_and_stops_with_a_checkpoint(tmp_path):
    process, base = start_serve(tmp_path, CONFIG)
    try:
        auth = {"Authorization": "Bearer t0ken"}
        events = [
            {"features": {"colour": c}, "label": float(c == "red")} for c in ["red", "blue"] * 500
        ]
        assert httpx.post(f"{base}/learn", json={"events": events}, headers=auth).json() == {
            "accepted": 1000
        }
        deadline = time.monotonic() + 30
        while httpx.get(f"{base}/health").json()["events_learned"] < 999:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        answer = httpx.post(f"{base}/predict", json={"features": {"colour": "red"}}).json()
        assert answer["predictions"][0]["prediction"] is True
        assert httpx.get(f"{base}/docs").status_code == 200
        assert 'streamlearn_events_total{kind="learned"}' in httpx.get(f"{base}/metrics").text
        assert httpx.post(f"{base}/learn", json={"events": events}).status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err.decode()
    assert b"stopped:" in err and (tmp_path / "registry").glob("v*.snap")
    versions = sorted((tmp_path / "registry").glob("v*.snap"))
    assert versions, "a checkpoint was written"


def serve_until_refused(folder, name: str, port: int) -> subprocess.CompletedProcess:
    """``streamlearn serve`` on ``port`` with the test's config, expected to stop."""
    (folder / name).write_text(CONFIG.format(port=port))
    command = [sys.executable, "-m", "streamlearn.cli.main", "serve", name]
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=120)


def test_a_taken_port_is_one_line_and_a_non_zero_exit(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = serve_until_refused(tmp_path, "serve.toml", port)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]
    assert not (tmp_path / "registry").exists()  # refused before anything started


def test_a_second_trainer_on_the_same_registry_is_refused_in_one_line(tmp_path):
    from tests.conftest import free_port

    process, _ = start_serve(tmp_path, CONFIG)
    try:
        done = serve_until_refused(tmp_path, "second.toml", free_port())
        assert done.returncode == 1
        assert done.stderr.strip().splitlines() == [
            f"error: registry registry is in use by another trainer (pid {process.pid}): "
            "stop it, or give this one a registry of its own"
        ]
        assert process.poll() is None  # the first one serves on
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
