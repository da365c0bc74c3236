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
import tempfile
import time
import warnings
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from streamlearn.base import State, load_snapshot, read_info, save_state

VERSION_FILE = re.compile(r"^(v\d{6})\.snap$")


@dataclass
class Version:
    """One snapshot's record."""

    id: str
    parent: str | None
    created_at: float
    kind: str
    events: int
    offsets: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    drifts: list[dict[str, Any]] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    sha256: str = ""
    tags: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class CorruptVersion(ValueError):
    """A version's file is missing, truncated or fails its checksum."""


class LocalRegistry:
    """Versions of models (and what was true when they were saved) in ``root``."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ writing
    def save(
        self,
        state: State,
        *,
        parent: str | None = None,
        events: int = 0,
        offsets: dict[str, Any] | None = None,
        metrics: dict[str, float] | None = None,
        drifts: list[dict[str, Any]] | None = None,
        notes: dict[str, Any] | None = None,
        tags: Iterable[str] = (),
    ) -> Version:
        """Store ``state`` as the next version; returns its record."""
        version = Version(
            id=self._next_id(), parent=parent, created_at=time.time(), kind=state.kind,
            events=int(events), offsets=dict(offsets or {}), metrics=dict(metrics or {}),
            drifts=list(drifts or []), notes=dict(notes or {}),
        )  # fmt: skip
        record = version.as_dict()
        del record["sha256"], record["tags"]  # the checksum covers the record; tags change
        version.sha256 = save_state(state, self._path(version.id), info=record)
        for tag in tags:
            self.tag(version.id, tag)
        version.tags = self._tags_of(version.id)
        return version

    def tag(self, version_id: str, tag: str) -> None:
        """Point ``tag`` at ``version_id`` (a tag names one version at a time)."""
        self.record(version_id)  # refuses unknown or corrupt versions
        tags = self._tags()
        tags[tag] = version_id
        self._write_tags(tags)

    def promote(self, version_id: str) -> None:
        """Make ``version_id`` the champion; the one before is remembered for rollback."""
        tags = self._tags()
        previous = tags.get("champion")
        self.tag(version_id, "champion")
        if previous and previous != version_id and self._usable(previous):
            self.tag(previous, "previous-champion")

    def _usable(self, version_id: str) -> bool:
        try:
            self.record(version_id)
        except (KeyError, CorruptVersion):
            return False
        return True

    def rollback(self, version_id: str | None = None) -> str:
        """Make ``version_id`` (default: the previous champion, else the champion's parent)
        the champion again; returns it."""
        if version_id is None:
            tags = self._tags()
            version_id = tags.get("previous-champion")
            if version_id is None and "champion" in tags:
                version_id = self.record(tags["champion"]).parent
            if version_id is None:
                raise ValueError("nothing to roll back to: no earlier champion or parent")
        self.promote(version_id)
        return version_id

    # ------------------------------------------------------------------ reading
    def versions(self) -> list[Version]:
        """Every readable version, oldest first (corrupt ones are warned about, skipped)."""
        found = []
        for version_id in self._ids():
            try:
                found.append(self.record(version_id))
            except CorruptVersion as exc:
                warnings.warn(str(exc), stacklevel=2)
        return found

    def record(self, version_id: str) -> Version:
        """A version's record, read without loading its arrays (:meth:`load` verifies)."""
        path = self._existing(version_id)
        try:
            info = read_info(path)
        except (ValueError, OSError) as exc:
            raise CorruptVersion(f"version {version_id} is unusable: {exc}") from None
        return Version(**info, tags=self._tags_of(version_id))

    def load(self, version_id: str) -> tuple[State, Version]:
        """The state and record of ``version_id``, checksum verified."""
        path = self._existing(version_id)
        try:
            state, info = load_snapshot(path)
        except (ValueError, OSError) as exc:
            raise CorruptVersion(f"version {version_id} is unusable: {exc}") from None
        return state, Version(**info, tags=self._tags_of(version_id))

    def latest(self) -> tuple[State, Version] | None:
        """The newest version that loads; corrupt newer ones are warned about and skipped."""
        for version_id in reversed(self._ids()):
            try:
                return self.load(version_id)
            except CorruptVersion as exc:
                warnings.warn(f"{exc}; falling back to the version before", stacklevel=2)
        return None

    def tagged(self, tag: str) -> Version | None:
        version_id = self._tags().get(tag)
        return self.record(version_id) if version_id else None

    def tags(self) -> dict[str, str]:
        return self._tags()

    # ------------------------------------------------------------------ files
    def _ids(self) -> list[str]:
        return sorted(m.group(1) for p in self.root.iterdir() if (m := VERSION_FILE.match(p.name)))

    def _next_id(self) -> str:
        ids = self._ids()
        return f"v{int(ids[-1][1:]) + 1 if ids else 1:06d}"

    def _existing(self, version_id: str) -> Path:
        path = self._path(version_id)
        if not VERSION_FILE.match(path.name) or not path.is_file():
            raise KeyError(f"no version {version_id!r} in {self.root}")
        return path

    def _path(self, version_id: str) -> Path:
        return self.root / f"{version_id}.snap"

    def _tags(self) -> dict[str, str]:
        path = self.root / "tags.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    def _tags_of(self, version_id: str) -> list[str]:
        return sorted(tag for tag, target in self._tags().items() if target == version_id)

    def _write_tags(self, tags: dict[str, str]) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tags.", suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump(tags, fh, sort_keys=True, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.root / "tags.json")
