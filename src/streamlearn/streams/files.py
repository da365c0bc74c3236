"""Stream a CSV, JSON-lines or Parquet file (optionally gzip / xz / bz2 compressed) in batches.

Memory stays constant: the file is read block by block. Every batch holds typed feature
columns and a float64 target. Rows that cannot be used — a missing or unparsable target, a
value that does not parse as its column's type — are left out of the batch and reported as
:class:`Reject` records with their row number and the reason, so they never touch a model.

A column's type is decided from the first block: numbers if every value there parses as a
number (and the column is not declared categorical), text otherwise.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from streamlearn.streams.csv_file import CsvTables, RaggedRows
from streamlearn.streams.file_rows import Batch, Reject

FORMATS = ("csv", "jsonl", "parquet")
_PYTHON_OPENERS = {".gz": gzip.open, ".xz": lzma.open, ".bz2": bz2.open}
_ARROW_CODECS = {".gz": "gzip", ".bz2": "bz2"}
_NUMBER = r"^\s*[-+]?((\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|inf|infinity|nan)\s*$"


def detect_format(path: str | os.PathLike) -> tuple[str, str | None]:
    """(format, compression suffix) from the file name, e.g. ``data.csv.gz`` → (csv, .gz)."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    compression = suffixes.pop() if suffixes and suffixes[-1] in _PYTHON_OPENERS else None
    kind = suffixes[-1] if suffixes else ""
    mapping = {
        ".csv": "csv",
        ".tsv": "csv",
        ".jsonl": "jsonl",
        ".ndjson": "jsonl",
        ".json": "jsonl",
        ".parquet": "parquet",
        ".pq": "parquet",
    }
    if kind not in mapping:
        raise ValueError(f"{path}: cannot tell the format; expected .csv, .jsonl or .parquet")
    return mapping[kind], compression


