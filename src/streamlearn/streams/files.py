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
import csv
import gzip
import io
import json
import lzma
import os
import re
import sys
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

FORMATS = ("csv", "jsonl", "parquet")
_PYTHON_OPENERS = {".gz": gzip.open, ".xz": lzma.open, ".bz2": bz2.open}
_ARROW_CODECS = {".gz": "gzip", ".bz2": "bz2"}
_DECOMPRESSORS = {
    ".gz": lambda: zlib.decompressobj(wbits=31),
    ".xz": lzma.LZMADecompressor,
    ".bz2": bz2.BZ2Decompressor,
}
_NUMBER = r"^\s*[-+]?((\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|inf|infinity|nan)\s*$"
BLOCK_BYTES = 1 << 22
HEAD_BYTES = 1 << 20
HEAD_STEP = 1 << 13  # a compressed file's head is read in steps of this many bytes


MAX_REASON_CHARS = 300  # a reason quotes values: long ones are cut


@dataclass
class Reject:
    """A row left out of the stream: its 1-based row number (header excluded) and why. The
    reason is cut to :data:`MAX_REASON_CHARS` characters and made valid Unicode, whatever
    value it quotes (a dead-letter file stays small and readable).

    Parameters
    ----------
    row
        The 1-based row number (header excluded).
    reason
        Why it was left out.

    Example
    -------
    >>> len(Reject(7, "value " + "x" * 10_000 + " is bad").reason)
    300
    """

    row: int
    reason: str

    def __post_init__(self) -> None:
        reason = self.reason.encode("utf-8", "backslashreplace").decode("utf-8")
        if len(reason) > MAX_REASON_CHARS:
            reason = reason[: MAX_REASON_CHARS - 1] + "…"
        self.reason = reason


