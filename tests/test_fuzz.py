"""Bad input, generated (hypothesis): corrupted snapshots, configs, HTTP bodies. Each entry
point answers with its own clear error — never another exception, never a 500."""

from __future__ import annotations

import contextlib
import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamlearn.base import snapshot_bytes
from streamlearn.base.state import load_snapshot
from streamlearn.models import LogisticRegression
from streamlearn.runner import Runner
from streamlearn.runner.config import ConfigError, load_config_text
from streamlearn.runner.live import LiveEvents
from streamlearn.service import Trainer
from streamlearn.service.app import create_app

FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip


def valid_snapshot() -> bytes:
    model = LogisticRegression(bits=6)
    model.learn_many({"a": np.arange(20.0), "b": np.array(["x", "y"] * 10)}, np.ones(20))
    return snapshot_bytes(model.state(), {"events": 20})[0]


SNAPSHOT = valid_snapshot()


@FAST
@given(st.lists(st.tuples(st.integers(0, len(SNAPSHOT) - 1), st.integers(0, 255)),
                min_size=1, max_size=5), st.integers(0, len(SNAPSHOT)))  # fmt: skip
def test_a_corrupted_snapshot_is_refused_with_a_value_error(flips, cut):
    data = bytearray(SNAPSHOT)
    for at, value in flips:
        data[at] = value
    for candidate in (bytes(data), bytes(data[:cut])):
        if candidate == SNAPSHOT:
            continue
        with pytest.raises(ValueError):
            load_snapshot(candidate)


@FAST
@given(st.dictionaries(st.text(max_size=12), st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=3),
    max_leaves=8), max_size=6))  # fmt: skip
def test_a_config_is_valid_or_refused_with_a_config_error(raw):
    sections = {"model", "labels", "checkpoint", "output", "service", "drift", "kafka"}
    text = "\n".join(f"[{name}]\n{key} = {json.dumps(value)}" for name in sorted(sections)
                     for key, value in list(raw.items())[:1])  # fmt: skip
    with contextlib.suppress(ConfigError):  # valid, or refused with a ConfigError
        load_config_text(text)


@pytest.fixture(scope="module")
def client():
    live = LiveEvents()
    trainer = Trainer(Runner(LogisticRegression(bits=8), live, drain_at_end=False), live)
    trainer.start()
    yield TestClient(create_app(trainer=trainer, token="t"), raise_server_exceptions=False)
    trainer.stop()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=20,
)  # fmt: skip


@FAST
@given(path=st.sampled_from(["/predict", "/learn", "/feedback", "/decide"]), body=JSON)
def test_no_http_body_makes_the_service_fail(client, path, body):
    answer = client.post(path, content=json.dumps(body, allow_nan=True),
                         headers={"Authorization": "Bearer t",
                                  "Content-Type": "application/json"})  # fmt: skip
    assert answer.status_code < 500, (path, body, answer.text)


@FAST
@given(st.binary(max_size=200))
def test_raw_bytes_never_make_the_service_fail(client, raw):
    for path in ("/predict", "/learn"):
        headers = {"Authorization": "Bearer t", "Content-Type": "application/json"}
        answer = client.post(path, content=raw, headers=headers)
        assert answer.status_code < 500
