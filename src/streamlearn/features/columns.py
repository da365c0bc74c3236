"""Columnar input: a mapping of column name to numpy / Arrow array, an Arrow table or batch.

Everything the batch methods accept is turned into one of two kinds of column here, once:
text (an Arrow string array, hashed from its buffers) or numbers (a float64 numpy array
with NaN for missing). pandas works too, through its ``columns`` and ``to_numpy``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Columns = Mapping[str, Any]


def as_columns(X: Any) -> dict[str, Any]:
    """A dict of column name → numpy array or Arrow array, without copying where possible."""
    if isinstance(X, pa.Table | pa.RecordBatch):
        return {name: X.column(name) for name in X.column_names}
    if isinstance(X, Mapping):
        return dict(X)
    columns = getattr(X, "columns", None)
    if columns is not None and hasattr(X, "__getitem__"):  # a pandas (or polars) frame
        return {str(name): _column_values(X[name]) for name in columns}
    raise TypeError(
        "expected columns (a dict of arrays, an Arrow table or a data frame), "
        f"got {type(X).__name__}"
    )


def _column_values(series: Any) -> Any:
    to_numpy = getattr(series, "to_numpy", None)
    return to_numpy() if to_numpy is not None else np.asarray(series)


def n_rows(columns: dict[str, Any]) -> int:
    lengths = {len(col) for col in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"columns have different lengths: {sorted(lengths)}")
    return lengths.pop() if lengths else 0


def rows(column: Any, start: int, stop: int) -> Any:
    """Rows ``start:stop`` of a column (numpy, list or Arrow), without copying where possible."""
    if isinstance(column, pa.Array | pa.ChunkedArray):
        return column.slice(start, stop - start)
    return column[start:stop]


def taken(column: Any, index: np.ndarray) -> Any:
    """The rows at ``index`` of a column (numpy, list or Arrow)."""
    if isinstance(column, pa.Array | pa.ChunkedArray):
        return column.take(pa.array(index, pa.int64()))
    if isinstance(column, np.ndarray):
        return column[index]
    return [column[i] for i in index.tolist()]


def is_text(arrow_type: pa.DataType) -> bool:
    return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)


def to_arrow_or_numeric(name: str, values: Any) -> pa.Array | np.ndarray:
    """A column as an Arrow string array (text) or a float64/int64 numpy array (numbers)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        return _from_arrow(name, values)
    array = np.asarray(values)
    if array.dtype.kind in "fiub":
        return array
    if array.dtype.kind in "USO":
        try:
            converted = pa.array(array.tolist(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            raise TypeError(f"column {name!r} mixes value types; use one type per column") from None
        return _from_arrow(name, converted)
    raise TypeError(f"column {name!r} has unsupported dtype {array.dtype}")


def _from_arrow(name: str, values: pa.Array) -> pa.Array | np.ndarray:
    kind = values.type
    if pa.types.is_dictionary(kind):
        values = values.dictionary_decode()
        kind = values.type
    if is_text(kind):
        return values
    if pa.types.is_null(kind):
        return np.full(len(values), np.nan)
    if (pa.types.is_integer(kind) or pa.types.is_float64(kind)) and values.null_count == 0:
        return values.to_numpy()  # no copy
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind):
        return pc.fill_null(pc.cast(values, pa.float64()), np.nan).to_numpy()
    raise TypeError(f"column {name!r} has unsupported type {kind}")


def string_buffers(values: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(offsets, data, validity) of an Arrow string array; validity is empty without nulls."""
    offsets_type = np.int64 if pa.types.is_large_string(values.type) else np.int32
    n = len(values)
    buffers = values.buffers()
    offsets = np.frombuffer(buffers[1], offsets_type)[values.offset : values.offset + n + 1]
    data = np.frombuffer(buffers[2] if buffers[2] is not None else b"\0", np.uint8)
    if values.null_count:
        validity = values.is_valid().to_numpy(zero_copy_only=False)
    else:
        validity = np.zeros(0, bool)
    return offsets, data, validity