@dataclass
class Batch:
    """Consecutive rows of a file: feature columns, targets and where they came from.

    Parameters
    ----------
    features, target
        The feature columns and the targets.
    rows
        Each event's 1-based row number.
    end_row
        The last row read (rejected or not).
    rejects
        The rows left out, with their reasons.

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> batch = next(iter(FileSource(elec2.path(), "target")))
    >>> len(batch), batch.rows[:3].tolist()
    (45312, [1, 2, 3])
    """

    features: dict[str, Any]
    target: np.ndarray
    rows: np.ndarray
    end_row: int
    rejects: list[Reject] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.target)

    def keep(self, mask: np.ndarray, rejects: Iterable[Reject] = ()) -> Batch:
        """The rows where ``mask`` is true; ``rejects`` (the others, explained) are added."""
        if mask.all() and not rejects:
            return self
        arrow_mask = pa.array(mask)
        features = {
            name: column.filter(arrow_mask) if isinstance(column, pa.Array) else column[mask]
            for name, column in self.features.items()
        }
        merged = sorted([*self.rejects, *rejects], key=lambda r: r.row)
        return Batch(features, self.target[mask], self.rows[mask], self.end_row, merged)


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
        self.delimiter = "\t" if ".tsv" in [s.lower() for s in self.path.suffixes] else ","

    @property
    def position(self) -> int:
        """Bytes of the file read so far (for progress)."""
        raw = self._raw
        if raw is None or raw.closed:
            return self.size
        return raw.tell()

    def _open(self) -> pa.NativeFile | IO[bytes]:
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
        readers = {
            "csv": self._csv_tables,
            "jsonl": self._jsonl_tables,
            "parquet": self._parquet_tables,
        }
        self._ragged = _RaggedRows()
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
    def _csv_tables(self) -> Iterator[tuple[pa.Table, list[Reject]]]:
        """The file's rows, a block at a time. Columns that were numbers in the first
        megabyte are parsed as numbers while reading (no text columns to build and cast);
        when a later value there is no number, the rest of the file is read as text, from
        the block that failed, and such values become rejects with their row numbers."""
        names, numbers = self._csv_header()
        done = 0
        while True:
            try:
                skip = self._ragged.lines_of(done)
                for record_batch in self._csv_batches(names, numbers, skip=skip):
                    done += record_batch.num_rows
                    yield _valid_text(pa.Table.from_batches([record_batch]))
                if self._ragged.swallowed is not None:
                    yield from self._lines_after_a_quote(names)
                return
            except pa.ArrowInvalid as exc:
                if _UNREADABLE_ROW.search(str(exc)):
                    # A ragged row of bytes that are not UTF-8 stops Arrow's reader: the
                    # rest of the file goes through Python's, slower but row by row.
                    yield from self._python_csv_tables(names, self._ragged.lines_of(done))
                    return
                if not numbers:
                    raise
                numbers = set()
            except (OSError, EOFError):
                if not self.compression:
                    raise
                # A truncated compressed file fails Arrow's reader a whole block early:
                # Python's decompressor hands over every row up to the cut.
                skip = self._ragged.lines_of(done)
                yield from self._python_csv_tables(names, skip, python_codec=True)
                return

    def _lines_after_a_quote(self, names: list[str]) -> Iterator[tuple[pa.Table, list[Reject]]]:
        """The lines an unclosed quote took as one field, each read as a row of its own
        (a quote inside one spans that line at most)."""
        number, text = self._ragged.swallowed
        self._ragged.swallowed = None
        block: list[list[str]] = []
        for k, line in enumerate(text.split("\n")[1:], start=1):
            line = line.rstrip("\r")
            if not line:
                continue
            fields = next(csv.reader([line], delimiter=self.delimiter))
            if len(fields) != len(names):
                self._ragged.note(number + k, len(fields), len(names))
                continue
            block.append(fields)
        if block:
            yield _valid_text(_binary_table(names, block))

    def _python_csv_tables(
        self, names: list[str], skip: int, python_codec: bool = False
    ) -> Iterator[tuple[pa.Table, list[Reject]]]:
        """The data rows after the first ``skip``, read with Python's csv module: bytes
        kept as they are (a value that is not UTF-8 is then a reject, as in Arrow's path),
        ragged rows noted as such. ``python_codec``: decompressed by Python (a truncated
        file then ends with an ``EOFError`` after its last whole row)."""
        opened = (
            _Decompressed(self.path, _DECOMPRESSORS[self.compression]())
            if python_codec and self.compression
            else self._open()
        )
        with opened as fh:
            text = io.TextIOWrapper(fh, encoding="utf-8", errors="surrogateescape", newline="")
            records = csv.reader(text, delimiter=self.delimiter)
            next(records, None)  # the header
            block: list[list[str]] = []
            for number, fields in enumerate(records, start=1):
                if number <= skip or not fields:
                    continue
                if len(fields) != len(names):
                    self._ragged.note(number, len(fields), len(names))
                    continue
                block.append(fields)
                if len(block) == PYTHON_BLOCK_ROWS:
                    yield _valid_text(_binary_table(names, block))
                    block = []
            if block:
                yield _valid_text(_binary_table(names, block))
            if isinstance(fh, _Decompressed) and fh.truncated:
                raise EOFError("the compressed stream has no end")

    def _csv_batches(
        self, names: list[str], numbers: set[str], skip: int
    ) -> Iterator[pa.RecordBatch]:
        # Text is read as bytes and checked as UTF-8 afterwards: a bad value is a reject,
        # not the end of the file.
        types = {name: pa.float64() if name in numbers else pa.binary() for name in names}
        with self._open() as fh:
            # One thread: the learner runs beside the reader, and CPU seconds stay honest.
            reader = pacsv.open_csv(
                fh,
                read_options=pacsv.ReadOptions(
                    block_size=BLOCK_BYTES, use_threads=False, skip_rows_after_names=skip
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=self.delimiter, invalid_row_handler=self._ragged.skip
                ),
                convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True),
            )
            try:
                yield from reader
            finally:
                reader.close()  # stop its read-ahead before the file closes

    def _csv_header(self) -> tuple[list[str], set[str]]:
        """Column names, and the numeric columns whose values in the file's first megabyte
        (whole lines) were all numbers, from which the column types are decided."""
        head = self._head()
        if len(head) == HEAD_BYTES and b"\n" in head:
            head = head[: head.rindex(b"\n") + 1]
        sample = self._sample(head)
        self._decide_types(sample.schema, sample)
        numbers = {
            field.name
            for field in sample.schema
            if field.name in (self.numeric or ())
            and (pa.types.is_integer(field.type) or pa.types.is_floating(field.type))
        }
        return sample.schema.names, numbers

    def _head(self) -> bytes:
        """The file's first megabyte (decompressed); of a truncated compressed file, as
        much of it as its bytes hold."""
        if not self.compression:
            with self._open() as fh:
                return fh.read(HEAD_BYTES)
        decompressor = _DECOMPRESSORS[self.compression]()
        chunks, size = [], 0
        with open(self.path, "rb") as fh:
            while size < HEAD_BYTES and not decompressor.eof and (raw := fh.read(HEAD_STEP)):
                chunks.append(decompressor.decompress(raw, HEAD_BYTES - size))
                size += len(chunks[-1])
        return b"".join(chunks)

    def _sample(self, head: bytes) -> pa.Table:
        """The first megabyte as a table, to decide types from; a ragged row whose bytes
        are not UTF-8 (which the reader cannot skip) is dropped from it, as are the rows
        the reader can skip."""
        for _ in range(MAX_SAMPLE_RETRIES):
            try:
                return pacsv.read_csv(
                    pa.BufferReader(head),
                    read_options=pacsv.ReadOptions(use_threads=False),
                    parse_options=pacsv.ParseOptions(
                        delimiter=self.delimiter, invalid_row_handler=_skip_row
                    ),
                    convert_options=pacsv.ConvertOptions(check_utf8=False),
                )
            except pa.ArrowInvalid as exc:
                found = _UNREADABLE_ROW.search(str(exc))
                if found is None:
                    raise ValueError(f"{self.path}: not a readable CSV file ({exc})") from None
                lines = head.split(b"\n")
                del lines[int(found["row"]) - 1]  # Row #N counts the header as row 1
                head = b"\n".join(lines)
        raise ValueError(f"{self.path}: not a readable CSV file (too many unreadable rows)")

    def _parquet_tables(self) -> Iterator[tuple[pa.Table, list[Reject]]]:
        if self.compression:
            raise ValueError(f"{self.path}: Parquet compresses inside; give the .parquet file")
        with self._open() as fh:
            parquet = pq.ParquetFile(fh)
            for record_batch in parquet.iter_batches(batch_size=self.batch_rows):
                if self.numeric is None:
                    self._decide_types(record_batch.schema, record_batch)
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
            self._decide_types(table.schema, table)
        return table, rejects

    # ------------------------------------------------------------------ typing
    def _decide_types(self, schema: pa.Schema, sample: pa.Table | pa.RecordBatch) -> None:
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