class FileSource:
    """Batches of (features, target) from a file, with bad rows turned into rejects.

    Parameters
    ----------
    path
        The file; its format and compression come from its name.
    target
        The target column.
    categorical
        Columns to read as text even when they hold numbers.
    batch_rows
        Rows per batch for JSON lines and Parquet (CSV batches follow its block size).
    unlabeled
        Keep rows whose (numeric) target is empty, with target NaN: events whose label has
        not come (a runner learns them when it does, or lets them expire). By default such
        rows are rejects.

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> source = FileSource(elec2.path(), target="target")
    >>> sum(len(batch.target) for batch in source), source.position == source.size
    (45312, True)
    """

    def __init__(
        self,
        path: str | os.PathLike,
        target: str,
        categorical: Iterable[str] = (),
        batch_rows: int = 65536,
        unlabeled: bool = False,
        delimiter: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.unlabeled = unlabeled
        if not self.path.is_file():
            raise FileNotFoundError(f"no such file: {self.path}")
        self.format, self.compression = detect_format(self.path)
        self.target = target
        self.categorical = set(categorical)
        self.batch_rows = batch_rows
        self.size = self.path.stat().st_size
        self.numeric: set[str] | None = None
        self.text_target = False
        self._raw: IO[bytes] | None = None
        tsv = ".tsv" in [s.lower() for s in self.path.suffixes]
        self.delimiter = delimiter or ("\t" if tsv else ",")
        if len(self.delimiter) != 1 or self.delimiter in '\r\n"':
            raise ValueError(
                f"delimiter: one character (not a quote or newline), not {delimiter!r}"
            )

    @property
    def position(self) -> int:
        """Bytes of the file read so far (for progress)."""
        raw = self._raw
        if raw is None or raw.closed:
            return self.size
        return raw.tell()

    def open_stream(self) -> pa.NativeFile | IO[bytes]:
        """The decompressed byte stream. Arrow's own streams where Arrow has the codec: its
        read-ahead thread then never needs the GIL (a Python file under Arrow's reader can
        deadlock at shutdown); xz goes through Python's lzma."""
        self._raw = pa.OSFile(str(self.path), "rb")
        if self.compression == ".xz":
            return lzma.open(self._raw)
        if self.compression:
            return pa.CompressedInputStream(self._raw, _ARROW_CODECS[self.compression])
        return self._raw

    def __iter__(self) -> Iterator[Batch]:
        self._ragged = RaggedRows()
        readers = {
            "csv": CsvTables(self, self._ragged).tables,
            "jsonl": self._jsonl_tables,
            "parquet": self._parquet_tables,
        }
        last = 0  # the file's row number of the last row handed out
        try:
            try:
                for batch in self._batches(readers[self.format]()):
                    last = max(last, batch.end_row)
                    yield batch
            except (OSError, EOFError) as exc:
                if not self.compression:
                    raise
                # A truncated download: what was read is learned, the loss is said.
                cut = Reject(
                    last + 1,
                    f"the compressed data ends early ({exc}): no row after row {last} "
                    "could be read (a truncated file?)",
                )
                yield Batch({}, np.zeros(0), np.zeros(0, np.int64), last + 1, [cut])
            if self._ragged.pending:  # bad rows after the last good one
                rejects = self._ragged.up_to(np.inf)
                empty = np.zeros(0, np.int64)
                yield Batch({}, np.zeros(0), empty, max(r.row for r in rejects), rejects)
        finally:
            if self._raw is not None:
                self._raw.close()

    def _batches(self, tables: Iterator[tuple[pa.Table, list[Reject]]]) -> Iterator[Batch]:
        row = 0
        for table, rejects in tables:
            numbers = self._ragged.data_rows(row, table.num_rows)
            batch = self._to_batch(table, row, rejects, numbers)
            batch.rejects += self._ragged.up_to(batch.end_row)
            row += table.num_rows
            yield batch

    # ------------------------------------------------------------------ formats

    def _parquet_tables(self) -> Iterator[tuple[pa.Table, list[Reject]]]:
        if self.compression:
            raise ValueError(f"{self.path}: Parquet compresses inside; give the .parquet file")
        with self.open_stream() as fh:
            parquet = pq.ParquetFile(fh)
            for record_batch in parquet.iter_batches(batch_size=self.batch_rows):
                if self.numeric is None:
                    self.decide_types(record_batch.schema, record_batch)
                yield pa.Table.from_batches([record_batch]), []

    def _jsonl_tables(self) -> Iterator[tuple[pa.Table, list[Reject]]]:
        self._raw = open(self.path, "rb")  # noqa: SIM115 - closed by __iter__
        opener = _PYTHON_OPENERS.get(self.compression or "")
        with opener(self._raw) if opener else self._raw as fh:
            lines: list[bytes] = []
            for line in fh:
                lines.append(line)
                if len(lines) >= self.batch_rows:
                    yield self._json_table(lines)
                    lines = []
            if lines:
                yield self._json_table(lines)

    def _json_table(self, lines: list[bytes]) -> tuple[pa.Table, list[Reject]]:
        records: list[dict[str, Any]] = []
        rejects: list[Reject] = []
        for i, line in enumerate(lines):
            record, reason = _parse_json_line(line)
            if reason:
                rejects.append(Reject(i, reason))
                records.append({})
            else:
                records.append(record)
        table, bad = _records_to_table(records)
        rejects += [Reject(i, reason) for i, reason in bad]
        if self.numeric is None:
            self.decide_types(table.schema, table)
        return table, rejects

    # ------------------------------------------------------------------ typing
    def decide_types(self, schema: pa.Schema, sample: pa.Table | pa.RecordBatch) -> None:
        if self.target not in schema.names:
            raise KeyError(
                f"{self.path}: no target column {self.target!r}; columns: {', '.join(schema.names)}"
            )
        self.numeric = {
            name
            for name in schema.names
            if name not in self.categorical and _looks_numeric(sample.column(name))
        }
        column = sample.column(self.target)
        self.text_target = self.target not in self.numeric and not _is_boolean_text(column)

    def _to_batch(
        self, table: pa.Table, start_row: int, rejects: list[Reject], numbers: np.ndarray
    ) -> Batch:
        """The table's rows as a batch; ``numbers``: each row's number in the file."""
        n = table.num_rows
        bad = np.zeros(n, bool)
        for reject in rejects:
            bad[reject.row] = True
        parse = _parse_text_target if self.text_target else _parse_target
        target, reasons = parse(
            table.column(self.target) if self.target in table.column_names else pa.nulls(n),
            self.target,
        )
        if self.unlabeled and not self.text_target:
            empty = _empty(table.column(self.target)) if self.target in table.column_names else None
            if empty is not None:
                for i in np.flatnonzero(empty):
                    reasons.pop(int(i), None)
        features: dict[str, Any] = {}
        for name in table.column_names:
            if name == self.target:
                continue
            column = table.column(name).combine_chunks()
            if name in (self.numeric or ()):
                column, column_reasons = _parse_numbers(column, name)
                reasons.update((i, r) for i, r in column_reasons.items() if i not in reasons)
            elif not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
                column = pc.cast(column, pa.string())
            features[name] = column
        for i, reason in reasons.items():
            if not bad[i]:
                bad[i] = True
                rejects.append(Reject(i, reason))
        for reject in rejects:
            reject.row = int(numbers[reject.row])
        end_row = int(numbers[-1]) if n else start_row
        return Batch(features, target, numbers, end_row, []).keep(~bad, rejects)


def _empty(column: pa.ChunkedArray) -> np.ndarray:
    """Which values are null or empty text."""
    column = column.combine_chunks()
    empty = pc.is_null(column)
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        empty = pc.or_(empty, pc.equal(pc.utf8_trim_whitespace(column), ""))
    return np.asarray(pc.fill_null(empty, True).to_numpy(zero_copy_only=False), bool)


def _looks_numeric(column: pa.Array | pa.ChunkedArray) -> bool:
    """Numbers, or text of which at least 95% of the non-empty values parse as numbers (the
    rest are then bad rows, not categories)."""
    kind = column.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind):
        return True
    if pa.types.is_null(kind):
        return True
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        return False
    present = pc.drop_null(pc.if_else(pc.equal(column, ""), pa.scalar(None, kind), column))
    if len(present) == 0:
        return True
    numeric = pc.sum(pc.match_substring_regex(present, _NUMBER, ignore_case=True)).as_py() or 0
    return numeric >= 0.95 * len(present)


