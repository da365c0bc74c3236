"""What a file source yields: batches of rows, and the rows left out with their reasons."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

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
    >>> from streamlearn.streams.files import FileSource
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


def valid_text(table: pa.Table) -> tuple[pa.Table, list[Reject]]:
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