_UNREADABLE_ROW = re.compile(
    r"Row #(?P<row>\d+): Expected (?P<expected>\d+) columns, got (?P<actual>\d+)"
)


MAX_SAMPLE_RETRIES = 1000


def _skip_row(_row: Any) -> str:
    return "skip"


def _quiet_unreadable_rows(previous: Any) -> Any:
    """Arrow cannot hand a ragged row of bytes that are not UTF-8 to its invalid-row
    handler: it reports the decoding error as "unraisable" (a traceback on stderr), then
    fails the read, which this module handles. Those reports are dropped; others pass."""

    def hook(unraisable: Any) -> None:
        ours = getattr(unraisable.object, "__func__", unraisable.object)
        if ours in (_RaggedRows.skip, _skip_row) and unraisable.exc_type is UnicodeDecodeError:
            return
        previous(unraisable)

    return hook


PYTHON_BLOCK_ROWS = 1 << 16


class _RaggedRows:
    """Rows with too few or too many fields, which the CSV reader skips: their numbers in
    the file (1-based, header excluded), so that the good rows keep theirs."""

    def __init__(self) -> None:
        self.numbers: list[int] = []  # in the order found (ascending)
        self.reasons: dict[int, str] = {}
        self.given = 0  # how many were handed out as rejects
        self.swallowed: tuple[int, str] | None = None  # an unclosed quote's row, and the rest

    def skip(self, row: Any) -> str:
        number = int(row.number) - 1 if row.number is not None else -1
        reason = f"{row.actual_columns} fields where the header has {row.expected_columns}"
        if "\n" in row.text.rstrip("\r\n"):  # a quote that never closes takes the rest
            reason = "an unclosed quote (the lines after it are read one by one)"
            self.swallowed = (number, row.text)
        self._add(number, reason)
        return "skip"

    def _add(self, number: int, reason: str) -> None:
        if number not in self.reasons:  # a file read again from a block finds it again
            self.numbers.append(number)
            self.reasons[number] = reason

    def note(self, number: int, actual: int, expected: int) -> None:
        """Row ``number`` has ``actual`` fields, not ``expected`` (Python's reader)."""
        self._add(number, f"{actual} fields where the header has {expected}")

    def lines_of(self, good: int) -> int:
        """The data lines that hold the first ``good`` good rows (and the ragged ones
        among them)."""
        return int(self.data_rows(good - 1, 1)[0]) if good else 0

    def data_rows(self, first: int, n: int) -> np.ndarray:
        """The file's row numbers of good rows ``first`` to ``first + n - 1`` (0-based)."""
        if not self.numbers:
            return np.arange(first + 1, first + n + 1)
        skipped = np.array(sorted(self.numbers))
        candidates = np.arange(1, first + n + len(skipped) + 1)
        return np.setdiff1d(candidates, skipped, assume_unique=True)[first : first + n]

    @property
    def pending(self) -> bool:
        return self.given < len(self.numbers)

    def up_to(self, row: float) -> list[Reject]:
        """The ragged rows up to ``row`` not handed out yet, as rejects."""
        ready = sorted(n for n in self.numbers[self.given :] if n <= row)
        self.given += len(ready)
        return [Reject(number, self.reasons[number]) for number in ready]


