"""The batch path of :class:`~streamlearn.features.hasher.FeatureHasher`: a table of
columns hashed column by column (compiled kernels over Arrow text buffers and numeric
arrays), with the same result, event for event, as the one-event path."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from streamlearn.features.columns import as_columns, n_rows, string_buffers, to_arrow_or_numeric
from streamlearn.features.hashing import (
    FNV_PRIME,
    code_text,
    feature_name,
    hash_int_column,
    hash_string_columns,
    hash_text,
)
from streamlearn.features.scaling import RAW, SCALED, ZERO, number_column

if TYPE_CHECKING:
    from streamlearn.features.hasher import FeatureHasher

_NO_STATS = np.zeros(3)  # for columns that are not scaled
TEXT_GROUP = 32  # text columns per compiled call


def usable(numbers: np.ndarray, limit: float) -> np.ndarray:
    """Values that count (finite, within ±``limit``); the others are absent."""
    return np.abs(numbers) <= limit  # False for NaN


def encode_columns(
    hasher: FeatureHasher,
    X: Any,
    learn: bool,
    reuse: dict[int, tuple[np.ndarray, np.ndarray]] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A batch hashed as ``FeatureHasher.encode_many`` says."""
    columns = as_columns(X)
    n = n_rows(columns)
    names = sorted(columns, key=feature_name)
    if hasher.missing:
        names = sorted(set(names) | hasher.known)
    pairs = hasher.cross_pairs(names)
    hashes, values = _output(n, len(names) + len(pairs), reuse)
    present: dict[int, np.ndarray | None] = {}  # None: where the value is not 0
    texts: list[tuple[int, str, pa.Array]] = []
    for j, name in enumerate(names):
        if name not in columns:
            present[j] = np.zeros(n, bool)
            hashes[:, j], values[:, j] = 0, 0.0
            continue
        column = to_arrow_or_numeric(name, columns[name])
        if isinstance(column, pa.Array):
            texts.append((j, name, column))
            present[j] = None
        else:
            present[j] = _encode_column(hasher, name, column, learn, hashes[:, j], values[:, j])
    if texts:
        _hash_texts(hasher, texts, hashes, values)
    if hasher.missing:
        for j, name in enumerate(names):
            there = present[j]
            there = values[:, j] != 0.0 if there is None else there
            _mark_missing(hasher, name, there, learn, hashes[:, j], values[:, j])
    for j, (a, b) in enumerate(pairs, start=len(names)):
        hashes[:, j] = (hashes[:, a] * np.uint32(FNV_PRIME)) ^ hashes[:, b]
        values[:, j] = values[:, a] * values[:, b]
    return hashes, values


def _hash_texts(
    hasher: FeatureHasher, texts: list[tuple[int, str, pa.Array]], hashes, values
) -> None:
    """The text columns in few compiled calls (rows in blocks that stay in the cache).
    A call compiles once per number of columns: they go by at most 32, padded to a power
    of two (the padding is never read), so a new table seldom means a new compilation."""
    for first in range(0, len(texts), TEXT_GROUP):
        group = texts[first : first + TEXT_GROUP]
        buffers = [string_buffers(column) for _, _, column in group]
        offsets = [b[0] for b in buffers]
        if len({o.dtype for o in offsets}) > 1:  # large strings among small: one type
            offsets = [o.astype(np.int64) for o in offsets]
        seeds = np.array([hasher.column_seed(name) for _, name, _ in group], np.uint32)
        slots = np.array([j for j, _, _ in group], np.int64)
        width = 1 << (len(group) - 1).bit_length()
        hash_string_columns(
            _padded(offsets, width),
            _padded([b[1] for b in buffers], width),
            _padded([b[2] for b in buffers], width),
            seeds,
            slots,
            hashes,
            values,
        )


def _encode_column(
    hasher: FeatureHasher, name: str, column: np.ndarray, learn: bool, hashes, values
) -> np.ndarray | None:
    """Fill one numeric column's slots (categorical codes, or numbers). For the missing
    signal, returns which events have a value there: None when that is where the value
    is not 0 (codes), or when there is no missing signal."""
    seed = np.uint32(hasher.column_seed(name))
    if hasher.holds_codes(name) and column.dtype.kind != "b":
        _encode_codes(column, seed, hashes, values)
        return None
    numbers = np.asarray(column, np.float64)
    mode, stats = RAW, _NO_STATS
    scaler, limit = hasher.scaler, hasher.max_value
    if hasher.standardize:
        # Like the one-event path, a column gets statistics once a value is learned.
        mode = ZERO
        if name in scaler.columns or (learn and usable(numbers, limit).any()):
            slot = scaler.slot(name)  # may grow the statistics: before reading them
            mode, stats = SCALED, scaler.stats[slot]
    number_column(numbers, limit, stats, mode, learn, seed, hashes, values)
    return usable(numbers, limit) if hasher.missing else None


def _mark_missing(
    hasher: FeatureHasher, name: str, present: np.ndarray, learn: bool, hashes, values
) -> None:
    """The "missing" feature where the column is known and has no value. A column is
    known after the first event that had a value for it was learned."""
    if name in hasher.known:
        start = 0
    elif learn and present.any():
        start = int(np.argmax(present)) + 1
        hasher.known.add(name)
    else:
        return
    rows = np.flatnonzero(~present[start:]) + start
    hashes[rows] = hasher.missing_hash(name)
    values[rows] = 1.0


def _encode_codes(column: np.ndarray, seed: np.uint32, hashes, values) -> None:
    if column.dtype.kind in "iu":
        hash_int_column(column.astype(np.int64), np.ones(len(column), bool), seed, hashes, values)
        return
    present = np.isfinite(column)
    integral = present & (column == np.round(column))
    if (integral == present).all():
        codes = np.where(present, column, 0).astype(np.int64)
        hash_int_column(codes, present, seed, hashes, values)
        return
    values[:] = present
    hashes[:] = 0
    for i in np.flatnonzero(present):
        hashes[i] = hash_text(code_text(column[i], float(column[i])), int(seed))


def _padded(items: list, width: int) -> tuple:
    return tuple(items) + (items[0],) * (width - len(items))


def _output(n: int, slots: int, reuse: dict | None) -> tuple[np.ndarray, np.ndarray]:
    """(hashes, values) arrays for n rows: fresh zeros, or the rows of ``reuse``'s arrays
    (every slot is written)."""
    if reuse is None:
        return np.zeros((n, slots), dtype=np.uint32), np.zeros((n, slots))
    held = reuse.get(slots)
    if held is None or len(held[0]) < n:
        held = reuse[slots] = np.zeros((n, slots), dtype=np.uint32), np.zeros((n, slots))
    return held[0][:n], held[1][:n]
