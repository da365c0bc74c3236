"""Model state as arrays + JSON-able parameters, written atomically with a checksum.

Snapshots never use pickle: a JSON header says where each plain-number array lies in the
raw payload that follows it, and one SHA-256 covers both. A learner kind is resolved through an
explicit registry, so loading a snapshot can never import or run arbitrary code.

A state may carry named ``parts``, states of their own stored in the same snapshot under the
same checksum: a runner's checkpoint is the champion model's state with the runner's state
as its ``runner`` part, so a reader that wants the model takes the state as it is.

A checksum shows a snapshot is whole, not who wrote it. Given a ``key``, a snapshot is also
signed (HMAC-SHA256 over the same bytes), and reading with the key refuses one that is
unsigned or signed with another key: a registry that others can write is verified.

>>> import numpy as np
>>> state = State("Counter", {}, {"n": np.array([3])}, parts={"runner": State("Runner", {})})
>>> back, _ = load_snapshot(snapshot_bytes(state)[0])
>>> back.arrays["n"].tolist(), sorted(back.parts), back.parts["runner"].kind
([3], ['runner'], 'Runner')
>>> sorted(nest({"a": {"x": np.zeros(1)}, "b": {"y": np.ones(1)}}))
['a/x', 'b/y']
>>> nested_part({"a/x": np.zeros(1), "b/y": np.ones(1)}, "b")
{'y': array([1.])}
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

_KINDS: dict[str, type] = {}
FORMAT_VERSION = 4
READABLE_FORMATS = (3, 4)  # 4 adds sparse arrays; a format-3 snapshot reads as it was
SPARSE_MIN_SIZE = 1024  # smaller arrays are stored whole


def register(cls: type) -> type:
    """Class decorator: make a learner kind loadable by ``from_state`` under its class name."""
    _KINDS[cls.__name__] = cls
    return cls


# Packages whose learners register when imported, and load only when used: each adds a
# function that imports them all, called when a kind is asked for that is not yet known.
_KIND_LOADERS: list[Callable[[], None]] = []


def add_kind_loader(load: Callable[[], None]) -> None:
    """Have ``load()`` import learners that register themselves, before a kind is looked
    up that is not registered yet (so that a package may import its learners lazily)."""
    _KIND_LOADERS.append(load)


def _load_every_kind() -> None:
    while _KIND_LOADERS:
        _KIND_LOADERS.pop()()


def learner_kinds() -> dict[str, type]:
    """Every registered learner kind, by name."""
    _load_every_kind()
    return dict(_KINDS)


@dataclass
class State:
    """A learner's full state: its kind, constructor parameters, arrays and JSON-able extras.

    Parameters
    ----------
    kind
        The learner's class name (a registered kind: a state never names code to import).
    params
        Its constructor's arguments (JSON).
    arrays
        Its numbers, by name.
    meta
        Anything else it keeps (JSON).
    parts
        Named states stored with it, under the same checksum (a checkpoint's runner part).

    Example
    -------
    >>> import numpy as np
    >>> state = State("Counter", {}, {"n": np.array([3])}, parts={"runner": State("Runner", {})})
    >>> back, _ = load_snapshot(snapshot_bytes(state)[0])
    >>> back.arrays["n"].tolist(), sorted(back.parts), back.parts["runner"].kind
    ([3], ['runner'], 'Runner')
    """

    kind: str
    params: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    parts: dict[str, State] = field(default_factory=dict)  # named states stored with it

    def copy(self) -> State:
        return State(
            self.kind,
            json.loads(json.dumps(self.params)),
            {k: v.copy() for k, v in self.arrays.items()},
            json.loads(json.dumps(self.meta)),
            {name: part.copy() for name, part in self.parts.items()},
        )

    def without_parts(self) -> State:
        """This state alone (the model of a checkpoint, say)."""
        return State(self.kind, self.params, self.arrays, self.meta)

    def to_learner(self):
        """Rebuild the learner this state was taken from."""
        if self.kind not in _KINDS:
            _load_every_kind()
        try:
            cls = _KINDS[self.kind]
        except KeyError:
            raise ValueError(
                f"unknown learner kind {self.kind!r}; known: {sorted(_KINDS)}"
            ) from None
        return cls.from_state(self)


MAGIC = b"STREAMLEARN-SNAPSHOT\n"
LENGTH = 8  # bytes of the header's length, little-endian, after the magic
DTYPES = {"f8", "f4", "i8", "i4", "i2", "i1", "u8", "u4", "u2", "u1", "b1"}


def restore_arrays(
    owner: Any,
    expected: dict[str, np.ndarray],
    arrays: dict[str, np.ndarray],
    any_shape: tuple[str, ...] = (),
) -> None:
    """Set ``owner``'s arrays from a state's ``arrays``: each of the ``expected`` names, in
    its dtype, refused when its shape differs (unless named in ``any_shape``) or when it
    holds a non-finite number (a checkpoint never brings NaN into a model)."""
    for name, fresh in expected.items():
        if name not in arrays:
            raise ValueError(f"the state has no array {name!r}")
        value = np.array(arrays[name]).astype(fresh.dtype)
        if name not in any_shape and value.shape != fresh.shape:
            raise ValueError(f"{name} has shape {value.shape}, expected {fresh.shape}")
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise ValueError(f"{name} holds non-finite values")
        setattr(owner, name, value)


def nest(parts: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The arrays of several named parts in one mapping, each under ``name/``: the one way
    learners made of learners (ensembles, wrappers, heads) keep their members' arrays."""
    return {
        f"{name}/{key}": array for name, arrays in parts.items() for key, array in arrays.items()
    }


def nested_part(arrays: dict[str, np.ndarray], name: str) -> dict[str, np.ndarray]:
    """The arrays that :func:`nest` put under ``name``."""
    prefix = f"{name}/"
    return {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}


def _array_specs(
    arrays: dict[str, np.ndarray], offset: int = 0, part: str | None = None
) -> tuple[list[dict[str, Any]], list[np.ndarray]]:
    """Each array's name, dtype, shape and place in the payload (after ``offset``); and the
    arrays, contiguous. Only plain numbers and bools (and text, as fixed-width unicode)
    are allowed. Arrays of a part are marked with its name."""
    specs, blobs = [], []
    for name in sorted(arrays):
        array = np.asarray(arrays[name], order="C")  # (ascontiguousarray makes 0-d 1-d)
        code = array.dtype.str.lstrip("<>|=")
        if array.dtype.kind == "U":
            array = array.astype(f"<U{max(array.dtype.itemsize // 4, 1)}")
            code = array.dtype.str
        elif code not in DTYPES:
            raise TypeError(f"array {name!r}: dtype {array.dtype} cannot go in a snapshot")
        else:
            array = array.astype(array.dtype.newbyteorder("<"), copy=False)
            code = array.dtype.str
        stored = _sparse(array) or [array]
        nbytes = sum(blob.nbytes for blob in stored)
        spec = {
            "name": name,
            "dtype": code,
            "shape": list(array.shape),
            "offset": offset,
            "nbytes": nbytes,
        }
        if len(stored) == 2:
            spec["sparse"] = {"count": len(stored[0]), "index_dtype": stored[0].dtype.str}
        specs.append(spec | ({"part": part} if part is not None else {}))
        blobs += stored
        offset += nbytes
    return specs, blobs


def _sparse(array: np.ndarray) -> list[np.ndarray] | None:
    """A mostly-zero array as its non-zero places (flat) and values, when that is less than
    half its size: a 2^20-weight model that uses 50k weights checkpoints in about a megabyte.
    Zero means all bits zero, so -0.0 and NaN keep their places."""
    if array.size < SPARSE_MIN_SIZE or array.dtype.kind == "U":
        return None
    flat = array.reshape(-1)
    bits = flat.view(f"<u{array.dtype.itemsize}") if array.dtype.kind == "f" else flat
    places = np.flatnonzero(bits)
    index_dtype = np.dtype("<i4") if array.size < 2**31 else np.dtype("<i8")
    if len(places) * (index_dtype.itemsize + array.dtype.itemsize) * 2 > array.nbytes:
        return None
    return [places.astype(index_dtype), np.ascontiguousarray(flat[places])]


def _header(state: State, info: dict[str, Any], specs: list[dict[str, Any]]) -> dict[str, Any]:
    parts = {
        name: {"kind": part.kind, "params": part.params, "meta": part.meta}
        for name, part in state.parts.items()
    }
    return {
        "format": FORMAT_VERSION,
        "kind": state.kind,
        "params": state.params,
        "meta": state.meta,
        "info": info,
        "arrays": specs,
    } | ({"parts": parts} if parts else {})


SEALS = ("sha256", "hmac")  # header fields computed over the rest: not covered themselves
MIN_KEY_BYTES = 16


def _header_text(header: dict[str, Any]) -> bytes:
    return json.dumps({k: v for k, v in header.items() if k not in SEALS}, sort_keys=True).encode()


def _digest(header: dict[str, Any], blobs: list, key: bytes | None = None) -> str:
    """SHA-256 over the header (without its seals) and the arrays: both are covered; with a
    ``key``, the HMAC-SHA256 of the same bytes."""
    digest = hmac.new(key, digestmod="sha256") if key is not None else hashlib.sha256()
    digest.update(_header_text(header) + b"\0")
    for blob in blobs:
        digest.update(_raw(blob))
    return digest.hexdigest()


def check_key(key: bytes | None) -> bytes | None:
    """A signing key as given, refused if too short to be one."""
    if key is not None and len(key) < MIN_KEY_BYTES:
        raise ValueError(f"a signing key needs at least {MIN_KEY_BYTES} bytes, got {len(key)}")
    return key


def _raw(part: Any) -> Any:
    """A byte view of an array (empty ones too), or the bytes themselves."""
    return part.reshape(-1).view(np.uint8) if isinstance(part, np.ndarray) else part


def _encode(
    state: State, info: dict[str, Any] | None, key: bytes | None = None
) -> tuple[list, str]:
    """The snapshot as a list of byte buffers (magic, length, header, arrays) and its digest
    (signed when a ``key`` is given)."""
    specs, blobs = _array_specs(state.arrays)
    for name, part in sorted(state.parts.items()):
        if part.parts:
            raise ValueError(f"part {name!r} has parts of its own: one level only")
        end = specs[-1]["offset"] + specs[-1]["nbytes"] if specs else 0
        more_specs, more_blobs = _array_specs(part.arrays, end, name)
        specs, blobs = specs + more_specs, blobs + more_blobs
    header = _header(state, info or {}, specs)
    digest = _digest(header, blobs)
    seals = {"sha256": digest} | ({"hmac": _digest(header, blobs, key)} if key else {})
    text = json.dumps(header | seals, sort_keys=True).encode()
    return [MAGIC, len(text).to_bytes(LENGTH, "little"), text, *blobs], digest


def snapshot_bytes(
    state: State, info: dict[str, Any] | None = None, key: bytes | None = None
) -> tuple[bytes, str]:
    """``state`` as one snapshot: a magic line, the JSON header (kind, params, meta, ``info``,
    where each array lies) and the raw arrays, under one SHA-256. No pickle, no zip.

    ``info`` is JSON-able metadata stored with it (a registry's version record, say);
    ``key`` signs it."""
    parts, digest = _encode(state, info, check_key(key))
    return b"".join(_raw(p) for p in parts), digest


def save_state(
    state: State,
    path: str | os.PathLike,
    info: dict[str, Any] | None = None,
    key: bytes | None = None,
) -> str:
    """Write ``state`` to ``path`` atomically (temp file, fsync, rename); return its SHA-256.
    The arrays go to the file straight from memory: no copy of the model is made. ``key``
    signs it."""
    parts, digest = _encode(state, info, check_key(key))
    atomic_write(path, parts)
    return digest


def atomic_write(path: str | os.PathLike, data: bytes | list) -> None:
    """Temp file in the same folder, fsync, rename: readers see all of it or none.
    ``data``: bytes, or a list of buffers written one after the other."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            for part in data if isinstance(data, list) else [data]:
                fh.write(_raw(part))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _sync_folder(path.parent)  # the rename itself survives a power cut
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_state(path: str | os.PathLike, key: bytes | None = None) -> State:
    """Read a snapshot written by :func:`save_state`, verifying its checksum (and, given
    ``key``, its signature)."""
    return load_snapshot(path, key)[0]


def _read_header(data: bytes | memoryview, where: str) -> tuple[dict[str, Any], int]:
    if bytes(data[: len(MAGIC)]) != MAGIC:
        raise ValueError(f"{where}: not a streamlearn snapshot")
    start = len(MAGIC) + LENGTH
    size = int.from_bytes(bytes(data[len(MAGIC) : start]), "little")
    try:
        header = json.loads(bytes(data[start : start + size]))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{where}: unreadable snapshot header ({exc})") from None
    if not isinstance(header, dict):
        raise ValueError(f"{where}: malformed snapshot header")
    if header.get("format") not in READABLE_FORMATS:
        raise ValueError(f"{where}: unsupported snapshot format {header.get('format')!r}")
    return header, start + size


def read_info(source: str | os.PathLike | bytes) -> dict[str, Any]:
    """A snapshot's ``info`` (and its ``sha256``) alone, without reading or verifying its
    arrays: for listings. ``source``: a path or the snapshot's bytes."""
    where = "snapshot" if isinstance(source, bytes) else str(source)
    if isinstance(source, bytes):
        head = source
    else:
        with open(source, "rb") as fh:
            head = fh.read(len(MAGIC) + LENGTH)
            if len(head) == len(MAGIC) + LENGTH:
                head += fh.read(int.from_bytes(head[len(MAGIC) :], "little"))
    header, _ = _read_header(head, where)
    return {**header.get("info", {}), "sha256": header.get("sha256", "")}


def load_snapshot(
    source: str | os.PathLike | bytes, key: bytes | None = None
) -> tuple[State, dict[str, Any]]:
    """Read a snapshot (a path or its bytes) and its ``info`` (with the ``sha256``),
    verifying the checksum; given ``key``, one not signed with it is refused."""
    where = "snapshot" if isinstance(source, bytes) else str(source)
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    header, start = _read_header(data, where)
    try:
        return _unpack(header, memoryview(data)[start:], where, check_key(key))
    except (KeyError, TypeError, AttributeError, IndexError) as exc:  # a header of another shape
        raise ValueError(f"{where}: malformed snapshot header ({exc!r})") from None


def _verify_signature(header: dict[str, Any], blobs: list, key: bytes, where: str) -> None:
    signature = header.get("hmac")
    if not isinstance(signature, str):
        raise ValueError(f"{where}: not signed, and this reader requires a signature")
    if not hmac.compare_digest(_digest(header, blobs, key), signature):
        raise ValueError(f"{where}: signature mismatch: not written with this key")


def _array(spec: dict[str, Any], blob: memoryview, where: str) -> np.ndarray:
    """An array as its spec describes it: its bytes whole, or (sparse) its non-zero places
    and values, each checked against its shape."""
    dtype, shape = np.dtype(spec["dtype"]), tuple(spec["shape"])
    sparse = spec.get("sparse")
    if sparse is None:
        return np.frombuffer(blob, dtype=dtype).reshape(shape).copy()
    index_dtype = np.dtype(sparse.get("index_dtype", ""))
    count, size = int(sparse.get("count", -1)), int(np.prod(shape))
    if index_dtype.str not in ("<i4", "<i8") or not 0 <= count <= size:
        raise ValueError(f"{where}: array {spec['name']!r} has a malformed sparse layout")
    if count * (index_dtype.itemsize + dtype.itemsize) != len(blob):
        raise ValueError(f"{where}: array {spec['name']!r} has {len(blob)} bytes, not {count}")
    cut = count * index_dtype.itemsize
    places = np.frombuffer(blob[:cut], dtype=index_dtype)
    if count and (places.min() < 0 or places.max() >= size):
        raise ValueError(f"{where}: array {spec['name']!r} has places outside its shape")
    out = np.zeros(size, dtype)
    out[places] = np.frombuffer(blob[cut:], dtype=dtype)
    return out.reshape(shape)


def _unpack(
    header: dict[str, Any], payload: memoryview, where: str, key: bytes | None
) -> tuple[State, dict[str, Any]]:
    specs = header.get("arrays", [])
    if len(payload) != sum(spec["nbytes"] for spec in specs):
        raise ValueError(f"{where}: truncated snapshot ({len(payload)} bytes of arrays)")
    arrays: dict[str | None, dict[str, np.ndarray]] = {}
    blobs = []
    for spec in specs:
        if spec["dtype"].lstrip("<>|=").rstrip("0123456789") not in {"f", "i", "u", "b", "U"}:
            raise ValueError(f"{where}: array {spec['name']!r} has dtype {spec['dtype']}")
        blob = payload[spec["offset"] : spec["offset"] + spec["nbytes"]]
        blobs.append(blob)
        arrays.setdefault(spec.get("part"), {})[spec["name"]] = _array(spec, blob, where)
    if _digest(header, blobs) != header.get("sha256"):
        raise ValueError(f"{where}: checksum mismatch, the snapshot is corrupted")
    if key is not None:
        _verify_signature(header, blobs, key, where)
    described = header.get("parts", {})
    if set(arrays) - {None} - set(described):
        raise ValueError(f"{where}: arrays of a part the header does not describe")
    parts = {
        str(name): State(part["kind"], part["params"], arrays.get(name, {}), part.get("meta", {}))
        for name, part in described.items()
    }
    state = State(header["kind"], header["params"], arrays.get(None, {}), header.get("meta", {}))
    state.parts = parts
    return state, {**header.get("info", {}), "sha256": header["sha256"]}
