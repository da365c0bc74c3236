"""Reading a CSV file fast and without losing a row: Arrow's reader, block by block, with
columns typed from the first megabyte; Python's reader from the block where Arrow's cannot
go on (a ragged row of bytes that are not UTF-8, the cut of a truncated compressed file);
ragged rows and unclosed quotes become rejects with their row numbers."""

from __future__ import annotations

import bz2
import csv
import io
import lzma
import re
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from streamlearn.streams.file_rows import Reject, valid_text

if TYPE_CHECKING:
    from streamlearn.streams.files import FileSource

DECOMPRESSORS = {
    ".gz": lambda: zlib.decompressobj(wbits=31),
    ".xz": lzma.LZMADecompressor,
    ".bz2": bz2.BZ2Decompressor,
}
BLOCK_BYTES = 1 << 22
HEAD_BYTES = 1 << 20
HEAD_STEP = 1 << 13  # a compressed file's head is read in steps of this many bytes


_UNREADABLE_ROW = re.compile(
    r"Row #(?P<row>\d+): Expected (?P<expected>\d+) columns, got (?P<actual>\d+)"
)


MAX_SAMPLE_RETRIES = 1000


PYTHON_BLOCK_ROWS = 1 << 16


class CsvTables:
    """A CSV file's rows, a table at a time, with the rows no reader could take noted as
    rejects (see :meth:`tables`).

    Parameters
    ----------
    source
        The file source: its path, compression, delimiter and column types.
    ragged
        Where the ragged rows found are noted (the source numbers the good rows by it).

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.streams.files import FileSource
    >>> tables = CsvTables(FileSource(elec2.path(), target="target"))
    >>> sum(table.num_rows for table, _ in tables.tables())
    45312
    """

    def __init__(self, source: FileSource, ragged: RaggedRows | None = None) -> None:
        self.source = source
        self.ragged = RaggedRows() if ragged is None else ragged

    def tables(self) -> Iterator[tuple[pa.Table, list[Reject]]]:
        """The file's rows, a block at a time. Columns that were numbers in the first
        megabyte are parsed as numbers while reading (no text columns to build and cast);
        when a later value there is no number, the rest of the file is read as text, from
        the block that failed, and such values become rejects with their row numbers."""
        names, numbers = self._header()
        done = 0
        while True:
            try:
                skip = self.ragged.lines_of(done)
                for record_batch in self._csv_batches(names, numbers, skip=skip):
                    done += record_batch.num_rows
                    yield valid_text(pa.Table.from_batches([record_batch]))
                if self.ragged.swallowed is not None:
                    yield from self._lines_after_a_quote(names)
                return
            except pa.ArrowInvalid as exc:
                if _UNREADABLE_ROW.search(str(exc)):
                    # A ragged row of bytes that are not UTF-8 stops Arrow's reader: the
                    # rest of the file goes through Python's, slower but row by row.
                    yield from self._python_csv_tables(names, self.ragged.lines_of(done))
                    return
                if not numbers:
                    raise
                numbers = set()
            except (OSError, EOFError):
                if not self.source.compression:
                    raise
                # A truncated compressed file fails Arrow's reader a whole block early:
                # Python's decompressor hands over every row up to the cut.
                skip = self.ragged.lines_of(done)
                yield from self._python_csv_tables(names, skip, python_codec=True)
                return

    def _lines_after_a_quote(self, names: list[str]) -> Iterator[tuple[pa.Table, list[Reject]]]:
        """The lines an unclosed quote took as one field, each read as a row of its own
        (a quote inside one spans that line at most)."""
        number, text = self.ragged.swallowed
        self.ragged.swallowed = None
        block: list[list[str]] = []
        for k, line in enumerate(text.split("\n")[1:], start=1):
            line = line.rstrip("\r")
            if not line:
                continue
            fields = next(csv.reader([line], delimiter=self.source.delimiter))
            if len(fields) != len(names):
                self.ragged.note(number + k, len(fields), len(names))
                continue
            block.append(fields)
        if block:
            yield valid_text(_binary_table(names, block))

    def _python_csv_tables(
        self, names: list[str], skip: int, python_codec: bool = False
    ) -> Iterator[tuple[pa.Table, list[Reject]]]:
        """The data rows after the first ``skip``, read with Python's csv module: bytes
        kept as they are (a value that is not UTF-8 is then a reject, as in Arrow's path),
        ragged rows noted as such. ``python_codec``: decompressed by Python (a truncated
        file then ends with an ``EOFError`` after its last whole row)."""
        opened = (
            Decompressed(self.source.path, DECOMPRESSORS[self.source.compression]())
            if python_codec and self.source.compression
            else self.source.open_stream()
        )
        with opened as fh:
            text = io.TextIOWrapper(fh, encoding="utf-8", errors="surrogateescape", newline="")
            records = csv.reader(text, delimiter=self.source.delimiter)
            next(records, None)  # the header
            block: list[list[str]] = []
            for number, fields in enumerate(records, start=1):
                if number <= skip or not fields:
                    continue
                if len(fields) != len(names):
                    self.ragged.note(number, len(fields), len(names))
                    continue
                block.append(fields)
                if len(block) == PYTHON_BLOCK_ROWS:
                    yield valid_text(_binary_table(names, block))
                    block = []
            if block:
                yield valid_text(_binary_table(names, block))
            if isinstance(fh, Decompressed) and fh.truncated:
                raise EOFError("the compressed stream has no end")

    def _csv_batches(
        self, names: list[str], numbers: set[str], skip: int
    ) -> Iterator[pa.RecordBatch]:
        # Text is read as bytes and checked as UTF-8 afterwards: a bad value is a reject,
        # not the end of the file.
        types = {name: pa.float64() if name in numbers else pa.binary() for name in names}
        with self.source.open_stream() as fh:
            # One thread: the learner runs beside the reader, and CPU seconds stay honest.
            reader = pacsv.open_csv(
                fh,
                read_options=pacsv.ReadOptions(
                    block_size=BLOCK_BYTES, use_threads=False, skip_rows_after_names=skip
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=self.source.delimiter, invalid_row_handler=self.ragged.skip
                ),
                convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True),
            )
            try:
                yield from reader
            finally:
                reader.close()  # stop its read-ahead before the file closes

    def _header(self) -> tuple[list[str], set[str]]:
        """Column names, and the numeric columns whose values in the file's first megabyte
        (whole lines) were all numbers, from which the column types are decided."""
        head = self._head()
        if len(head) == HEAD_BYTES and b"\n" in head:
            head = head[: head.rindex(b"\n") + 1]
        sample = self._sample(head)
        self.source.decide_types(sample.schema, sample)
        numbers = {
            field.name
            for field in sample.schema
            if field.name in (self.source.numeric or ())
            and (pa.types.is_integer(field.type) or pa.types.is_floating(field.type))
        }
        return sample.schema.names, numbers

    def _head(self) -> bytes:
        """The file's first megabyte (decompressed); of a truncated compressed file, as
        much of it as its bytes hold."""
        if not self.source.compression:
            with self.source.open_stream() as fh:
                return fh.read(HEAD_BYTES)
        decompressor = DECOMPRESSORS[self.source.compression]()
        chunks, size = [], 0
        with open(self.source.path, "rb") as fh:
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
                        delimiter=self.source.delimiter, invalid_row_handler=_skip_row
                    ),
                    convert_options=pacsv.ConvertOptions(check_utf8=False),
                )
            except pa.ArrowInvalid as exc:
                found = _UNREADABLE_ROW.search(str(exc))
                if found is None:
                    raise ValueError(
                        f"{self.source.path}: not a readable CSV file ({exc})"
                    ) from None
                lines = head.split(b"\n")
                row = int(found["row"]) - 1  # Row #N counts the header as row 1
                if not 0 <= row < len(lines):  # rows are not lines (quotes, bare \r)
                    raise ValueError(f"{self.source.path}: not a readable CSV file") from None
                del lines[row]
                head = b"\n".join(lines)
        raise ValueError(f"{self.source.path}: not a readable CSV file (too many unreadable rows)")


