"""Events as they come from outside (an HTTP body, a Kafka message): checked, then turned
into columns.

>>> check_event({"amount": 12.5, "country": "NL"})
>>> event_columns([{"x": 1, "c": "a"}, {"x": None}])["x"].tolist()
[1.0, nan]
>>> check_event({"x": [1, 2]})
Traceback (most recent call last):
...
TypeError: feature 'x': expected text, a number, a bool or null, got list
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa

SCALARS = (str, int, float, bool, type(None))
# Features in one event, at most: a batch's rows are as wide as its widest event, so one
# event of 10,000 keys would cost a whole micro-batch 10,000 slots per row.
MAX_FEATURES = 1000


def task_column(tasks: list[str | None]) -> np.ndarray | None:
    """Feedback's tasks (None when none names one: a one-task model's labels)."""
    if all(t is None for t in tasks):
        return None
    array = np.empty(len(tasks), dtype=object)
    array[:] = tasks
    return array


def check_event(event: Any) -> None:
    """An event is a dict of names to text, numbers, bools or None; its text is valid
    Unicode (TypeError or ValueError, saying what is wrong)."""
    if not isinstance(event, dict):
        raise TypeError(f"an event is a dict of features, got {type(event).__name__}")
    if len(event) > MAX_FEATURES:
        raise ValueError(f"an event has at most {MAX_FEATURES} features, this one {len(event)}")
    for name, value in event.items():
        if not isinstance(name, str) or not isinstance(value, SCALARS):
            raise TypeError(
                f"feature {name!r}: expected text, a number, a bool or null, "
                f"got {type(value).__name__}"
            )
        if not name.isascii():
            check_text(name)
        if type(value) is str and not value.isascii():
            check_text(value)


def check_text(text: str) -> str:
    """``text`` if it is valid Unicode; a lone surrogate (JSON's ``"\\ud800"``, which
    neither UTF-8, the hashing nor Arrow can take) is a ValueError."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("not valid Unicode (a lone surrogate)") from None
    return text


NO_FEATURES = "_no_features"  # a column nobody sends: all NaN, which no weight reads


def with_a_column(columns: dict[str, Any], n: int) -> dict[str, Any]:
    """``columns`` of ``n`` events; events with no feature at all (``{"features": {}}``)
    get one empty column, so that a model still sees how many there are (and serves them
    from its intercept)."""
    if columns or not n:
        return columns
    return {NO_FEATURES: np.full(n, np.nan)}


def event_columns(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Dict events as columns (missing keys are nulls): numbers as float64 (NaN for none),
    bools as bools, anything mixed with text as text."""
    if not rows:
        return {}
    try:  # the common case, in Arrow's C++ (every row's keys are seen): one kind per column
        structs = pa.array(rows)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        return _mixed_columns(rows)
    return struct_columns(structs) or _mixed_columns(rows)


def struct_columns(structs: pa.StructArray) -> dict[str, Any] | None:
    """Columns of a struct array of scalars (numbers as float64, NaN for null); None if a
    field holds something else (lists, structs)."""
    table = pa.Table.from_struct_array(structs)
    columns: dict[str, Any] = {}
    for name in table.column_names:
        column = table.column(name).combine_chunks()
        kind = column.type
        if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_null(kind):
            columns[name] = np.asarray(
                column.cast(pa.float64()).fill_null(math.nan).to_numpy(zero_copy_only=False),
                np.float64,
            )
        elif pa.types.is_string(kind) or pa.types.is_boolean(kind):
            columns[name] = column
        else:  # lists, structs …
            return None
    return columns


def _mixed_columns(rows: list[dict[str, Any]]) -> dict[str, Any]:
    names = sorted({name for row in rows for name in row})
    columns: dict[str, Any] = {}
    for name in names:
        values = [row.get(name) for row in rows]
        present = [v for v in values if v is not None]
        if present and all(isinstance(v, bool) for v in present):
            columns[name] = pa.array(values, pa.bool_())
        elif all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
            columns[name] = np.array([math.nan if v is None else v for v in values], np.float64)
        else:
            columns[name] = pa.array([None if v is None else str(v) for v in values], pa.string())
    return columns
