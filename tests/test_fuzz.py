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
from streamlearn.config import ConfigError, load_config_text
from streamlearn.models import LogisticRegression
from streamlearn.runner import Runner
from streamlearn.service import Trainer
from streamlearn.service.app import create_app
from streamlearn.streams.batch import EventBatch
from streamlearn.streams.live import LiveEvents

FAST = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def valid_snapshot() -> bytes:
    model = LogisticRegression(bits=6)
    model.learn_many({"a": np.arange(20.0), "b": np.array(["x", "y"] * 10)}, np.ones(20))
    return snapshot_bytes(model.state(), {"events": 20})[0]


SNAPSHOT = valid_snapshot()


@FAST
@given(
    st.lists(
        st.tuples(st.integers(0, len(SNAPSHOT) - 1), st.integers(0, 255)), min_size=1, max_size=5
    ),
    st.integers(0, len(SNAPSHOT)),
)
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
@given(
    st.dictionaries(
        st.text(max_size=12),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=8), inner, max_size=3)
            ),
            max_leaves=8,
        ),
        max_size=6,
    )
)
def test_a_config_is_valid_or_refused_with_a_config_error(raw):
    sections = {"model", "labels", "checkpoint", "output", "service", "drift", "kafka"}
    text = "\n".join(
        f"[{name}]\n{key} = {json.dumps(value)}"
        for name in sorted(sections)
        for key, value in list(raw.items())[:1]
    )
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
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@FAST
@given(path=st.sampled_from(["/predict", "/rank", "/learn", "/feedback", "/decide"]), body=JSON)
def test_no_http_body_makes_the_service_fail(client, path, body):
    answer = client.post(
        path,
        content=json.dumps(body, allow_nan=True),
        headers={"Authorization": "Bearer t", "Content-Type": "application/json"},
    )
    assert answer.status_code < 500, (path, body, answer.text)


@FAST
@given(st.binary(max_size=200))
def test_raw_bytes_never_make_the_service_fail(client, raw):
    for path in ("/predict", "/rank", "/learn"):
        headers = {"Authorization": "Bearer t", "Content-Type": "application/json"}
        answer = client.post(path, content=raw, headers=headers)
        assert answer.status_code < 500


HUGE_BODIES = [
    b'{"features": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_000 + b"}",  # deep nesting
    b"[" * 100_000 + b"]" * 100_000,
    b'{"features": {"a": 1e999999}}',  # inf: absent
    b'{"features": {"a": ' + b"9" * 100_000 + b"}}",  # beyond Python's int-text limit
    b'{"features": {"' + b"k" * 1_000_000 + b'": 1}}',  # a 1 MB feature name
]


def test_deep_and_huge_bodies_get_an_answer_not_a_500(client):
    for body in HUGE_BODIES:
        for path in ("/predict", "/rank", "/learn", "/feedback", "/decide"):
            answer = client.post(
                path,
                content=body,
                headers={"Authorization": "Bearer t", "Content-Type": "application/json"},
            )
            assert answer.status_code < 500, (path, body[:40], answer.text[:200])


NASTY_TEXT = st.sampled_from(
    [
        "nan",
        "NaN",
        "inf",
        "-inf",
        "1e400",
        "-1e400",
        "9" * 400,
        "",
        " ",
        '"',
        '""',
        ",",
        "x" * 5000,
        "\u00e9\u4e2d\U0001f600",
        "0x1F",
        "true",
        "null",
        "[1, 2]",
        '{"a": 1}',
        "1,2",
        "\\",
        "\n",
    ]
) | st.text(max_size=12)
NASTY_BYTES = st.sampled_from([b"\xff\xfe", b"\xc3\x28", b"\x00", b"\xed\xa0\x80"]) | st.binary(
    max_size=8
)


def _finite_weights(model) -> bool:
    return all(
        np.isfinite(a).all()
        for a in model.state().arrays.values()
        if np.asarray(a).dtype.kind == "f"
    )


def _run_file(path, rejects) -> Runner | None:
    """The file through a runner: a run, or a clear error about the file as a whole."""
    from streamlearn.streams import FileEvents

    try:
        runner = Runner(
            LogisticRegression(bits=8),
            FileEvents(path, "y", id_column="id"),
            dead_letters=rejects,
            micro_batch=7,
        )
        runner.run()
    except ValueError as exc:  # e.g. no target column, no row: said in words
        assert str(exc), "an error without a message"
        return None
    return runner


@FAST
@given(
    rows=st.lists(
        st.tuples(NASTY_TEXT, NASTY_TEXT, NASTY_TEXT | st.sampled_from(["0", "1"])), max_size=25
    ),
    garbage=st.lists(st.tuples(st.integers(0, 30), NASTY_BYTES), max_size=4),
)
def test_no_csv_file_crashes_a_run_or_poisons_its_model(tmp_path_factory, rows, garbage):
    folder = tmp_path_factory.mktemp("csv")
    lines = [b"id,a,y"] + [
        ",".join(f'"{v}"' if i == 1 else v for i, v in enumerate(row)).encode(
            "utf-8", "surrogatepass"
        )
        for row in rows
    ]
    for at, raw in garbage:  # bytes that are not text, lines cut or glued anywhere
        lines.insert(min(at, len(lines)) or 1, raw)
    path = folder / "events.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    runner = _run_file(path, folder / "rejects.jsonl")
    if runner is not None:
        assert _finite_weights(runner.model)
        rejected = runner.counters["rejected"]  # rows, and labels the model cannot take
        dead = (folder / "rejects.jsonl").read_text().splitlines() if rejected else []
        assert len(dead) == rejected and all(json.loads(d)["reason"] for d in dead)


