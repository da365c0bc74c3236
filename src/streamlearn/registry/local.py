"""A model registry in a local directory: every snapshot is a version with its metadata.

Each version is one file, ``v000001.snap`` (the learner's arrays + JSON and the version
record, under one SHA-256, written atomically: temp file, fsync, rename). Tags (``champion``,
``challenger`` …) live in ``tags.json``, also replaced atomically. A version that fails its
checksum is reported and skipped: :meth:`LocalRegistry.latest` falls back to the newest one
that loads.

>>> import tempfile
>>> from streamlearn.models import LogisticRegression
>>> from streamlearn.registry import LocalRegistry
>>> registry = LocalRegistry(tempfile.mkdtemp())
>>> first = registry.save(LogisticRegression(bits=8).state(), events=0, tags=["champion"])
>>> second = registry.save(LogisticRegression(bits=8).state(), parent=first.id, events=10)
>>> [v.id for v in registry.versions()], registry.tagged("champion").id
(['v000001', 'v000002'], 'v000001')
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from streamlearn.base import atomic_write, read_info
from streamlearn.base.state import check_key
from streamlearn.registry.base import Registry

VERSION_FILE = re.compile(r"^(v\d{6})\.snap$")


class LocalRegistry(Registry):
    """Versions in the folder ``root``.

    Parameters
    ----------
    root
        The folder (made if missing).
    key
        A secret of 16 bytes or more: versions are signed with it, and one that is not is
        refused on load (for a folder that others can write).

    Example
    -------
    A run that checkpoints every 20,000 events of Elec2 (its starting model, 20,000 and
    40,000 events, the end):

    >>> import tempfile
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.models import LogisticRegression
    >>> from streamlearn.runner import Runner
    >>> from streamlearn.streams import FileEvents
    >>> registry = LocalRegistry(tempfile.mkdtemp())
    >>> events = FileEvents(elec2.path(), "target")
    >>> _ = Runner(LogisticRegression(bits=16), events, registry=registry,
    ...            checkpoint_every=20_000).run()
    >>> champion = registry.tagged("champion")
    >>> [v.id for v in registry.versions()], champion.id, round(champion.metrics["accuracy"], 3)
    (['v000001', 'v000002', 'v000003', 'v000004'], 'v000004', 0.823)
    """

    def __init__(self, root: str | os.PathLike, key: bytes | None = None) -> None:
        self.key = check_key(key)
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def __str__(self) -> str:
        return str(self.root)

    def _ids(self) -> list[str]:
        return sorted(m.group(1) for p in self.root.iterdir() if (m := VERSION_FILE.match(p.name)))

    def _new_id(self) -> str:
        ids = self._ids()
        return f"v{int(ids[-1][1:]) + 1 if ids else 1:06d}"

    def _path(self, version_id: str) -> Path:
        # The id itself must be a version's name: "../v000001" names a file outside.
        if not isinstance(version_id, str) or not VERSION_FILE.fullmatch(f"{version_id}.snap"):
            raise KeyError(version_id)
        return self.root / f"{version_id}.snap"

    def tidy(self) -> int:
        """Temp files of snapshots and tags whose writer died before its rename."""
        left = [p for p in self.root.glob(".*.tmp") if p.name.startswith((".v", ".tags.json."))]
        for path in left:
            path.unlink(missing_ok=True)
        return len(left)

    def _write(self, version_id: str, data: bytes, info: dict[str, Any]) -> None:
        atomic_write(self._path(version_id), data)

    def _delete(self, version_id: str) -> None:
        self._path(version_id).unlink(missing_ok=True)

    def _read(self, version_id: str) -> bytes:
        path = self._path(version_id)
        if not path.is_file():
            raise KeyError(version_id)
        return path.read_bytes()

    def _read_info(self, version_id: str) -> dict[str, Any]:
        path = self._path(version_id)
        if not path.is_file():
            raise KeyError(version_id)
        return read_info(path)  # the header alone: no need to read the arrays

    def _tags(self) -> dict[str, str]:
        """The tags file, checked: a damaged one is an error that names it."""
        path = self.root / "tags.json"
        if not path.is_file():
            return {}
        try:
            tags = json.loads(path.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: not a tags file ({exc})") from None
        if not isinstance(tags, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in tags.items()
        ):
            raise ValueError(f"{path}: not a tags file (expected tag names to version ids)")
        return tags

    def _set_tag(self, tag: str, version_id: str) -> None:
        tags = self._tags() | {tag: version_id}
        atomic_write(self.root / "tags.json", json.dumps(tags, sort_keys=True, indent=1).encode())
