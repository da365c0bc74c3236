"""Security: registry ids cannot reach outside the registry, over the API either."""

from __future__ import annotations

import json
import shutil

import pytest
from fastapi.testclient import TestClient

from streamlearn.models import LogisticRegression
from streamlearn.registry import LocalRegistry
from streamlearn.service import Replica
from streamlearn.service.app import create_app


def test_version_ids_cannot_walk_out_of_the_registry(tmp_path):
    registry = LocalRegistry(tmp_path / "registry")
    version = registry.save(LogisticRegression(bits=4).state(), events=0)
    registry.promote(version.id)
    outside = tmp_path / "v000001.snap"  # a snapshot lying next to the registry folder
    shutil.copy(tmp_path / "registry" / f"{version.id}.snap", outside)
    for bad in ("../v000001", "v000001/../v000001", "/etc/passwd", "v1", "", "v000001.snap"):
        with pytest.raises(KeyError):
            registry.load(bad)
        with pytest.raises(KeyError):
            registry.promote(bad)
    app = create_app(replica=Replica(registry), registry=registry, token="t")
    client = TestClient(app)
    for bad in ("..%2Fv000001", "%2E%2E%2Fv000001", "v000001%2F..%2F..%2Fetc"):
        assert client.get(f"/models/{bad}").status_code == 404
        answer = client.post(f"/models/{bad}/promote", headers={"Authorization": "Bearer t"})
        assert answer.status_code == 404
    assert client.get(f"/models/{version.id}").status_code == 200


SECRET_SERVICE = """
[model]
task = "binary"
[labels]
store = "memory"
[checkpoint]
redis_registry = "secret"
every_seconds = 0.2
[redis]
url = "redis://:{password}@127.0.0.1:{redis_port}/0"
timeout = 1.0
[service]
port = {{port}}
token = "{token}"
"""


def test_secrets_stay_out_of_logs_errors_and_health(tmp_path):
    """The service token and a Redis password never reach the logs (debug level, JSON), the
    health answer or an error, even while Redis is down and every checkpoint fails."""
    import signal

    import httpx

    from tests.conftest import free_port, start_redis, start_serve
    from tests.test_service import wait_for

    password, token, redis_port = "pw-Zq81-secret", "tok-Vx42-secret", free_port()
    server = start_redis(redis_port, tmp_path, password=password)
    text = SECRET_SERVICE.format(password=password, token=token, redis_port=redis_port)
    process = None
    try:
        process, base = start_serve(tmp_path, text, "--log-format", "json", "--log-level", "debug")
        event = {"events": [{"features": {"a": 1.0}, "label": 1}]}
        wrong = httpx.post(f"{base}/learn", json=event, headers={"Authorization": "Bearer no"})
        assert wrong.status_code == 401
        auth = {"Authorization": f"Bearer {token}"}
        for _ in range(5):
            assert httpx.post(f"{base}/learn", json=event, headers=auth).status_code == 200
        server.kill()
        server.wait()
        httpx.post(
            f"{base}/learn", json={"events": [{"features": {"a": 2.0}, "label": 0}]}, headers=auth
        )
        assert wait_for(lambda: httpx.get(f"{base}/health").json()["status"] == "degraded")
        health = httpx.get(f"{base}/health").json()
        assert "checkpoint failed" in health["error"]
        assert password not in json.dumps(health) and token not in json.dumps(health)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
        logged = err.decode()
        assert "checkpoint failed" in logged  # the outage is in the log …
        assert password not in logged and token not in logged  # … the secrets are not
    finally:
        if process is not None and process.poll() is None:
            process.kill()
        server.kill()


def test_a_damaged_tags_file_is_an_error_that_names_it(tmp_path):
    """Garbage in a registry's tags.json: a ValueError naming the file, not a bare
    JSONDecodeError from somewhere."""
    registry = LocalRegistry(tmp_path / "registry")
    registry.save(LogisticRegression(bits=4).state())
    for garbage in (b"{not json", b"\xff\xfe", b'["a list"]', b'{"champion": 3}'):
        (tmp_path / "registry" / "tags.json").write_bytes(garbage)
        with pytest.raises(ValueError, match=r"tags\.json: not a tags file"):
            registry.tags()
