"""Where served predictions go: a CSV file here, a Kafka topic in :mod:`.kafka`.

A sink gets each micro-batch's (ids, offsets, predictions, model version) and is flushed
at every checkpoint. Delivery is at least once: after a restart the events that followed
the last checkpoint are served, and so logged, again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from streamlearn.streams.protocol import PredictionSink


class CsvPredictions(PredictionSink):
    """Appends ``offset,id,prediction,version`` rows to a CSV file (header once).

    Parameters
    ----------
    path
        The CSV file; a torn last line (a process killed mid-write) is dropped on opening.

    Example
    -------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.models import LogisticRegression
    >>> from streamlearn.runner import Runner
    >>> from streamlearn.streams import FileEvents
    >>> path = Path(tempfile.mkdtemp()) / "predictions.csv"
    >>> runner = Runner(LogisticRegression(bits=16), FileEvents(elec2.path(), "target"),
    ...                 predictions=CsvPredictions(path))
    >>> summary = runner.run()
    >>> lines = path.read_text().splitlines()
    >>> len(lines) - 1, lines[0], round(summary.metrics["accuracy"], 3)
    (45312, '"offset","id","prediction","version"', 0.823)
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._checked = False

    def write(self, ids, offsets, predictions, versions) -> None:
        table = pa.table(
            {
                "offset": offsets,
                "id": pa.array([str(i) for i in ids]),
                "prediction": _column(predictions),
                "version": pa.array([str(v) for v in versions], pa.string()),
            }
        )
        if not self._checked and self.path.exists():
            _drop_torn_line(self.path)
        self._checked = True
        first = not self.path.exists() or self.path.stat().st_size == 0
        with open(self.path, "ab") as fh:
            pacsv.write_csv(table, fh, pacsv.WriteOptions(include_header=first))

    def flush(self) -> None:
        """Every write is closed at once: nothing waits."""


def _column(predictions: np.ndarray) -> Any:
    """Numbers as they are; a multiclass model's answers (class and probabilities) as JSON."""
    if predictions.dtype != object:
        return predictions
    return pa.array([json.dumps(p) for p in predictions.tolist()], pa.string())


def _drop_torn_line(path: Path) -> None:
    """A process killed while writing leaves half a line at the end: cut it off."""
    with open(path, "rb+") as fh:
        size = fh.seek(0, os.SEEK_END)
        if size == 0:
            return
        fh.seek(max(0, size - (1 << 16)))
        tail = fh.read()
        if tail.endswith(b"\n"):
            return
        cut = tail.rfind(b"\n")
        fh.truncate(size - len(tail) + cut + 1 if cut >= 0 else 0)
