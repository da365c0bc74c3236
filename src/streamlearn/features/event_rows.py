"""Rows that hold each event itself, for learners that take events one at a time.

The runner keeps every served event as a row of 32-bit hashes and float values until its
label comes. A learner without a compiled encoding (a River model, an ensemble, a torch
network) gets rows that hold the event as compact JSON, six bytes per slot: each slot's
value is an integer below 2**48 plus one (exact in a float64, never the padding value 0),
and every slot's hash is :data:`EVENT_SLOT`. The first slot holds the length.

>>> hashes, values = event_rows([{"city": "Paris", "age": 41.5}, {}])
>>> hashes.shape == values.shape, event_of(hashes[0], values[0]), event_of(hashes[1], values[1])
(True, {'city': 'Paris', 'age': 41.5}, {})
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from streamlearn.features.columns import as_columns, n_rows

EVENT_SLOT = 0xFFFFFFF9  # the hash of every slot of a row that holds an event
BYTES_PER_SLOT = 6


def events_of(X: Any) -> list[dict[str, Any]]:
    """Columns as one dict per event; missing values (None, NaN, infinities) are left out,
    as an event that does not have them."""
    columns = as_columns(X)
    values = {name: _python_values(column) for name, column in columns.items()}
    events: list[dict[str, Any]] = [{} for _ in range(n_rows(columns))]
    for name, column in values.items():
        for event, value in zip(events, column, strict=True):
            if value is None or (type(value) is float and not math.isfinite(value)):
                continue
            event[name] = value
    return events


def _python_values(column: Any) -> list[Any]:
    if hasattr(column, "to_pylist"):
        return column.to_pylist()
    if isinstance(column, np.ndarray):
        return column.tolist()
    return [plain(value) for value in column]


def plain(value: Any) -> Any:
    """A JSON-able scalar (NaN and infinities as missing)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def plain_event(x: Mapping[str, Any]) -> dict[str, Any]:
    """One event as :func:`events_of` gives it."""
    return {name: plain(value) for name, value in x.items() if plain(value) is not None}


def event_rows(events: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """``(hashes, values)``: one row per event, holding it."""
    blobs = [json.dumps(x, separators=(",", ":")).encode() for x in events]
    n = len(blobs)
    lengths = np.array([len(b) for b in blobs], np.int64)
    slots = (lengths + BYTES_PER_SLOT - 1) // BYTES_PER_SLOT
    width = int(slots.max()) if n else 0
    data = np.zeros((n, width * BYTES_PER_SLOT), np.uint8)
    if n and lengths.sum():
        flat = np.frombuffer(b"".join(blobs), np.uint8)
        starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
        data[np.repeat(np.arange(n), lengths), np.arange(len(flat)) - starts] = flat
    chunks = data.reshape(n, width, BYTES_PER_SLOT).astype(np.uint64)
    weights = np.uint64(1) << (np.arange(BYTES_PER_SLOT - 1, -1, -1, dtype=np.uint64) * 8)
    numbers = (chunks * weights).sum(axis=2).astype(np.float64) + 1.0
    numbers[np.arange(width) >= slots[:, None]] = 0.0  # padding past each event
    values = np.zeros((n, width + 1))
    values[:, 0] = lengths + 1.0
    values[:, 1:] = numbers
    return np.full(values.shape, EVENT_SLOT, np.uint32), values


def event_of(hashes: np.ndarray, values: np.ndarray) -> dict[str, Any]:
    """The event a row of :func:`event_rows` holds."""
    slots = values[hashes == EVENT_SLOT]
    if not len(slots):
        raise ValueError("this row does not hold an event")
    length = int(slots[0]) - 1
    used = slots[1 : 1 + (length + BYTES_PER_SLOT - 1) // BYTES_PER_SLOT]  # then padding
    blob = b"".join(int(v - 1).to_bytes(BYTES_PER_SLOT, "big") for v in used)[:length]
    return json.loads(blob)
