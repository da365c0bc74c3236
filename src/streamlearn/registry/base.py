"""What every registry does, whatever holds the bytes: versions with records, tags,
promotion and rollback. Backends supply a handful of storage primitives."""

from __future__ import annotations

import os
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from streamlearn.base import State, load_snapshot, read_info, snapshot_bytes
from streamlearn.base.state import check_key


@dataclass
class Version:
    """One snapshot's record.

    Parameters
    ----------
    id, parent
        The version's id (``v000001``, …) and the one it descends from.
    created_at
        When it was saved (Unix time).
    kind, events
        The learner's kind and how many events it had learned.
    offsets
        Where the stream stood (the last event it includes, per source or partition).
    metrics, drifts, notes
        The run's metrics, latest drift records and counters when it was saved.
    sha256
        The snapshot's checksum.
    tags
        The tags pointing at it (``champion``, …).

    Example
    -------
    >>> import tempfile
    >>> from streamlearn.models import LogisticRegression
    >>> from streamlearn.registry import LocalRegistry
    >>> version = LocalRegistry(tempfile.mkdtemp()).save(LogisticRegression().state(), events=5)
    >>> version.id, version.events, version.parent
    ('v000001', 5, None)
    """

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


def read_key(path: str | os.PathLike) -> bytes:
    """A signing key from a file (surrounding whitespace dropped), refused if too short."""
    try:
        key = Path(path).read_bytes().strip()
    except OSError as exc:
        raise ValueError(f"cannot read the registry key file {path}: {exc.strerror}") from None
    try:
        return check_key(key)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


REQUESTED = "requested"  # the tag of a person's promote / rollback, until a runner acts on it
PINNED = "pinned"  # the version that serves, whatever runners checkpoint, until unpinned


class CorruptVersion(ValueError):
    """A version's bytes are missing, truncated or fail their checksum.

    Example
    -------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from streamlearn.models import LogisticRegression
    >>> from streamlearn.registry import LocalRegistry
    >>> registry = LocalRegistry(tempfile.mkdtemp())
    >>> version = registry.save(LogisticRegression(bits=8).state(), events=5)
    >>> for snapshot in Path(registry.root).rglob("*.snap"):
    ...     _ = snapshot.write_bytes(snapshot.read_bytes()[:-10])  # torn
    >>> try:
    ...     registry.load(version.id)
    ... except CorruptVersion:
    ...     print("refused")
    refused
    """


