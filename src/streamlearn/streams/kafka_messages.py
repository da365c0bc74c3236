"""Kafka messages as events: JSON objects ``{"id", "features", "label", "time"}`` and labels
``{"id", "label", "task"}``, checked as any input from outside is (types, Unicode, sizes,
the label's domain); a message that is not one goes to the dead letters with its reason."""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.json as pa_json

from streamlearn.base.classes import MAX_LABEL_CHARS
from streamlearn.streams.batch import is_class_label, shown
from streamlearn.streams.decode import (
    MAX_FEATURES,
    check_event,
    check_text,
    event_columns,
    struct_columns,
)
from streamlearn.streams.files import Reject


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


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_label(value: Any, class_labels: bool) -> bool:
    return is_class_label(value) if class_labels else _is_number(value)


class DeadLetters:
    """Messages no model may see: counted, and sent with their reason to a topic when one is
    set.

    Parameters
    ----------
    producer
        Sends them (None: they are only counted).
    topic
        Where they go.

    Example
    -------
    >>> letters = DeadLetters(None, None)
    >>> letters.count
    0
    """

    def __init__(self, producer: Any, topic: str | None) -> None:
        self.producer, self.topic = producer, topic
        self.count = 0

    def reject(self, message, reason: str) -> Reject:
        """``message`` is a dead letter: counted, sent on (if a topic is set), and its
        reject returned."""
        self.count += 1
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
                self.topic,
                json.dumps(record).encode(),
                headers={"reason": reason.encode()},
            )
            self.producer.poll(0)
        return reject


class MessageDecoder:
    """Kafka messages as events and late labels, every bad one a dead letter with its
    reason. A batch of plain events takes Arrow's JSON reader; anything unusual in it, and
    the batch is read message by message.

    Parameters
    ----------
    class_labels
        Labels name classes (text, numbers or bools); otherwise a label is a number.
    dead_letters
        Where the messages that are not events or labels go.

    Example
    -------
    >>> decoder = MessageDecoder(False, DeadLetters(None, None))
    >>> decoder.class_labels, decoder.dead_letters.count
    (False, 0)
    """

    def __init__(self, class_labels: bool, dead_letters: DeadLetters) -> None:
        self.class_labels, self.dead_letters = class_labels, dead_letters

    def events(self, messages: list, rejects: list[Reject]) -> tuple:
        """``(columns, ids, labels, times)`` of the event messages; the bad ones are added
        to ``rejects``."""
        read = _read_events(messages) if messages else None
        if read is None:  # something unusual in there: message by message
            read = self.one_by_one(messages, rejects)
        return read

    def late_labels(self, messages: list) -> tuple[list, list, list, list[Reject]]:
        ids, labels, tasks, rejects = [], [], [], []
        for message in messages:
            try:
                event_id, label, task = _parse_label(message.value(), self.class_labels)
            except ValueError as exc:
                rejects.append(self.dead_letters.reject(message, str(exc)))
                continue
            ids.append(event_id)
            labels.append(label)
            tasks.append(task)
        return ids, labels, tasks, rejects

    def one_by_one(self, messages: list, rejects: list[Reject]) -> tuple:
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
                rejects.append(self.dead_letters.reject(message, str(exc)))
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
                rejects.append(self.dead_letters.reject(sources[i], _why(rows[i])))
            keep = np.flatnonzero(good)
            rows = [rows[i] for i in keep]
            ids, labels, times = ([part[i] for i in keep] for part in (ids, labels, times))
            columns = event_columns(rows)
        return columns, ids, labels, times
