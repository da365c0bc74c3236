"""Keyed models on Kafka partitions: one model per partition, so that per-key state (a user's
factors, an entity's history) lives with the partition its key hashes to, and no mixing
is needed.

A :class:`KeyedWorker` consumes the topic in a consumer group. For each partition it is
given it starts a :class:`~streamlearn.runner.Runner` on that partition alone, resumed from
the partition's own registry (its latest snapshot: the model and the partition's offset),
and feeds it the partition's messages; a partition taken away is checkpointed (and its
offset committed) before it goes. When a worker dies, the partition's next owner resumes it
from its last snapshot: per partition, every event after a snapshot is learned once, and
none before it twice.

>>> # see tests/test_scale_out.py: two keyed workers, one of them killed mid-stream
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from streamlearn.base import Learner
from streamlearn.base.extras import MissingExtra
from streamlearn.registry import Registry
from streamlearn.runner.engine import Runner
from streamlearn.streams.batch import EventBatch
from streamlearn.streams.kafka import KafkaEvents
from streamlearn.streams.kafka_messages import DeadLetters, MessageDecoder

try:
    from confluent_kafka import Consumer, TopicPartition
except ModuleNotFoundError:
    raise MissingExtra("confluent_kafka", "kafka") from None


class PartitionFeed(KafkaEvents):
    """One partition's messages, handed over by the worker's consumer (no consumer of its
    own); parsing, dead letters, positions and checkpoints as :class:`KafkaEvents`.

    Parameters
    ----------
    consumer
        The worker's consumer, which hands this feed its partition's messages.
    topic, partition
        The partition this feed reads.

    Example
    -------
    >>> feed = PartitionFeed(None, "events", partition=3)
    >>> feed.state()
    {'positions': {}, 'sequence': 0}
    """

    def __init__(self, consumer: Consumer, topic: str, partition: int) -> None:
        self._start_reading_state()
        self.consumer, self.events_topic, self.labels_topic = consumer, topic, None
        self.dead_letters_topic, self.producer = None, None
        self.decoder = MessageDecoder(class_labels=False, dead_letters=DeadLetters(None, None))
        self.poll_timeout = 0.2
        self.partition = partition
        self.inbox: queue.Queue = queue.Queue(maxsize=8)
        self.closed = threading.Event()

    def batches(self, after: int = 0, rows: int = 16384, last_key: float = float("-inf")):
        key = f"{self.events_topic}:{self.partition}"
        while not self.closed.is_set():
            try:
                messages = self.inbox.get(timeout=self.poll_timeout)
            except queue.Empty:
                yield EventBatch.empty(clock=self._now())
                continue
            # A rebalance can hand over messages fetched before it, which the partition's
            # new position reads again: each offset is learned once.
            start = self.positions.get(key, -1)
            fresh = [m for m in messages if m.offset() >= start]
            if fresh:
                yield self._batch(fresh)

    def close(self) -> None:
        self.closed.set()

    def committed(self, state: dict[str, Any]) -> None:
        """The partition's checkpoint is durable: commit its offset (the worker's consumer
        owns the partition while this runner lives)."""
        key = f"{self.events_topic}:{self.partition}"
        offset = state.get("positions", {}).get(key)
        if offset is None:
            return
        self._commit([TopicPartition(self.events_topic, self.partition, int(offset))])


class KeyedWorker:
    """Consumes ``topic`` in ``group``; one runner per assigned partition.

    Parameters
    ----------
    config
        confluent-kafka settings (``bootstrap.servers`` at least).
    topic, group
        The events topic and the consumer group.
    make_model
        A fresh model for a partition that has no snapshot yet.
    registry_for
        The registry of a partition (``registry_for(partition)``); shared storage, so that
        whichever worker gets the partition finds its snapshots.
    checkpoint_seconds
        How often each partition's runner checkpoints.

    Example
    -------
    >>> from streamlearn.models import LogisticRegression
    >>> from streamlearn.registry import LocalRegistry
    >>> broker = {"bootstrap.servers": "127.0.0.1:9092"}
    >>> def model():
    ...     return LogisticRegression(bits=18)
    >>> def registry(partition):
    ...     return LocalRegistry(f"registries/{partition}")
    >>> worker = KeyedWorker(broker, "events", "clicks", model, registry)  # doctest: +SKIP
    >>> worker.run()  # doctest: +SKIP
    """

    def __init__(
        self,
        config: dict[str, Any],
        topic: str,
        group: str,
        make_model: Callable[[], Learner],
        registry_for: Callable[[int], Registry],
        checkpoint_seconds: float = 1.0,
        micro_batch: int = 2048,
    ) -> None:
        settings = {
            "group.id": group,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
        } | dict(config)
        settings["enable.auto.commit"] = False  # offsets are committed after checkpoints
        self.consumer = Consumer(settings)
        self.topic, self.make_model, self.registry_for = topic, make_model, registry_for
        self.checkpoint_seconds, self.micro_batch = checkpoint_seconds, micro_batch
        self.runners: dict[int, tuple[Runner, PartitionFeed, threading.Thread]] = {}
        self._stop = threading.Event()

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            feed = PartitionFeed(consumer, tp.topic, tp.partition)
            runner = Runner(
                self.make_model(),
                feed,
                registry=self.registry_for(tp.partition),
                checkpoint_every=None,
                checkpoint_seconds=self.checkpoint_seconds,
                micro_batch=self.micro_batch,
                drain_at_end=False,
            )
            runner.resume()  # the partition's latest snapshot: its model and its offset
            position = feed.positions.get(f"{tp.topic}:{tp.partition}")
            if position is not None:
                tp.offset = position
            thread = threading.Thread(
                target=runner.run, name=f"partition-{tp.partition}", daemon=True
            )
            self.runners[tp.partition] = (runner, feed, thread)
            thread.start()
        consumer.assign(partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self._retire(tp.partition)
        consumer.unassign()

    def _retire(self, partition: int) -> None:
        """Checkpoint the partition's runner (committing its offset) and let it go."""
        entry = self.runners.pop(partition, None)
        if entry is None:
            return
        runner, feed, thread = entry
        runner.request_stop()
        thread.join(60)
        feed.close()
        runner.close()

    def run(self, until: Callable[[], bool] | None = None) -> None:
        """Route messages to their partitions' runners until :meth:`stop` (or ``until()``)."""
        self.consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        try:
            while not self._stop.is_set() and not (until is not None and until()):
                messages = self.consumer.consume(2048, timeout=0.2)
                by_partition: dict[int, list] = {}
                for message in messages:
                    if message.error() is None:
                        by_partition.setdefault(message.partition(), []).append(message)
                for partition, part in by_partition.items():
                    if partition in self.runners:
                        self.runners[partition][1].inbox.put(part)
        finally:
            for partition in list(self.runners):
                self._retire(partition)
            self.consumer.close()

    def stop(self) -> None:
        self._stop.set()

    def learned(self) -> int:
        return sum(r.counters["learned"] for r, _, _ in self.runners.values())