class Registry(ABC):
    """Versions of models, and what was true when they were saved.

    Example
    -------
    >>> import tempfile
    >>> from streamlearn.models import LogisticRegression
    >>> from streamlearn.registry import LocalRegistry
    >>> registry = LocalRegistry(tempfile.mkdtemp())
    >>> first = registry.save(LogisticRegression(bits=8).state(), events=0)
    >>> second = registry.save(LogisticRegression(bits=8).state(), parent=first.id, events=9)
    >>> registry.promote(second.id); registry.tags()["champion"]
    'v000002'
    >>> registry.pin(first.id)  # serves until unpinned, whatever is checkpointed
    >>> isinstance(registry, Registry), registry.tags()["champion"], registry.pinned()
    (True, 'v000001', 'v000001')
    """

    #: The errors that mean "the storage cannot be reached or written now" (a full disk, a
    #: lost connection): a runner logs them and tries its next checkpoint.
    unavailable: tuple[type[BaseException], ...] = (OSError,)
    #: Signs every version saved and refuses, on load, one not signed with it (see
    #: :mod:`streamlearn.base.state`); None: checksums only.
    key: bytes | None = None

    # ------------------------------------------------------------------ storage
    @abstractmethod
    def _ids(self) -> list[str]:
        """Every version id, oldest first."""

    @abstractmethod
    def _new_id(self) -> str:
        """A fresh version id, later than every other."""

    @abstractmethod
    def _write(self, version_id: str, data: bytes, info: dict[str, Any]) -> None:
        """Store a snapshot atomically: all of it or nothing."""

    @abstractmethod
    def _read(self, version_id: str) -> bytes:
        """A snapshot's bytes (KeyError if there is none)."""

    def _read_info(self, version_id: str) -> dict[str, Any]:
        return read_info(self._read(version_id))

    @abstractmethod
    def _delete(self, version_id: str) -> None:
        """Remove a version (all of it)."""

    @abstractmethod
    def _tags(self) -> dict[str, str]: ...

    @abstractmethod
    def _set_tag(self, tag: str, version_id: str) -> None: ...

    def tidy(self) -> int:
        """Remove what a writer killed mid-write left behind; returns how many pieces. Call
        it from the registry's one writer (a runner does, when it resumes)."""
        return 0

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
            id=self._new_id(),
            parent=parent,
            created_at=time.time(),
            kind=state.kind,
            events=int(events),
            offsets=dict(offsets or {}),
            metrics=dict(metrics or {}),
            drifts=list(drifts or []),
            notes=dict(notes or {}),
        )
        record = version.as_dict()
        del record["sha256"], record["tags"]  # the checksum covers the record; tags change
        data, version.sha256 = snapshot_bytes(state, info=record, key=self.key)
        self._write(version.id, data, record | {"sha256": version.sha256})
        for tag in tags:
            self.tag(version.id, tag)
        version.tags = self._tags_of(version.id)
        return version

    def tag(self, version_id: str, tag: str) -> None:
        """Point ``tag`` at ``version_id`` (a tag names one version at a time)."""
        self.record(version_id)  # refuses unknown or corrupt versions
        self._set_tag(tag, version_id)

    def promote(self, version_id: str, requested: bool = False) -> None:
        """Make ``version_id`` the champion; the one before is remembered for rollback.
        ``requested``: a person (CLI, HTTP) asked for it, not a runner's checkpoint: the
        ``requested`` tag tells a runner to serve that model (it clears the tag then)."""
        previous = self._tags().get("champion")
        self.tag(version_id, "champion")
        if requested:
            self._set_tag(REQUESTED, version_id)
        if previous and previous != version_id and self._usable(previous):
            self.tag(previous, "previous-champion")

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
        self.promote(version_id, requested=True)
        return version_id

    def prune(self, keep: int) -> list[str]:
        """Delete all but the newest ``keep`` versions, sparing every tagged one (champion,
        previous champion, a rollback asked for …); returns the ids deleted. Without it a
        service that checkpoints every few seconds fills its disk."""
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        tagged = set(self._tags().values())
        doomed = [i for i in self._ids()[:-keep] if i not in tagged]
        for version_id in doomed:
            self._delete(version_id)
        return doomed

    def pin(self, version_id: str) -> None:
        """Serve ``version_id`` until :meth:`unpin`: it becomes the champion (a trainer
        learns on from it) and stays the champion whatever runners checkpoint; a trainer
        serves that very model meanwhile, as replicas do."""
        self.promote(version_id, requested=True)
        self._set_tag(PINNED, version_id)

    def unpin(self) -> str | None:
        """End the pin (the next checkpoint is the champion again); returns what was
        pinned."""
        pinned = self.pinned()
        self._set_tag(PINNED, "")
        return pinned

    def pinned(self) -> str | None:
        return self._tags().get(PINNED) or None

    def requested(self) -> str | None:
        """The version a person asked to serve and no runner has taken up yet."""
        return self._tags().get(REQUESTED) or None

    def clear_request(self, version_id: str) -> None:
        """A runner serves ``version_id`` now: the request is done."""
        if self._tags().get(REQUESTED) == version_id:
            self._set_tag(REQUESTED, "")

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
        try:
            info = self._read_info(version_id)
        except KeyError:
            raise KeyError(f"no version {version_id!r} in {self}") from None
        except (ValueError, OSError) as exc:
            raise CorruptVersion(f"version {version_id} is unusable: {exc}") from None
        return Version(**info, tags=self._tags_of(version_id))

    def load(self, version_id: str) -> tuple[State, Version]:
        """The state and record of ``version_id``, checksum verified."""
        try:
            data = self._read(version_id)
        except KeyError:
            raise KeyError(f"no version {version_id!r} in {self}") from None
        try:
            state, info = load_snapshot(data, self.key)
        except (ValueError, OSError) as exc:
            raise CorruptVersion(f"version {version_id} is unusable: {exc}") from None
        return state, Version(**info, tags=self._tags_of(version_id))

    def newest(self, n: int) -> list[Version]:
        """The records of the newest ``n`` versions that read, oldest first."""
        found = []
        for version_id in self._ids()[-n:]:
            try:
                found.append(self.record(version_id))
            except CorruptVersion:
                continue
        return found

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
        return {tag: target for tag, target in self._tags().items() if target}

    def _tags_of(self, version_id: str) -> list[str]:
        return sorted(tag for tag, target in self._tags().items() if target == version_id)

    def _usable(self, version_id: str) -> bool:
        try:
            self.record(version_id)
        except (KeyError, CorruptVersion):
            return False
        return True