@FAST
@given(
    st.lists(
        JSON | st.dictionaries(st.sampled_from(["id", "a", "b", "y"]), JSON, max_size=4),
        max_size=20,
    ),
    st.lists(st.tuples(st.integers(0, 20), NASTY_BYTES), max_size=3),
)
def test_no_json_lines_file_crashes_a_run_or_poisons_its_model(tmp_path_factory, records, garbage):
    folder = tmp_path_factory.mktemp("jsonl")
    lines = [b'{"id": "first", "a": 1.0, "b": "x", "y": 1}']
    lines += [json.dumps(r, allow_nan=True).encode() for r in records]
    for at, raw in garbage:
        lines.insert(min(at, len(lines)), raw)
    lines.append(b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b', "y": 0}')  # deeply nested
    path = folder / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    runner = _run_file(path, folder / "rejects.jsonl")
    if runner is not None:
        assert _finite_weights(runner.model) and runner.rejected >= 1  # the nested one


@pytest.fixture(scope="module")
def kafka_reader(kafka_broker):
    from streamlearn.streams.kafka import KafkaEvents

    reader = KafkaEvents(
        {"bootstrap.servers": kafka_broker, "group.id": "fuzz"}, "fuzz-events", "fuzz-labels"
    )
    yield reader
    reader.close()


KAFKA_VALUES = (
    st.none()
    | NASTY_BYTES
    | JSON.map(lambda v: json.dumps(v, allow_nan=True).encode())
    | st.fixed_dictionaries(
        {"id": JSON, "features": JSON}, optional={"label": JSON, "time": JSON}
    ).map(lambda v: json.dumps(v, allow_nan=True).encode())
    | st.just(b'{"features": ' + b'{"a": ' * 3000 + b"1" + b"}" * 3000 + b"}")
)


@FAST
@given(st.lists(st.tuples(st.booleans(), KAFKA_VALUES), min_size=1, max_size=30))
def test_no_kafka_message_crashes_the_reader_or_poisons_a_model(kafka_reader, messages):
    from tests.test_kafka import FakeMessage

    batch_messages = [
        FakeMessage(value, i, "fuzz-labels" if is_label else "fuzz-events")
        for i, (is_label, value) in enumerate(messages)
    ]
    batch = kafka_reader._batch(batch_messages)
    assert len(batch) + len(batch.rejects) + (
        len(batch.feedback_ids) if batch.has_feedback else 0
    ) == len(messages)
    assert all(reject.reason for reject in batch.rejects)
    runner = Runner(LogisticRegression(bits=8), None, ttl=60.0)  # what a worker does next
    runner.step(batch)
    runner.step(EventBatch.empty(drain=True))
    model = runner.model
    assert _finite_weights(model)


NASTY_MESSAGES = [
    b"null",
    b"  null",
    b"true",
    b"[]",
    b"\xff\xfe",
    b'{"features": {"a": "\xc3\x28"}}',
    b'{"features": ' + b'{"a": ' * 3000 + b"1" + b"}" * 3000 + b"}",
    b'{"features": {"a": NaN}, "label": 1}',
    b'{"features": {"a": 1e400}, "label": 1}',
    b'{"features": {"a": 1}, "label": Infinity}',
    b'{"id": [], "features": {"a": 1}}',
    b'{"id": {"x": 1}, "features": {"a": 1}}',
    b'{"features": {"a": "' + b"x" * 100_000 + b'"}}',
    b'{"features": {"a": 1}}\n{"features": {"a": 2}}',
    b"",
    b'{"features": {"a": "\\ud800"}, "label": 1}',  # lone surrogates: a value, a name, an id
    b'{"features": {"\\udfff": 1}, "label": 0}',
    b'{"id": "\\udbff", "features": {"a": 1}}',
    b'{"features": {"a": "\\ud83d\\ude00"}, "label": 1}',  # a valid pair: an emoji, served
    json.dumps({"features": {f"k{i}": i for i in range(2000)}}).encode(),  # too wide
]


def test_nasty_messages_on_a_real_topic_become_dead_letters(kafka_broker, tmp_path):
    from confluent_kafka import Producer

    from tests.conftest import consume_all, create_topics
    from tests.test_kafka import run_until, runner_for

    topics = {name: f"{name}-nasty" for name in ("events", "labels", "predictions", "dead")}
    create_topics(kafka_broker, *topics.values())
    producer = Producer({"bootstrap.servers": kafka_broker})
    for i in range(200):  # good events between the nasty ones
        good = {"id": f"g{i}", "features": {"a": float(i % 7)}, "label": float(i % 2)}
        producer.produce(topics["events"], json.dumps(good).encode())
        if i < len(NASTY_MESSAGES):
            producer.produce(topics["events"], NASTY_MESSAGES[i])
    producer.flush(30)
    runner = runner_for(kafka_broker, topics, tmp_path / "reg", "nasty")
    summary = run_until(runner, lambda s: s.served + s.rejected >= 200 + 17)
    assert summary.served >= 201 and _finite_weights(runner.model)
    dead = [
        json.loads(value)
        for _, value, _ in consume_all(kafka_broker, topics["dead"], summary.rejected)
    ]
    assert len(dead) == summary.rejected >= 15 and all(d["reason"] for d in dead)
    reasons = " | ".join(d["reason"] for d in dead)
    assert "nested too deeply" in reasons and "id must be text" in reasons
    assert reasons.count("not valid Unicode") == 3 and "at most 1000 features" in reasons
