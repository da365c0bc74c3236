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

import io
import json
import logging
import math
import queue
import re
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.json as pa_json
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from streamlearn.base.classes import MAX_LABEL_CHARS
from streamlearn.streams.batch import EventBatch, StreamClock, is_class_label, label_array, shown
from streamlearn.streams.decode import (
    MAX_FEATURES,
    check_event,
    check_text,
    event_columns,
    struct_columns,
    task_column,
)
from streamlearn.streams.files import Reject
from streamlearn.streams.protocol import EventIngress, EventSource, IngressFull, PredictionSink

log = logging.getLogger("streamlearn.kafka")


def _event_fields(
    record: Any, class_labels: bool = False
) -> tuple[dict[str, Any], str | None, Any, float | None]:
    """(features, id, label or NaN, time or None) of a training event; ValueError if bad.
    A label is a number, or with ``class_labels`` also a bool or a class's name."""
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    unknown = set(record) - {"id", "features", "label", "time"}
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)}")
    features = record.get("features")
    try:
        check_event(features)
    except (TypeError, ValueError) as exc:
        raise ValueError(str(exc)) from None
    label = record.get("label")
    if label is not None and not _is_label(label, class_labels):
        kinds = f"a number, a bool or a class name of at most {MAX_LABEL_CHARS} characters"
        raise ValueError(
            f"label must be {kinds if class_labels else 'a number'}, got {shown(label)}"
        )
    moment = record.get("time")
    if moment is not None and not _is_number(moment):
        raise ValueError(f"time must be a number (seconds), got {moment!r}")
    event_id = record.get("id")
    if event_id is not None and type(event_id) not in (str, int):
        raise ValueError(f"id must be text or an integer, got {type(event_id).__name__}")
    if type(event_id) is str:
        check_text(event_id)
    return (
        features,
        None if event_id is None else str(event_id),
        math.nan if label is None else label,
        moment,
    )


PLAIN = {str, float, int, bool, type(None)}
EVENT_KEYS = {"id", "features", "label", "time"}


def _plain_event(record: Any) -> tuple[dict[str, Any], str | None, float, float | None] | None:
    """The fields of a well-formed event in a few type checks; None: check it in full."""
    if type(record) is not dict or not record.keys() <= EVENT_KEYS:
        return None
    features, label, moment = record.get("features"), record.get("label"), record.get("time")
    if type(features) is not dict or len(features) > MAX_FEATURES:  # values: see _columns
        return None
    if label is not None and (type(label) not in (int, float) or not math.isfinite(label)):
        return None
    if moment is not None and (type(moment) not in (int, float) or not math.isfinite(moment)):
        return None
    event_id = record.get("id")
    if event_id is not None and type(event_id) not in (str, int):
        return None
    return (
        features,
        None if event_id is None else str(event_id),
        math.nan if label is None else float(label),
        moment,
    )


def _place(message) -> str:
    return f"{message.topic()}:{message.partition()}:{message.offset()}"


MAX_BRACKETS = 64  # more "{" or "[" than this in a message: parsed by Python's json instead


def _safe_for_arrow(value: bytes) -> bool:
    """Arrow's JSON reader crashes the process (a segfault, not an exception) on a line that
    is ``null`` and on deep nesting (it recurses without a limit): it only gets one-line
    objects with a few brackets; anything else is parsed by Python's json, message by
    message (``tests/test_fuzz.py`` found both)."""
    body = value.strip()
    return (
        body[:1] == b"{"
        and body[-1:] == b"}"
        and b"\n" not in body
        and b"\r" not in body
        and body.count(b"{") + body.count(b"[") <= MAX_BRACKETS
        and not escapes_a_surrogate(body)
    )


SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def escapes_a_surrogate(body: bytes) -> bool:
    """JSON text that may decode to a lone surrogate (or a valid pair): such a message is
    checked in full, not on the fast paths (Arrow and the hashing cannot take one)."""
    return b"\\u" in body and SURROGATE_ESCAPE.search(body) is not None


def _read_events(messages: list) -> tuple | None:
    """A batch of well-formed events read at once by Arrow's JSON reader: (columns, ids,
    labels, times). None if anything is unusual (a bad message, an unknown field, a value
    that is not a scalar, a number that is text in another message): the caller then goes
    message by message, and turns the bad ones into dead letters."""
    values = [m.value() for m in messages]
    if not all(values):
        return None
    if not all(_safe_for_arrow(v) for v in values):
        return None
    try:
        return _arrow_events(values, messages)
    except pa.ArrowException:  # anything Arrow cannot take: the careful path says why
        return None


