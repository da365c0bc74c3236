"""Security: registry ids cannot reach outside the registry, over the API either."""

from __future__ import annotations

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