def _parse_json_line(line: bytes) -> tuple[dict[str, Any], str | None]:
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        return {}, f"invalid JSON: {exc}"
    if not isinstance(record, dict):
        return {}, f"expected a JSON object, got {type(record).__name__}"
    return record, None


def _records_to_table(records: list[dict[str, Any]]) -> tuple[pa.Table, list[tuple[int, str]]]:
    """Columns from JSON records; a value whose type differs from its column's is a reject."""
    kinds: dict[str, type] = {}
    bad: dict[int, str] = {}
    for i, record in enumerate(records):
        for key, value in record.items():
            if value is None:
                continue
            kind = _json_kind(value)
            if kind is None:
                bad.setdefault(i, f"column {key!r}: unsupported value {type(value).__name__}")
                continue
            expected = kinds.setdefault(key, kind)
            if kind is not expected and {kind, expected} != {int, float}:
                bad.setdefault(
                    i, f"column {key!r}: expected {expected.__name__}, got {kind.__name__}"
                )
            elif kind is float:
                kinds[key] = float
    columns = {}
    for key, kind in kinds.items():
        values = [None if i in bad else r.get(key) for i, r in enumerate(records)]
        arrow_type = pa.string() if kind is str else pa.float64()
        columns[key] = pa.array(values, type=arrow_type)
    return pa.table(columns) if columns else pa.table({"_": pa.nulls(len(records))}), sorted(
        bad.items()
    )


def _json_kind(value: Any) -> type | None:
    if isinstance(value, bool):
        return int
    if isinstance(value, int | float | str):
        return type(value)
    return None


def _parse_numbers(
    column: pa.Array, name: str, what: str = "column"
) -> tuple[np.ndarray, dict[int, str]]:
    """Numbers of a column (NaN where missing) and the rows whose text is not a number."""
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return pc.fill_null(pc.cast(column, pa.float64()), np.nan).to_numpy(), {}
    try:  # the fast path: every value parses
        return pc.fill_null(pc.cast(column, pa.float64()), np.nan).to_numpy(), {}
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    column = pc.if_else(pc.equal(column, ""), pa.scalar(None, column.type), column)
    ok = pc.fill_null(pc.match_substring_regex(column, _NUMBER, ignore_case=True), True)
    ok_mask = ok.to_numpy(zero_copy_only=False)
    reasons = {
        int(i): f"{what} {name!r}: cannot parse {column[int(i)].as_py()!r:.80} as a number"
        for i in np.flatnonzero(~ok_mask)
    }
    cleaned = pc.if_else(ok, column, pa.scalar(None, column.type))
    return pc.fill_null(pc.cast(cleaned, pa.float64()), np.nan).to_numpy(), reasons


def _is_boolean_text(column: pa.Array | pa.ChunkedArray) -> bool:
    """Text that only says true / false (any case): a binary target, read as 1 / 0."""
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return False
    values = pc.drop_null(pc.utf8_lower(pc.utf8_trim_whitespace(column)))
    return len(values) > 0 and bool(pc.all(pc.is_in(values, pa.array(["true", "false"]))).as_py())


def _parse_text_target(
    column: pa.ChunkedArray | pa.Array, name: str
) -> tuple[np.ndarray, dict[int, str]]:
    """Class labels as text (an object array); missing or empty labels are rejects."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        column = pc.cast(column, pa.string())
    labels = np.array(column.to_pylist(), dtype=object)
    missing = np.array([label is None or label == "" for label in labels], dtype=bool)
    reasons = {int(i): f"target {name!r} is missing" for i in np.flatnonzero(missing)}
    return labels, reasons


def _parse_target(
    column: pa.ChunkedArray | pa.Array, name: str
) -> tuple[np.ndarray, dict[int, str]]:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        try:
            column = pc.cast(column, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            lowered = pc.utf8_lower(pc.utf8_trim_whitespace(column))
            column = pc.replace_substring_regex(lowered, r"^true$", "1")
            column = pc.replace_substring_regex(column, r"^false$", "0")
    values, reasons = _parse_numbers(column, name, what="target")
    for i in np.flatnonzero(~np.isfinite(values)):
        reasons.setdefault(int(i), f"target {name!r} is missing or not finite")
    return values, reasons
