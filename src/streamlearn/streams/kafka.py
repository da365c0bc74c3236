"""Kafka in and out (``confluent-kafka``; any Apache Kafka, tested against Tansu).

**In** (:class:`KafkaEvents`): training events on one topic, JSON objects
``{"id": ..., "features": {...}, "label": 1, "time": 1700000000.5}`` (``label`` and ``time``
optional: a label may come later), and labels for earlier events on another, ``{"id": ...,
"label": 0}``. Both are read by one consumer in a consumer group. A message that is not such
an object goes to the dead-letter topic with the reason, and never reaches a model.

**Exactly-once model state.** The next offset of every partition is part of each checkpoint;
a restarted runner seeks there, so every event after the checkpoint is learned once, and
none before it twice. Offsets are also committed to Kafka, but only after the checkpoint
that includes them is durable (for lag monitoring and for consumers without a checkpoint).

**Out** (:class:`KafkaPredictions`): every prediction as ``{"id", "prediction",
"model_version", "offset"}`` through an idempotent producer, flushed at each checkpoint.
"""

from __future__ import annotations

import json
import logging
import math
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from streamlearn.base.extras import MissingExtra

try:
    from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
except ModuleNotFoundError:
    raise MissingExtra("confluent_kafka", "kafka") from None

from streamlearn.streams.batch import EventBatch, StreamClock, label_array
from streamlearn.streams.decode import (
    check_event,
    task_column,
)
from streamlearn.streams.kafka_messages import DeadLetters, MessageDecoder
from streamlearn.streams.protocol import EventIngress, EventSource, IngressFull, PredictionSink

log = logging.getLogger("streamlearn.kafka")


def _producer(bootstrap: str, linger_ms: int = 5) -> Producer:
    """An idempotent producer whose librdkafka log goes to Python logging."""
    return Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "linger.ms": linger_ms,
            "logger": log,
        }
    )


