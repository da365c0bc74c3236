"""Rejected rows: counted by kind of reason, the first few kept, all written to a JSON-lines
file when asked (row and reason), so that a bad row is never lost and never learned.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from streamlearn.streams.files import Reject

KEPT_REJECTS = 20


@dataclass
class RejectLog:
    """Counts rejected rows, keeps the first few, and writes all to a JSON-lines file if asked.

    Parameters
    ----------
    path
        The JSON-lines file for every reject (row and reason); None: counted and kept only.

    Example
    -------
    >>> from streamlearn.streams import Reject
    >>> log = RejectLog()
    >>> log.add([Reject(3, "label 'x' is not a number"), Reject(9, "label 'y' is not a number")])
    >>> log.count, log.by_reason
    (2, {'label … is not a number': 2})
    """

    path: Path | None = None
    count: int = 0
    first: list[Reject] = field(default_factory=list)
    by_reason: dict[str, int] = field(default_factory=dict)
    _fh: IO[str] | None = None

    def add(self, rejects: list[Reject]) -> None:
        if not rejects:
            return
        self.count += len(rejects)
        for reject in rejects:
            kind = reason_kind(reject.reason)
            self.by_reason[kind] = self.by_reason.get(kind, 0) + 1
        room = KEPT_REJECTS - len(self.first)
        if room > 0:
            self.first += rejects[:room]
        if self.path is not None:
            if self._fh is None:
                self._fh = open(self.path, "w")  # noqa: SIM115 - closed by close()
            for reject in rejects:
                self._fh.write(json.dumps({"row": reject.row, "reason": reject.reason}) + "\n")

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def reason_kind(reason: str) -> str:
    """A reason without the values in it, so that rejects of one kind count together."""
    return _VALUES.sub("…", reason)[:80]


_VALUES = re.compile(r"'[^']*'|\"[^\"]*\"|[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?|\b(?:nan|inf)\b")
