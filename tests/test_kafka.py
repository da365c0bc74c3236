"""Kafka in and out against a real broker (Tansu, started by a fixture on loopback)."""

from __future__ import annotations

import json
import threading

import numpy as np
from confluent_kafka import Producer

from streamlearn.models import LogisticRegression
from streamlearn.registry import LocalRegistry
from streamlearn.runner import Runner
from streamlearn.streams.kafka import KafkaEvents, KafkaPredictions
from tests.conftest import consume_all, create_topics

N = 3000
BAD = [
    b"not json",
    b"[1, 2]",
    b'{"features": {"a": [1]}}',
    b'{"label": 1}',
    b'{"features": {"a": 1}, "label": "yes"}',
    b'{"features": {}, "colour": "red"}',
]


def produce_stream(bootstrap, events_topic, labels_topic):
    """A third of the events carry their label, a third get it later on the labels topic,
    a third never do; the bad messages are spread among them."""
    rng = np.random.default_rng(0)
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    late = []
    for i in range(N):
        colour = str(rng.choice(["red", "blue", "green"]))
        record = {"id": f"e{i}", "features": {"colour": colour, "size": float(rng.normal())}}
        label = float(colour == "red")
        if i % 3 == 0:
            record["label"] = label
        elif i % 3 == 1:
            late.append({"id": f"e{i}", "label": label})
        producer.produce(events_topic, json.dumps(record).encode())
        if i % 500 == 250:
            producer.produce(events_topic, BAD[(i // 500) % len(BAD)])
    producer.flush()
    for record in late:
        producer.produce(labels_topic, json.dumps(record).encode())
    producer.produce(labels_topic, b'{"id": "e1"}')  # a bad label: no value
    producer.flush()
    return len(late)


def runner_for(bootstrap, topics, folder, group):
    events = KafkaEvents(
        {"bootstrap.servers": bootstrap, "group.id": group},
        topics["events"],
        topics["labels"],
        topics["dead"],
    )
    return Runner(
        LogisticRegression(bits=12),
        events,
        ttl=600.0,
        registry=LocalRegistry(folder),
        checkpoint_every=500,
        micro_batch=500,
        drain_at_end=False,
        predictions=KafkaPredictions({"bootstrap.servers": bootstrap}, topics["predictions"]),
    )


def run_until(runner, done, timeout=90.0):
    """Run in a thread until ``done(summary)``; then stop cleanly (with a checkpoint)."""

    def check(summary):
        if done(summary):
            runner.request_stop()

    thread = threading.Thread(target=lambda: runner.run(on_batch=check))
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "the runner did not finish in time"
    runner.close()
    return runner.summary


def test_events_labels_predictions_dead_letters_and_a_restart(kafka_broker, tmp_path):
    topics = {name: f"{name}-t1" for name in ("events", "labels", "predictions", "dead")}
    create_topics(kafka_broker, *topics.values())
    n_late = produce_stream(kafka_broker, topics["events"], topics["labels"])
    expected_learned = N // 3 + n_late
    # First worker: stops (cleanly) half way through the events.
    first = run_until(
        runner_for(kafka_broker, topics, tmp_path / "reg", "g1"), lambda s: s.served >= N // 2
    )
    assert N // 2 <= first.served < N
    # A new worker in the same group resumes from the checkpoint: no loss, no double learning.
    second = run_until(
        runner_for(kafka_broker, topics, tmp_path / "reg", "g1"),
        lambda s: s.learned >= expected_learned and s.served >= N and s.rejected >= len(BAD) + 1,
    )  # the bad label is the labels' last
    assert second.resumed_from == first.versions[-1]
    assert second.served == N and second.learned == expected_learned
    assert second.late == 0 and second.rejected == len(BAD) + 1
    assert second.metrics["accuracy"] > 0.9
    published = consume_all(kafka_broker, topics["predictions"], N)
    ids = {json.loads(value)["id"] for _, value, _ in published}
    assert ids == {f"e{i}" for i in range(N)}  # every event's prediction, at least once
    assert all(
        json.loads(value)["model_version"].startswith("v")
        or json.loads(value)["model_version"] == ""
        for _, value, _ in published
    )
    dead = consume_all(kafka_broker, topics["dead"], len(BAD) + 1)
    records = [json.loads(value) for _, value, _ in dead]
    # At least once: a bad message after the first worker's checkpoint is reported again.
    assert len({(r["topic"], r["offset"]) for r in records}) == len(BAD) + 1
    reasons = {r["reason"] for r in records}
    assert any("not JSON" in r for r in reasons) and any("unknown fields" in r for r in reasons)
    assert any('"label": <number>' in r for r in reasons)  # the bad late label
    assert all(headers and headers[0][0] == "reason" for _, _, headers in dead)


def test_a_limit_inside_a_micro_batch_loses_no_event(kafka_broker, tmp_path):
    """A run told to stop at a count that falls inside a micro-batch runs the rest of that
    batch (its events are taken from the topic): the next run goes on after them."""
    topics = {name: f"{name}-t2" for name in ("events", "labels", "predictions", "dead")}
    create_topics(kafka_broker, *topics.values())
    n_late = produce_stream(kafka_broker, topics["events"], topics["labels"])
    first = runner_for(kafka_broker, topics, tmp_path / "reg", "g2")
    summary = first.run(limit=N // 2 + 7)
    first.close()
    assert summary.served >= N // 2 + 7
    expected_learned = N // 3 + n_late
    second = run_until(
        runner_for(kafka_broker, topics, tmp_path / "reg", "g2"),
        lambda s: s.learned >= expected_learned and s.served >= N,
    )
    assert (second.served, second.learned, second.late) == (N, expected_learned, 0)


class FakeMessage:
    """What the batch readers use of a confluent-kafka message."""

    def __init__(self, value: bytes | None, offset: int, topic: str = "events") -> None:
        self._value, self._offset, self._topic = value, offset, topic

    def error(self):
        return None

    def topic(self):
        return self._topic

    def partition(self):
        return 0

    def offset(self):
        return self._offset

    def value(self):
        return self._value

    def timestamp(self):
        return (1, 1_700_000_000_000 + self._offset)


def test_arrow_batch_reading_equals_message_by_message():
    from streamlearn.streams.kafka_messages import DeadLetters, MessageDecoder, _read_events

    records = [
        {
            "id": f"e{i}",
            "features": {"colour": ["red", "blue"][i % 2], "size": i * 0.5, "new": i % 3 == 0},
            "label": i % 2,
        }
        for i in range(50)
    ]
    records[7].pop("id")
    records[9]["time"] = 1_700_000_100.5
    messages = [FakeMessage(json.dumps(r).encode(), i) for i, r in enumerate(records)]
    fast = _read_events(messages)
    slow = MessageDecoder(False, DeadLetters(None, None)).one_by_one(messages, [])
    assert fast is not None
    assert fast[1] == slow[1] and fast[1][7] == "events:0:7"
    np.testing.assert_array_equal(fast[2], np.array(slow[2]))
    np.testing.assert_array_equal(fast[3], np.array(slow[3]))
    assert fast[3][9] == 1_700_000_100.5
    for name in ("colour", "size", "new"):
        left, right = fast[0][name], slow[0][name]
        assert (left.tolist() if hasattr(left, "tolist") else left) == (
            right.tolist() if hasattr(right, "tolist") else right
        )
    bad = [*messages, FakeMessage(b'{"features": {"colour": 3}}', 99)]  # text, then a number
    assert _read_events(bad) is None  # … is left to the careful path