class Prefetch:
    """A thread that fetches the next messages while the caller learns from the last ones
    (``consume`` releases the GIL); at most two fetches wait, so memory stays bounded.

    Parameters
    ----------
    fetch
        Called with ``rows`` in the thread, again and again: one fetch's messages.
    rows
        The most messages a fetch asks for.

    Example
    -------
    >>> numbers = iter(range(100))
    >>> prefetch = Prefetch(lambda rows: [next(numbers) for _ in range(rows)], rows=3)
    >>> prefetch.next(), prefetch.next()
    ([0, 1, 2], [3, 4, 5])
    >>> prefetch.stop()
    """

    def __init__(self, fetch: Callable[[int], list], rows: int) -> None:
        self._fetched: queue.Queue = queue.Queue(maxsize=2)
        self._stopped = threading.Event()
        self._fetch, self._rows = fetch, rows
        self._thread = threading.Thread(target=self._run, name="kafka-fetch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.is_set():
            messages = self._fetch(self._rows)
            while not self._stopped.is_set():
                try:
                    self._fetched.put(messages, timeout=0.1)
                    break
                except queue.Full:
                    continue

    def next(self) -> list:
        """The oldest fetch's messages (waits for one)."""
        return self._fetched.get()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(5)


class KafkaEvents(EventSource):
    """Training events and late labels from Kafka, as runner micro-batches.

    Parameters
    ----------
    config
        ``confluent-kafka`` settings (at least ``bootstrap.servers``); ``group.id``
        defaults to ``streamlearn``.
    events_topic, labels_topic
        Where training events and late labels come from (labels optional).
    dead_letters_topic
        Where malformed messages go, with the reason (none: they are only counted).
    poll_timeout
        Seconds a poll waits for messages.
    class_labels
        Labels name classes (a multiclass model's: text, numbers or bools); otherwise a
        label is a number and any other is a dead letter.

    Example
    -------
    >>> from streamlearn.models import LogisticRegression
    >>> from streamlearn.runner import Runner
    >>> source = KafkaEvents({"bootstrap.servers": "127.0.0.1:9092"}, "events",  # doctest: +SKIP
    ...                      labels_topic="labels", dead_letters_topic="dead")
    >>> Runner(LogisticRegression(), source, ttl=3600).run()  # doctest: +SKIP
    """

    resumes_by_offset = False  # its positions are those of the last batch made

    class_labels = False  # see the parameter

    def __init__(
        self,
        config: dict[str, Any],
        events_topic: str,
        labels_topic: str | None = None,
        dead_letters_topic: str | None = None,
        poll_timeout: float = 0.2,
        class_labels: bool = False,
    ) -> None:
        self.class_labels = class_labels
        settings = {
            "group.id": "streamlearn",
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            "logger": log,
        } | dict(config)
        settings["enable.auto.commit"] = False  # offsets are committed after checkpoints
        settings["error_cb"] = self._on_error
        self._start_reading_state()
        self.consumer = Consumer(settings)
        self.events_topic, self.labels_topic = events_topic, labels_topic
        self.dead_letters_topic = dead_letters_topic
        self.producer = _producer(settings["bootstrap.servers"]) if dead_letters_topic else None
        self.decoder = MessageDecoder(class_labels, DeadLetters(self.producer, dead_letters_topic))
        self.poll_timeout = poll_timeout
        self._subscribed = False
        self._prefetch: Prefetch | None = None

    def _start_reading_state(self) -> None:
        self.error: str | None = None  # the broker's last trouble, until it answers again
        self.positions: dict[str, int] = {}  # "topic:partition" → next offset to read
        self._owned: set[str] = set()  # the partitions assigned to this consumer now
        self._released: dict[str, int] = {}  # revoked partitions: where this worker was
        self.sequence = 0
        self.last_key = -math.inf
        self.clock = StreamClock()
        self.size = self.position = 0

    # ------------------------------------------------------------------ reading
    def _subscribe(self) -> None:
        topics = [self.events_topic] + ([self.labels_topic] if self.labels_topic else [])
        self.consumer.subscribe(topics, on_assign=self._on_assign, on_revoke=self._on_revoke)
        self._subscribed = True

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Start each partition where the checkpoint says (else: committed, or earliest).
        A partition taken over from another worker starts at that worker's last committed
        offset — its last checkpoint — and the position joins this worker's checkpoints
        even before a message arrives from it."""
        fresh = [p for p in partitions if f"{p.topic}:{p.partition}" not in self.positions]
        if fresh:
            for found in consumer.committed(fresh, timeout=10):
                key = f"{found.topic}:{found.partition}"
                # A partition that comes back (a session lost while the broker was away, a
                # rebalance that gave it back) goes on from where this worker was, unless
                # another worker has committed past that meanwhile.
                candidates = [found.offset, self._released.pop(key, -1)]
                if max(candidates) >= 0:
                    self.positions[key] = max(candidates)
        for partition in partitions:
            key = f"{partition.topic}:{partition.partition}"
            self._owned.add(key)
            if key in self.positions:
                partition.offset = self.positions[key]
        consumer.assign(partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """A partition given to another worker leaves this one's positions (its checkpoints
        then neither hold nor commit it)."""
        for partition in partitions:
            key = f"{partition.topic}:{partition.partition}"
            if key in self.positions:
                self._released[key] = self.positions.pop(key)
            self._owned.discard(key)
        consumer.unassign()
        log.info(
            "partitions revoked",
            extra={
                "event": "revoked",
                "partitions": sorted(f"{p.topic}:{p.partition}" for p in partitions),
            },
        )

    def _on_error(self, error: KafkaError) -> None:
        """librdkafka's client-wide errors (brokers down, timeouts): it reconnects by itself;
        the error is kept for ``/health`` until the broker answers again."""
        if error.fatal():
            self.error = f"fatal: {error.str()}"
        elif error.code() in (
            KafkaError._ALL_BROKERS_DOWN,
            KafkaError._TRANSPORT,
            KafkaError._TIMED_OUT,
            KafkaError._RESOLVE,
        ):
            self.error = error.str()
        log.warning("kafka: %s", error.str(), extra={"event": "kafka_error", "code": error.name()})

    def _probe(self) -> None:
        """After an error, ask the broker for metadata now and then: an answer clears it."""
        try:
            self.consumer.list_topics(self.events_topic, timeout=1.0)
        except KafkaException:
            return
        if self.error is not None and not self.error.startswith("fatal"):
            log.info("kafka: the broker answers again", extra={"event": "kafka_recovered"})
            self.error = None

    def batches(
        self, after: int = 0, rows: int = 16384, last_key: float = -math.inf
    ) -> Iterator[EventBatch]:
        """Micro-batches of what the consumer has; an empty batch (with the time) when
        nothing came within the poll timeout."""
        if not self._subscribed:
            self._subscribe()
        self._prefetch = Prefetch(self._fetch_messages, rows)
        try:
            while True:
                messages = self._prefetch.next()
                if not messages:
                    yield EventBatch.empty(clock=self._now())
                    continue
                yield self._batch(messages)
        finally:
            self._prefetch.stop()

    def _fetch_messages(self, rows: int) -> list:
        messages = self.consumer.consume(num_messages=rows, timeout=self.poll_timeout)
        if self.error is not None:
            self._probe()
        return messages

    def _batch(self, messages: list) -> EventBatch:
        messages = [m for m in messages if m.error() is None or self._usable(m)]
        last: dict[tuple[str, int], int] = {}
        for message in messages:
            last[message.topic(), message.partition()] = message.offset()
        for (topic, partition), offset in last.items():
            self.positions[f"{topic}:{partition}"] = offset + 1
        labels_topic = self.labels_topic
        event_messages = [m for m in messages if m.topic() != labels_topic]
        feedback_ids, feedback_labels, feedback_tasks, rejects = self.decoder.late_labels(
            [m for m in messages if m.topic() == labels_topic]
        )
        columns, ids, labels, times = self.decoder.events(event_messages, rejects)
        n = len(ids)
        offsets = np.arange(self.sequence + 1, self.sequence + n + 1, dtype=np.int64)
        self.sequence += n
        # Keys never go back: a late-stamped event counts as arriving now.
        times = self.clock.bound(np.array(times, np.float64))  # none far in the future
        keys = np.maximum.accumulate(np.maximum(times, self.last_key))
        keys = keys + np.arange(n) * 1e-6  # each event served before the next
        if n:
            self.last_key = float(keys[-1])
        feedback = {}
        if feedback_ids:
            feedback = {
                "feedback_ids": np.array(feedback_ids, dtype=object),
                "feedback_labels": label_array(feedback_labels),
                "feedback_tasks": task_column(feedback_tasks),
            }
        return EventBatch(
            columns,
            label_array(labels),
            np.array(ids, dtype=object),
            offsets,
            keys,
            rejects=rejects,
            clock=None if n else self._now(),
            **feedback,
        )

    @staticmethod
    def _usable(message) -> bool:
        if message.error() is None:
            return True
        error = message.error()
        if error.fatal():
            raise RuntimeError(f"Kafka: {error}")
        if error.code() != KafkaError._PARTITION_EOF:  # e.g. a topic gone: the client retries
            log.warning(
                "kafka: %s", error.str(), extra={"event": "kafka_error", "code": error.name()}
            )
        return False

    def _now(self) -> float:
        self.last_key = self.clock.now(after=self.last_key)
        return self.last_key

    # ------------------------------------------------------------------ checkpoints
    def state(self) -> dict[str, Any]:
        return {"positions": dict(self.positions), "sequence": self.sequence}

    def restore(self, state: dict[str, Any]) -> None:
        self.positions = {k: int(v) for k, v in state.get("positions", {}).items()}
        self.sequence = int(state.get("sequence", 0))

    def committed(self, state: dict[str, Any]) -> None:
        """The checkpoint holding ``state`` is durable: commit its offsets to Kafka too."""
        if self.producer is not None:
            self.producer.flush(10)
        offsets = [
            TopicPartition(topic, int(partition), int(offset))
            for key, offset in state.get("positions", {}).items()
            for topic, partition in [key.rsplit(":", 1)]
            if key in self._owned
        ]
        self._commit(offsets)

    def _commit(self, offsets: list[TopicPartition]) -> None:
        if not offsets:
            return
        try:
            self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:  # a rebalance under way: the snapshot still holds them
            log.warning("offset commit failed", extra={"event": "commit_failed", "error": str(exc)})

    def close(self) -> None:
        if self._prefetch is not None:
            self._prefetch.stop()
        if self.producer is not None:
            self.producer.flush(10)
        self.consumer.close()


class KafkaPredictions(PredictionSink):
    """Predictions to a topic, one JSON message per event, keyed by event id.

    Parameters
    ----------
    config
        The Kafka client settings (``bootstrap.servers``, …).
    topic
        The predictions topic.

    Example
    -------
    >>> broker = {"bootstrap.servers": "127.0.0.1:9092"}
    >>> sink = KafkaPredictions(broker, "predictions")  # doctest: +SKIP
    >>> ids, offsets, versions = np.array(["e1"]), np.array([1]), np.array(["v1"])
    >>> sink.write(ids, offsets, np.array([0.9]), versions)  # doctest: +SKIP
    >>> sink.flush()  # doctest: +SKIP
    """

    def __init__(self, config: dict[str, Any], topic: str) -> None:
        self.producer = _producer(config["bootstrap.servers"], linger_ms=5)
        self.topic = topic

    def write(self, ids, offsets, predictions, versions) -> None:
        for event_id, offset, prediction, version in zip(
            ids.tolist(), offsets.tolist(), predictions.tolist(), versions.tolist(), strict=True
        ):
            record = {
                "id": event_id,
                "prediction": prediction,
                "model_version": version,
                "offset": offset,
            }
            self._produce(str(event_id).encode(), json.dumps(record).encode())
        self.producer.poll(0)

    def _produce(self, key: bytes, value: bytes) -> None:
        try:
            self.producer.produce(self.topic, value, key=key)
        except BufferError:  # the local queue is full: let it drain, then go on
            self.producer.poll(0.5)
            self.producer.produce(self.topic, value, key=key)

    def flush(self) -> None:
        remaining = self.producer.flush(30)
        if remaining:
            raise ConnectionError(f"{remaining} predictions could not be delivered to Kafka")

    def close(self) -> None:
        self.flush()


class KafkaIngress(EventIngress):
    """What the HTTP API's ``/learn`` and ``/feedback`` do when events come from Kafka:
    produce to the same topics the trainer reads (so every event goes one way).

    Parameters
    ----------
    config
        The Kafka client settings (``bootstrap.servers``, …).
    events_topic, labels_topic
        The topics the trainer reads (no labels topic: ``/feedback`` is refused).

    Example
    -------
    >>> broker = {"bootstrap.servers": "127.0.0.1:9092"}
    >>> ingress = KafkaIngress(broker, "events")  # doctest: +SKIP
    >>> ingress.put([{"x": 1.0}], labels=[1.0])  # doctest: +SKIP
    """

    ends_on_close = False  # the trainer must be told to stop: Kafka has no end

    def __init__(self, config: dict[str, Any], events_topic: str, labels_topic: str | None):
        self.producer = _producer(config["bootstrap.servers"], linger_ms=2)
        self.events_topic, self.labels_topic = events_topic, labels_topic

    def put(self, events, ids=None, labels=None, served=None) -> int:
        # ``served`` rows do not travel through the topic: the trainer serves these again.
        for event in events:
            check_event(event)
        ids = ids if ids is not None else [None] * len(events)
        labels = labels if labels is not None else [None] * len(events)
        for event, event_id, label in zip(events, ids, labels, strict=True):
            record = {"features": event} | ({"id": event_id} if event_id is not None else {})
            record |= {"label": label} if label is not None else {}
            self._produce(self.events_topic, json.dumps(record).encode())
        self.producer.poll(0)
        return len(events)

    def _produce(self, topic: str, value: bytes) -> None:
        try:
            self.producer.produce(topic, value)
        except BufferError:  # the producer's queue is full: the broker is behind or away
            self.producer.poll(0.1)
            raise IngressFull("the Kafka producer's queue is full: try again shortly") from None

    def put_feedback(self, ids, labels, tasks=None) -> int:
        if self.labels_topic is None:
            raise ValueError("no labels topic is configured (kafka.labels_topic)")
        tasks = tasks if tasks is not None else [None] * len(ids)
        for event_id, label, task in zip(ids, labels, tasks, strict=True):
            record = {"id": event_id, "label": label} | ({"task": task} if task else {})
            self._produce(self.labels_topic, json.dumps(record).encode())
        self.producer.poll(0)
        return len(ids)

    def close(self) -> None:
        self.producer.flush(10)
