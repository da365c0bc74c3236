"""Model state as arrays + JSON-able parameters, written atomically with a checksum.

Snapshots never use pickle: arrays go through ``numpy.savez`` and are loaded with
``allow_pickle=False``; everything else is JSON. A learner kind is resolved through an
explicit registry, so loading a snapshot can never import or run arbitrary code.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

_KINDS: dict[str, type] = {}
FORMAT_VERSION = 2


def register(cls: type) -> type:
    """Class decorator: make a learner kind loadable by ``from_state`` under its class name."""
    _KINDS[cls.__name__] = cls
    return cls


def learner_kinds() -> dict[str, type]:
    """Every registered learner kind, by name."""
    return dict(_KINDS)


@dataclass
class State:
    """A learner's full state: its kind, constructor parameters, arrays and JSON-able extras."""

    kind: str
    params: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def copy(self) -> State:
        return State(
            self.kind,
            json.loads(json.dumps(self.params)),
            {k: v.copy() for k, v in self.arrays.items()},
            json.loads(json.dumps(self.meta)),
        )

    def to_learner(self):
        """Rebuild the learner this state was taken from."""
        try:
            cls = _KINDS[self.kind]
        except KeyError:
            raise ValueError(
                f"unknown learner kind {self.kind!r}; known: {sorted(_KINDS)}"
            ) from None
        return cls.from_state(self)


def _header(state: State) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "kind": state.kind,
        "params": state.params,
        "meta": state.meta,
    }


def _digest(header: dict[str, Any], payload: bytes) -> str:
    """SHA-256 over the header (without its checksum) and the arrays: both are covered."""
    text = json.dumps({k: v for k, v in header.items() if k != "sha256"}, sort_keys=True)
    return hashlib.sha256(text.encode() + b"\0" + payload).hexdigest()


def snapshot_bytes(state: State, info: dict[str, Any] | None = None) -> tuple[bytes, str]:
    """``state`` as one snapshot (a zip: ``state.json`` + ``arrays.npz``) and its SHA-256.

    ``info`` is JSON-able metadata stored with it (a registry's version record, say), under
    the same checksum."""
    buf = io.BytesIO()
    np.savez(buf, **state.arrays)
    payload = buf.getvalue()
    header = _header(state) | {"info": info or {}}
    digest = _digest(header, payload)
    header["sha256"] = digest
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("state.json", json.dumps(header, sort_keys=True))
        zf.writestr("arrays.npz", payload)
    return out.getvalue(), digest


def save_state(state: State, path: str | os.PathLike, info: dict[str, Any] | None = None) -> str:
    """Write ``state`` to ``path`` atomically (temp file, fsync, rename); return its SHA-256."""
    data, digest = snapshot_bytes(state, info)
    atomic_write(path, data)
    return digest


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Temp file in the same folder, fsync, rename: readers see all of it or none."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_state(path: str | os.PathLike) -> State:
    """Read a snapshot written by :func:`save_state`, verifying its checksum."""
    return load_snapshot(path)[0]


def _zip(source: str | os.PathLike | bytes) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)


def _where(source: str | os.PathLike | bytes) -> str:
    return "snapshot" if isinstance(source, bytes) else str(source)


def read_info(source: str | os.PathLike | bytes) -> dict[str, Any]:
    """A snapshot's ``info`` (and its ``sha256``) alone, without reading or verifying its
    arrays: for listings. ``source``: a path or the snapshot's bytes."""
    try:
        with _zip(source) as zf:
            header = json.loads(zf.read("state.json"))
            return {**header.get("info", {}), "sha256": header.get("sha256", "")}
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as exc:
        raise ValueError(f"{_where(source)}: not a streamlearn snapshot ({exc})") from None


def load_snapshot(source: str | os.PathLike | bytes) -> tuple[State, dict[str, Any]]:
    """Read a snapshot (a path or its bytes) and its ``info`` (with the ``sha256``),
    verifying the checksum."""
    where = _where(source)
    try:
        with _zip(source) as zf:
            header = json.loads(zf.read("state.json"))
            payload = zf.read("arrays.npz")
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as exc:
        raise ValueError(f"{where}: not a streamlearn snapshot ({exc})") from None
    if header.get("format") != FORMAT_VERSION:
        raise ValueError(f"{where}: unsupported snapshot format {header.get('format')!r}")
    if _digest(header, payload) != header.get("sha256"):
        raise ValueError(f"{where}: checksum mismatch, the snapshot is corrupted")
    with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    state = State(header["kind"], header["params"], arrays, header.get("meta", {}))
    return state, {**header.get("info", {}), "sha256": header["sha256"]}