class _Decompressed(io.RawIOBase):
    """A compressed file's bytes, decompressed as far as they go: a truncated file reads
    to its cut, then ends (``truncated`` says so), with nothing lost before it."""

    def __init__(self, path: Path, decompressor: Any) -> None:
        self._raw = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._decompressor = decompressor
        self._pending = b""
        self.truncated = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            if self._decompressor.eof:
                return 0
            raw = self._raw.read(HEAD_STEP)
            if not raw:
                self.truncated = True
                return 0
            self._pending = self._decompressor.decompress(raw)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def _binary_table(names: list[str], rows: list[list[str]]) -> pa.Table:
    """Rows of Python's csv reader as columns of the bytes read (empty: null)."""
    columns = zip(*rows, strict=True)
    return pa.table(
        {
            name: pa.array(
                [v.encode("utf-8", "surrogateescape") if v else None for v in values],
                pa.binary(),
            )
            for name, values in zip(names, columns, strict=True)
        }
    )


def _valid_text(table: pa.Table) -> tuple[pa.Table, list[Reject]]:
    """Columns read as bytes, as text: a value that is not UTF-8 is a reject (its row) and
    becomes null."""
    rejects: list[Reject] = []
    columns = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_binary(column.type):
            column = column.combine_chunks()
            try:
                column = column.cast(pa.string())
            except pa.ArrowInvalid:
                column, bad = _utf8_or_null(column)
                rejects += [Reject(int(i), f"column {name!r}: not UTF-8 text") for i in bad]
        columns.append(column)
    return pa.table(dict(zip(table.column_names, columns, strict=True))), rejects


def _utf8_or_null(column: pa.Array) -> tuple[pa.Array, list[int]]:
    values, bad = [], []
    for i, raw in enumerate(column.to_pylist()):
        try:
            values.append(None if raw is None else raw.decode("utf-8"))
        except UnicodeDecodeError:
            values.append(None)
            bad.append(i)
    return pa.array(values, pa.string()), bad


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


sys.unraisablehook = _quiet_unreadable_rows(sys.unraisablehook)