def _arrow_events(values: list[bytes], messages: list) -> tuple | None:
    table = pa_json.read_json(io.BytesIO(b"\n".join(values)))
    names = set(table.column_names)
    if table.num_rows != len(values) or not names <= EVENT_KEYS or "features" not in names:
        return None
    features = table.column("features").combine_chunks()
    if not pa.types.is_struct(features.type) or features.null_count:
        return None
    columns = struct_columns(features)
    if columns is not None and len(columns) > MAX_FEATURES:
        return None  # a wide message in there: each is checked on its own
    labels = _numbers(table, "label")
    times = _numbers(table, "time")
    if columns is None or labels is None or times is None:
        return None
    if "id" in names and not _is_id_type(table.column("id").type):
        return None
    given = table.column("id").cast(pa.string()).to_pylist() if "id" in names else None
    ids = [
        _place(m) if given is None or given[i] is None else given[i] for i, m in enumerate(messages)
    ]
    missing = np.flatnonzero(np.isnan(times))
    for i in missing:
        times[i] = messages[i].timestamp()[1] / 1000
    return columns, ids, labels, times


def _is_id_type(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_integer(kind) or pa.types.is_null(kind)


def _numbers(table: pa.Table, name: str) -> np.ndarray | None:
    """A column of numbers as float64 (NaN where absent); None if it holds anything else."""
    if name not in table.column_names:
        return np.full(table.num_rows, np.nan)
    column = table.column(name).combine_chunks()
    kind = column.type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_null(kind)):
        return None
    return np.asarray(
        column.cast(pa.float64()).fill_null(math.nan).to_numpy(zero_copy_only=False), np.float64
    ).copy()


def _columns(rows: list[dict[str, Any]]) -> tuple[dict[str, Any], np.ndarray | None]:
    """The rows' columns, and None; or, when some rows hold values that are not text,
    numbers, bools or null, which rows are good (their columns are then rebuilt)."""
    if not rows:
        return {}, None
    try:
        columns = struct_columns(pa.array(rows))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        columns = None  # mixed kinds in a column (text and numbers, say): checked row by row
    if columns is not None:
        return columns, None
    good = np.array([set(map(type, row.values())) <= PLAIN for row in rows])
    return ({}, good) if not good.all() else (event_columns(rows), None)


def _why(row: dict[str, Any]) -> str:
    try:
        check_event(row)
    except TypeError as exc:
        return str(exc)
    return "a feature value that is not text, a number, a bool or null"


def _parse_all(values: list[bytes | None]) -> Iterator[Any]:
    """Each value parsed as JSON (a ValueError in place of a bad one). All at once when they
    are all sound — one call to the parser instead of one per message — else one by one."""
    if values and all(values):
        try:
            parsed = json.loads(b"[" + b",".join(values) + b"]")
            if len(parsed) == len(values):  # no message held two values ("1, 2")
                yield from parsed
                return
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            pass
    for value in values:
        try:
            yield _json_object(value)
        except ValueError as exc:
            yield exc


def _parse_label(value: bytes | None, class_labels: bool = False) -> tuple[str, Any, str | None]:
    record = _json_object(value)
    task = record.get("task")
    fields_ok = {"id", "label"} <= set(record) <= {"id", "label", "task"}
    if not (
        fields_ok and _is_label(record["label"], class_labels) and isinstance(task, str | None)
    ):
        kind = "<number, bool or class name>" if class_labels else "<number>"
        raise ValueError(
            f'a label is {{"id": ..., "label": {kind}}} (a multi-task model\'s also has '
            '"task": <name>)'
        )
    event_id, label = record["id"], record["label"]
    if type(event_id) not in (str, int):
        raise ValueError(f"a label's id is text or an integer, got {type(event_id).__name__}")
    for text in (str(event_id), task or ""):
        check_text(text)
    return str(event_id), label if isinstance(label, str) else float(label), task