def _skip_row(_row: Any) -> str:
    return "skip"


def _quiet_unreadable_rows(previous: Any) -> Any:
    """Arrow cannot hand a ragged row of bytes that are not UTF-8 to its invalid-row
    handler: it reports the decoding error as "unraisable" (a traceback on stderr), then
    fails the read, which this module handles. Those reports are dropped; others pass."""

    def hook(unraisable: Any) -> None:
        ours = getattr(unraisable.object, "__func__", unraisable.object)
        if ours in (RaggedRows.skip, _skip_row) and unraisable.exc_type is UnicodeDecodeError:
            return
        previous(unraisable)

    return hook


class RaggedRows:
    """Rows with too few or too many fields, which the CSV reader skips: their numbers in
    the file (1-based, header excluded), so that the good rows keep theirs.

    Example
    -------
    >>> ragged = RaggedRows()
    >>> ragged.note(3, 5, 4)
    >>> ragged.data_rows(0, 4).tolist(), [(r.row, r.reason) for r in ragged.up_to(10)]
    ([1, 2, 4, 5], [(3, '5 fields where the header has 4')])
    """

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


class Decompressed(io.RawIOBase):
    """A compressed file's bytes, decompressed as far as they go: a truncated file reads
    to its cut, then ends (``truncated`` says so), with nothing lost before it.

    Parameters
    ----------
    path
        The compressed file.
    decompressor
        A fresh decompressor of its codec (``zlib.decompressobj(wbits=31)`` for gzip).

    Example
    -------
    >>> import gzip, tempfile, zlib
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "cut.csv.gz"
    >>> text = "".join(f"{i},x\\n" for i in range(5000)).encode()
    >>> _ = path.write_bytes(gzip.compress(text)[:-20])  # a truncated download
    >>> with Decompressed(path, zlib.decompressobj(wbits=31)) as stream:
    ...     data = stream.read()
    >>> data.startswith(b"0,x"), len(data) < len(text), stream.truncated
    (True, True, True)
    """

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


sys.unraisablehook = _quiet_unreadable_rows(sys.unraisablehook)
