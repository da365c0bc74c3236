"""Security: registry ids cannot reach outside the registry, over the API either."""

from __future__ import annotations

import json
import shutil

import pytest
from fastapi.testclient import TestClient

from streamlearn.base.state import LENGTH, MAGIC, _digest
from streamlearn.models import LogisticRegression
from streamlearn.registry import CorruptVersion, LocalRegistry
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


KEY = b"0123456789abcdef-signing-key"


def forge(folder, key=None, **params):
    """A version written into ``folder`` by someone without the registry's key."""
    state = LogisticRegression(bits=4).state()
    state.params |= params
    return LocalRegistry(folder, key=key).save(state, events=0)


def resealed(data: bytes, change) -> bytes:
    """A snapshot whose header ``change`` edited, with its checksum made to fit again."""
    start = len(MAGIC) + LENGTH
    end = start + int.from_bytes(data[len(MAGIC) : start], "little")
    header, payload = json.loads(data[start:end]), data[end:]
    change(header)
    header["sha256"] = _digest(header, [payload])
    text = json.dumps(header, sort_keys=True).encode()
    return MAGIC + len(text).to_bytes(LENGTH, "little") + text + payload


def test_a_signed_registry_refuses_versions_it_did_not_sign(tmp_path):
    folder = tmp_path / "registry"
    signed = LocalRegistry(folder, key=KEY)
    good = signed.save(LogisticRegression(bits=4).state(), events=0)
    assert signed.load(good.id)[0].kind == "LogisticRegression"
    assert LocalRegistry(folder).load(good.id)[1].id == good.id  # a checksum reader still reads
    unsigned, other_key = forge(folder), forge(folder, key=b"another-key-of-16-bytes")
    with pytest.raises(CorruptVersion, match="not signed"):
        signed.load(unsigned.id)
    with pytest.raises(CorruptVersion, match="signature mismatch"):
        signed.load(other_key.id)
    # A forger edits a signed version and fixes its checksum: the signature no longer fits.
    path = folder / f"{good.id}.snap"
    path.write_bytes(resealed(path.read_bytes(), lambda header: header["params"].update(bits=5)))
    assert LocalRegistry(folder).load(good.id)[0].params["bits"] == 5  # the checksum fits
    with pytest.raises(CorruptVersion, match="signature mismatch"):
        signed.load(good.id)
    with pytest.raises(ValueError, match="at least 16 bytes"):
        LocalRegistry(folder, key=b"short")


def test_a_run_on_a_signed_registry_skips_a_forged_newest_version(tmp_path):
    from streamlearn.datasets import elec2
    from streamlearn.runner import Runner
    from streamlearn.streams import FileEvents

    folder = tmp_path / "registry"

    def runner():
        events = FileEvents(elec2.path(), "target")
        registry = LocalRegistry(folder, key=KEY)
        return Runner(LogisticRegression(bits=10), events, registry=registry)

    runner().run(limit=5000)
    forged = forge(folder)
    with pytest.warns(UserWarning, match="not signed"):
        summary = runner().run(limit=1000)
    assert summary.resumed_from != forged.id and summary.resumed_from is not None


def test_the_config_and_the_cli_take_a_key_file(tmp_path):
    from streamlearn.config import load_config_text
    from streamlearn.config.build import build_registry
    from tests.test_runner_cli import run

    key_file = tmp_path / "registry.key"
    key_file.write_bytes(KEY + b"\n")
    config = load_config_text(
        '[checkpoint]\nregistry = "reg"\nkey_file = "registry.key"\n', base=tmp_path
    )
    registry = build_registry(config)
    assert registry.key == KEY
    good = registry.save(LogisticRegression(bits=4).state(), events=0)
    bad = forge(tmp_path / "reg")
    shown = run("registry", "--key-file", str(key_file), "show", str(tmp_path / "reg"), good.id)
    assert shown.returncode == 0, shown.stderr
    refused = run("registry", "--key-file", str(key_file), "show", str(tmp_path / "reg"), bad.id)
    assert refused.returncode == 1 and "not signed" in refused.stderr
    key_file.write_bytes(b"short")
    with pytest.raises(ValueError, match=r"registry\.key: a signing key needs at least 16 bytes"):
        build_registry(config)