def _json_object(value: bytes | None) -> dict[str, Any]:
    try:
        record = json.loads(value or b"")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"not JSON ({exc.__class__.__name__}: {exc})") from None
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    return record


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


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_label(value: Any, class_labels: bool) -> bool:
    return is_class_label(value) if class_labels else _is_number(value)


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
        self.poll_timeout = poll_timeout
        self._subscribed = False

    def _start_reading_state(self) -> None:
        self.error: str | None = None  # the broker's last trouble, until it answers again
        self.positions: dict[str, int] = {}  # "topic:partition" → next offset to read
        self._owned: set[str] = set()  # the partitions assigned to this consumer now
        self._released: dict[str, int] = {}  # revoked partitions: where this worker was
        self.sequence = 0
        self.last_key = -math.inf
        self.clock = StreamClock()
        self.dead_letters = 0
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
        # A thread fetches the next messages while this one learns from the last ones
        # (consume releases the GIL); at most two batches wait, so memory stays bounded.
        fetched: queue.Queue = queue.Queue(maxsize=2)
        stop = threading.Event()

        def fetch() -> None:
            while not stop.is_set():
                messages = self.consumer.consume(num_messages=rows, timeout=self.poll_timeout)
                if self.error is not None:
                    self._probe()
                while not stop.is_set():
                    try:
                        fetched.put(messages, timeout=0.1)
                        break
                    except queue.Full:
                        continue

        self._fetcher = threading.Thread(target=fetch, name="kafka-fetch", daemon=True)
        self._fetcher_stop = stop
        self._fetcher.start()
        try:
            while True:
                messages = fetched.get()
                if not messages:
                    yield EventBatch.empty(clock=self._now())
                    continue
                yield self._batch(messages)
        finally:
            self._stop_fetcher()

    def _stop_fetcher(self) -> None:
        if getattr(self, "_fetcher", None) is not None:
            self._fetcher_stop.set()
            self._fetcher.join(5)
            self._fetcher = None

    def _batch(self, messages: list) -> EventBatch:
        messages = [m for m in messages if m.error() is None or self._usable(m)]
        last: dict[tuple[str, int], int] = {}
        for message in messages:
            last[message.topic(), message.partition()] = message.offset()
        for (topic, partition), offset in last.items():
            self.positions[f"{topic}:{partition}"] = offset + 1
        labels_topic = self.labels_topic
        event_messages = [m for m in messages if m.topic() != labels_topic]
        feedback_ids, feedback_labels, feedback_tasks, rejects = self._late_labels(
            [m for m in messages if m.topic() == labels_topic]
        )
        read = _read_events(event_messages) if event_messages else None
        if read is None:  # something unusual in there: message by message
            read = self._events_one_by_one(event_messages, rejects)
        columns, ids, labels, times = read
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

    def _late_labels(self, messages: list) -> tuple[list, list, list, list[Reject]]:
        ids, labels, tasks, rejects = [], [], [], []
        for message in messages:
            try:
                event_id, label, task = _parse_label(message.value(), self.class_labels)
            except ValueError as exc:
                rejects.append(self._dead_letter(message, str(exc)))
                continue
            ids.append(event_id)
            labels.append(label)
            tasks.append(task)
        return ids, labels, tasks, rejects

    def _events_one_by_one(self, messages: list, rejects: list[Reject]) -> tuple:
        """Each message parsed and checked on its own; bad ones become dead letters."""
        rows, ids, labels, times, sources = [], [], [], [], []
        records = _parse_all([m.value() for m in messages])
        for message in messages:
            record = next(records)
            try:
                quick = not escapes_a_surrogate(message.value() or b"")
                fields = _plain_event(record) if quick else None  # the common case, quickly
                if fields is None:
                    if isinstance(record, ValueError):
                        raise record
                    fields = _event_fields(record, self.class_labels)
            except ValueError as exc:
                rejects.append(self._dead_letter(message, str(exc)))
                continue
            features, event_id, label, moment = fields
            sources.append(message)
            rows.append(features)
            ids.append(event_id or _place(message))
            labels.append(label)
            times.append(moment if moment is not None else message.timestamp()[1] / 1000)
        columns, good = _columns(rows)
        if good is not None:  # some rows hold values that are not scalars: dead letters
            for i in np.flatnonzero(~good):
                rejects.append(self._dead_letter(sources[i], _why(rows[i])))
            keep = np.flatnonzero(good)
            rows = [rows[i] for i in keep]
            ids, labels, times = ([part[i] for i in keep] for part in (ids, labels, times))
            columns = event_columns(rows)
        return columns, ids, labels, times

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

    def _dead_letter(self, message, reason: str) -> Reject:
        self.dead_letters += 1
        reject = Reject(int(message.offset()), reason)
        reason = reject.reason  # cut short, valid Unicode
        if self.producer is not None:
            value = message.value() or b""
            record = {
                "topic": message.topic(),
                "partition": message.partition(),
                "offset": message.offset(),
                "reason": reason,
                "value": value.decode("utf-8", "replace"),
            }
            self.producer.produce(
                self.dead_letters_topic,
                json.dumps(record).encode(),
                headers={"reason": reason.encode()},
            )
            self.producer.poll(0)
        return reject

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
        self._stop_fetcher()
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
