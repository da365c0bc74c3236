"""The hashing trick over named columns, with namespaces, pairwise crosses and online scaling.

An event becomes a short list of (index, value) pairs in a fixed order: every column sorted
by name, then the crosses of each interaction (the models keep their own intercept). Text values
(and integers of columns declared categorical) hash as ``column=value`` with value 1; numbers
keep one weight per column and carry their value. Missing values, ``None``, empty strings,
NaN and ±inf are absent: they touch no weight; so are numbers beyond ±1e12, which no online
scaling could take in without being wrecked by them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import mmh3
import numpy as np
import pyarrow as pa

from streamlearn.features.columns import (
    as_columns,
    n_rows,
    string_buffers,
    to_arrow_or_numeric,
)
from streamlearn.features.hashing import (
    FNV_PRIME,
    MASK32,
    hash_int_column,
    hash_string_columns,
    hash_text,
)
from streamlearn.features.packed import Layout, make_layout, typed_reads
from streamlearn.features.scaling import RAW, SCALED, ZERO, OnlineScaler, number_column

MAX_ABS_VALUE = 1e12
_NO_STATS = np.zeros(3)  # for columns that are not scaled
TEXT_GROUP = 32  # text columns per compiled call
_UNSEEN = object()  # a key set not met yet
_NUMBER_TYPES = (int, float, np.integer, np.floating, bool, np.bool_)


@dataclass
class EncodedEvent:
    """One event as 32-bit feature hashes and values, plus the raw numbers the scaler learns
    from. A model maps a hash to its weight with ``hash & (table size - 1)``.

    Parameters
    ----------
    hashes
        The 32-bit hash of each feature (interactions included).
    values
        Each feature's value (1 for a category, the scaled number for a numeric column).
    numbers
        The numeric columns' names and raw values, for the scaler.
    seen
        The names of the columns the event had.

    Example
    -------
    >>> event = FeatureHasher(bits=8, standardize=False).encode_one({"user": "u1", "price": 2.5})
    >>> len(event.hashes), event.values.tolist()
    (2, [2.5, 1.0])
    """

    hashes: np.ndarray
    values: np.ndarray
    numbers: list[tuple[str, float]] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)


def _straight_line_encoder(x, names, seeds, plain, pairs, standardize, limit):
    """Python source for events with the keys and value types of ``x`` (text, and numbers in
    non-categorical columns), compiled once per key set: no loop over the columns and no
    dispatch on each value's type: 14% faster per event in the predict/learn loop. An event
    it cannot take (another type, an empty text, NaN or a huge number) gets None and goes
    the general way. Only names (as literals) and numbers go into the source."""
    typed = typed_reads(x, names, plain, limit)
    if typed is None:
        return None
    kinds, reads, checks = typed
    body, hashes, values, numbers = [], [], [], []
    for j, kind in enumerate(kinds):
        if kind is str:
            body.append(f"    h{j} = murmur(v{j}, {seeds[j]}, False)")
            hashes.append(f"h{j}")
            values.append("1.0")
            continue
        body.append(f"    f{j} = float(v{j})")
        hashes.append(str(seeds[j]))
        if standardize:
            body.append(f"    s{j} = scale({names[j]!r}, f{j})")
            numbers.append(f"({names[j]!r}, f{j})")
        values.append(f"s{j}" if standardize else f"f{j}")
    for a, b in pairs:
        hashes.append(f"(({hashes[a]} * {FNV_PRIME}) ^ {hashes[b]}) & {MASK32}")
        values.append(f"{values[a]} * {values[b]}")
    source = "\n".join(
        [
            "def encode(x, scale):",
            "    try:",
            *(f"        {line}" for line in reads),
            "    except KeyError:",
            "        return None",
            f"    if not ({' and '.join(checks)}):",
            "        return None",
            *body,
            f"    return Event(np.array([{', '.join(hashes)}], dtype=np.uint32),"
            f" np.array([{', '.join(values)}]), [{', '.join(numbers)}], [])",
        ]
    )
    scope = {"murmur": mmh3.hash, "np": np, "Event": EncodedEvent}
    exec(compile(source, f"<encoder of {len(names)} columns>", "exec"), scope)
    return scope["encode"]


def _usable(numbers: np.ndarray, limit: float) -> np.ndarray:
    """Values that count (finite, within ±``limit``); the others are absent."""
    return np.abs(numbers) <= limit  # False for NaN


class FeatureHasher:
    """Turns events (dicts) or batches (columns) into hashed sparse features.

    Parameters
    ----------
    bits
        Size of the weight table: ``2**bits`` weights (1 to 30).
    seed
        Hash seed; different seeds give different collisions.
    categorical
        Columns whose numbers are codes, not quantities (hashed as ``column=value``).
    namespaces
        ``{namespace: [columns]}``. A column not listed is a namespace of its own.
    interactions
        Pairs of namespaces to cross, as Vowpal Wabbit's ``-q``: every feature of the first
        times every feature of the second (distinct pairs when both are the same namespace).
        ``"all"`` crosses every pair of namespaces (automatic crosses; slots grow as the
        square of the number of columns).
    standardize
        Scale numbers to z-scores with running (Welford) statistics of earlier events (on by
        default: one learning rate then suits every column).
    missing
        Missing values as their own signal: once a column has been learned from, an event
        where it is missing (absent key, ``None``, NaN, ±inf, empty string) gets the column's
        "missing" feature instead of nothing. Meant for tables; leave it off for sparse
        dicts whose keys vary from event to event.
    max_value
        A number beyond ±``max_value`` is absent, as NaN is (default 1e12): one absurd value
        would otherwise widen its column's running spread for good. Set it to what the
        data can hold (a price, an amount): the scaling then stays sound.

    Example
    -------
    >>> from streamlearn.features.hasher import FeatureHasher
    >>> hasher = FeatureHasher(bits=8, interactions=[("user", "ad")], standardize=False)
    >>> event = hasher.encode_one({"user": "u1", "ad": "a9", "price": 2.5})
    >>> len(event.hashes), event.values.tolist()
    (4, [1.0, 2.5, 1.0, 1.0])
    """

    straight_line = True  # one-event encoding through the code made for each key set
    packing = True  # pack_one packs what it can (off: the general path takes every event)

    def __init__(
        self,
        bits: int = 20,
        seed: int = 0,
        categorical: Iterable[str] = (),
        namespaces: Mapping[str, Iterable[str]] | None = None,
        interactions: Iterable[Iterable[str]] | str = (),
        standardize: bool = True,
        missing: bool = False,
        max_value: float = MAX_ABS_VALUE,
    ) -> None:
        if not 1 <= int(bits) <= 30:
            raise ValueError(f"bits must be between 1 and 30, got {bits}")
        self.bits = int(bits)
        self.seed = int(seed) & MASK32
        self.categorical = sorted(set(categorical))
        self.namespaces = {ns: sorted(cols) for ns, cols in (namespaces or {}).items()}
        self.all_pairs = interactions == "all"
        if isinstance(interactions, str) and not self.all_pairs:
            raise ValueError(f"interactions: a list of pairs or 'all', got {interactions!r}")
        self.interactions = [] if self.all_pairs else [tuple(pair) for pair in interactions]
        if any(len(pair) != 2 for pair in self.interactions):
            raise ValueError(f"interactions must be pairs of namespaces, got {self.interactions}")
        self.standardize = bool(standardize)
        self.missing = bool(missing)
        if not (math.isfinite(max_value) and max_value > 0):
            raise ValueError(f"max_value must be a finite number > 0, got {max_value!r}")
        self.max_value = float(max_value)
        self.known: set[str] = set()  # the columns learned from
        self.mask = (1 << self.bits) - 1
        self.scaler = OnlineScaler()
        self._categorical = frozenset(self.categorical)
        self._namespace_of = {col: ns for ns, cols in self.namespaces.items() for col in cols}
        self._seeds: dict[str, int] = {}
        self._schemas: dict[tuple[str, ...], tuple] = {}
        self._layouts: dict[tuple[str, ...], Layout | None] = {}

    def params(self) -> dict[str, Any]:
        return {
            "bits": self.bits,
            "seed": self.seed,
            "categorical": list(self.categorical),
            "namespaces": {ns: list(cols) for ns, cols in self.namespaces.items()},
            "interactions": "all" if self.all_pairs else [list(p) for p in self.interactions],
            "standardize": self.standardize,
            "missing": self.missing,
            "max_value": self.max_value,
        }

    @property
    def size(self) -> int:
        return 1 << self.bits

    def column_seed(self, name: str) -> int:
        seed = self._seeds.get(name)
        if seed is None:
            seed = self._seeds[name] = hash_text(name, self.seed)
        return seed

    def namespace_of(self, column: str) -> str:
        return self._namespace_of.get(column, column)

    def missing_hash(self, name: str) -> int:
        """The hash of column ``name``'s "missing" feature."""
        return hash_text("\x00missing", self.column_seed(name))

    # ------------------------------------------------------------------ one event
    def encode_one(self, x: Mapping[str, Any]) -> EncodedEvent:
        """Hash one event with the scaler's current statistics (it learns nothing here).

        Like a batch row: one slot per column in name order (absent values are zeros, which
        the kernel skips), then the crosses.
        """
        if not isinstance(x, Mapping):
            raise TypeError(f"an event must be a dict of features, got {type(x).__name__}")
        # The known columns only grow, so their count tells their versions apart.
        key = (tuple(x), len(self.known)) if self.missing else tuple(x)
        schema = self._schemas.get(key)
        if schema is None:
            schema = self._schema_of(x, key)
        names, seeds, plain, pairs, straight = schema
        if straight is not None and self.straight_line:
            event = straight(x, self.scaler.scale)
            if event is not None:
                return event
        standardize, limit = self.standardize, self.max_value
        scale = self.scaler.scale
        hashes = [0] * len(names)
        values = [0.0] * len(names)
        numbers: list[tuple[str, float]] = []
        # The common types take the short way; anything else goes through _encode_value.
        for j, name in enumerate(names):
            value = x.get(name)
            kind = type(value)
            if kind is str:
                if value:
                    hashes[j] = mmh3.hash(value, seeds[j], signed=False)
                    values[j] = 1.0
            elif (
                (kind is float or kind is int)
                and plain[j]
                and -limit <= value <= limit  # False for NaN
            ):
                number = float(value)
                if standardize:
                    numbers.append((name, number))
                    number = scale(name, number)
                hashes[j] = seeds[j]
                values[j] = number
            else:
                encoded = self._encode_value(name, value, numbers)
                if encoded is not None:
                    hashes[j], values[j] = encoded
        seen: list[str] = []
        if self.missing:
            for j, name in enumerate(names):
                if not _is_missing(x.get(name), self.max_value, name in self._categorical):
                    seen.append(name)
                elif name in self.known:
                    hashes[j], values[j] = self.missing_hash(name), 1.0
        for a, b in pairs:
            hashes.append(((hashes[a] * FNV_PRIME) ^ hashes[b]) & MASK32)
            values.append(values[a] * values[b])
        return EncodedEvent(np.array(hashes, dtype=np.uint32), np.array(values), numbers, seen)

    def pack_one(self, x: Mapping[str, Any]) -> tuple[bytes, Layout] | None:
        """``x`` packed for the compiled one-event kernels (see
        :mod:`streamlearn.features.packed`) with its layout, or None where the general path
        (``encode_one``) must take it: the missing signal, other value types, empty texts,
        NaN, huge numbers, or a dict subclass."""
        if type(x) is not dict or self.missing or not self.packing:
            return None
        key = tuple(x)
        layout = self._layouts.get(key, _UNSEEN)
        # A layout names rows of the scaler it was made with (load_state makes a new one).
        if layout is _UNSEEN or (layout is not None and layout.scaler is not self.scaler):
            layout = self._layout_of(x, key)
        if layout is None:  # this key set's values are not of the packable types
            return None
        data = layout.pack(x)
        return None if data is None else (data, layout)

    def _layout_of(self, x: dict[str, Any], key: tuple[str, ...]) -> Layout | None:
        if len(self._layouts) > 1024:
            self._layouts.clear()
        names = sorted(x, key=_checked_name)
        seeds = [self.column_seed(name) for name in names]
        plain = [name not in self._categorical for name in names]
        layout = make_layout(
            x,
            names,
            seeds,
            plain,
            self.cross_pairs(names),
            self.scaler,
            self.standardize,
            self.max_value,
        )
        self._layouts[key] = layout
        return layout

    def _schema_of(self, x: Mapping[str, Any], key: tuple) -> tuple:
        """What every event with these keys shares: names in order, seeds, crosses."""
        if len(self._schemas) > 1024:
            self._schemas.clear()
        names = sorted(x, key=_checked_name)
        if self.missing:
            names = sorted(set(names) | self.known)
        seeds = [self.column_seed(name) for name in names]
        plain = [name not in self._categorical for name in names]
        pairs = self.cross_pairs(names)
        straight = None
        if not self.missing:
            straight = _straight_line_encoder(
                x, names, seeds, plain, pairs, self.standardize, self.max_value
            )
        schema = (names, seeds, plain, pairs, straight)
        self._schemas[key] = schema
        return schema

    def _encode_value(
        self, name: str, value: Any, numbers: list[tuple[str, float]]
    ) -> tuple[int, float] | None:
        if value is None:
            return None
        if isinstance(value, str):
            return (hash_text(value, self.column_seed(name)), 1.0) if value else None
        if not isinstance(value, _NUMBER_TYPES):
            raise TypeError(
                f"feature {name!r} has unsupported type {type(value).__name__}; "
                "expected a number, a bool, a str or None"
            )
        number = float(value)
        if not math.isfinite(number):
            return None
        if name in self._categorical and not isinstance(value, bool | np.bool_):
            return hash_text(_code_text(value, number), self.column_seed(name)), 1.0
        if abs(number) > self.max_value:  # absurd: absent, as NaN is
            return None
        if self.standardize:
            numbers.append((name, number))
            number = self.scaler.scale(name, number)
        return (self.column_seed(name), number) if number != 0.0 else None

    def cross_pairs(self, names: list[str]) -> list[tuple[int, int]]:
        """Positions (in ``names``) of the column pairs that the interactions cross, in order."""
        if self.all_pairs:
            spaces = sorted({self.namespace_of(n) for n in names})
            return self._pairs_of(
                names, [(a, b) for i, a in enumerate(spaces) for b in spaces[i + 1 :]]
            )
        return self._pairs_of(names, self.interactions)

    def _pairs_of(
        self, names: list[str], interactions: list[tuple[str, str]]
    ) -> list[tuple[int, int]]:
        pairs = []
        for left_ns, right_ns in interactions:
            left = [i for i, n in enumerate(names) if self.namespace_of(n) == left_ns]
            right = [i for i, n in enumerate(names) if self.namespace_of(n) == right_ns]
            pairs += [(a, b) for a in left for b in right if left_ns != right_ns or a < b]
        return pairs

    def learn_one(self, event: EncodedEvent) -> None:
        """Fold an encoded event's numbers into the scaler (after it was used); its present
        columns become known."""
        for name, number in event.numbers:
            self.scaler.fold(name, number)
        self.known.update(event.seen)

    # ------------------------------------------------------------------ batches
    def encode_many(
        self, X: Any, learn: bool, reuse: dict[int, tuple[np.ndarray, np.ndarray]] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Hash a batch into ``(hashes, values)`` arrays of shape (events, slots).

        With ``learn``, the scaler folds in each event after scaling it, exactly as
        ``encode_one`` followed by ``learn_one`` would, event by event. ``reuse`` keeps the
        arrays of an earlier call (by slot count) to write this batch into, if big enough.
        """
        columns = as_columns(X)
        n = n_rows(columns)
        names = sorted(columns, key=_checked_name)
        if self.missing:
            names = sorted(set(names) | self.known)
        pairs = self.cross_pairs(names)
        slots = len(names) + len(pairs)
        hashes, values = _output(n, slots, reuse)
        present: dict[int, np.ndarray | None] = {}  # None: where the value is not 0
        texts: list[tuple[int, str, pa.Array]] = []
        for j, name in enumerate(names):
            if name not in columns:
                present[j] = np.zeros(n, bool)
                hashes[:, j], values[:, j] = 0, 0.0
                continue
            column = to_arrow_or_numeric(name, columns[name])
            if isinstance(column, pa.Array):
                texts.append((j, name, column))
                present[j] = None
            else:
                present[j] = self._encode_column(name, column, learn, hashes[:, j], values[:, j])
        if texts:
            self._hash_texts(texts, hashes, values)
        if self.missing:
            for j, name in enumerate(names):
                there = present[j]
                there = values[:, j] != 0.0 if there is None else there
                self._mark_missing(name, there, learn, hashes[:, j], values[:, j])
        for j, (a, b) in enumerate(pairs, start=len(names)):
            hashes[:, j] = (hashes[:, a] * np.uint32(FNV_PRIME)) ^ hashes[:, b]
            values[:, j] = values[:, a] * values[:, b]
        return hashes, values

    def _hash_texts(self, texts: list[tuple[int, str, pa.Array]], hashes, values) -> None:
        """The text columns in few compiled calls (rows in blocks that stay in the cache).
        A call compiles once per number of columns: they go by at most 32, padded to a power
        of two (the padding is never read), so a new table seldom means a new compilation."""
        for first in range(0, len(texts), TEXT_GROUP):
            group = texts[first : first + TEXT_GROUP]
            buffers = [string_buffers(column) for _, _, column in group]
            offsets = [b[0] for b in buffers]
            if len({o.dtype for o in offsets}) > 1:  # large strings among small: one type
                offsets = [o.astype(np.int64) for o in offsets]
            seeds = np.array([self.column_seed(name) for _, name, _ in group], np.uint32)
            slots = np.array([j for j, _, _ in group], np.int64)
            width = 1 << (len(group) - 1).bit_length()
            hash_string_columns(
                _padded(offsets, width),
                _padded([b[1] for b in buffers], width),
                _padded([b[2] for b in buffers], width),
                seeds,
                slots,
                hashes,
                values,
            )

    def _encode_column(self, name: str, column: np.ndarray, learn: bool, hashes, values):
        """Fill one numeric column's slots (categorical codes, or numbers). For the missing
        signal, returns which events have a value there: None when that is where the value
        is not 0 (codes), or when there is no missing signal."""
        seed = np.uint32(self.column_seed(name))
        if name in self._categorical and column.dtype.kind != "b":
            self._encode_codes(column, seed, hashes, values)
            return None
        numbers = np.asarray(column, np.float64)
        mode, stats = RAW, _NO_STATS
        if self.standardize:
            # Like the one-event path, a column gets statistics once a value is learned.
            mode = ZERO
            if name in self.scaler.columns or (learn and _usable(numbers, self.max_value).any()):
                slot = self.scaler.slot(name)  # may grow the statistics: before reading them
                mode, stats = SCALED, self.scaler.stats[slot]
        number_column(numbers, self.max_value, stats, mode, learn, seed, hashes, values)
        return _usable(numbers, self.max_value) if self.missing else None

    def _mark_missing(self, name: str, present: np.ndarray, learn: bool, hashes, values) -> None:
        """The "missing" feature where the column is known and has no value. A column is
        known after the first event that had a value for it was learned."""
        if name in self.known:
            start = 0
        elif learn and present.any():
            start = int(np.argmax(present)) + 1
            self.known.add(name)
        else:
            return
        rows = np.flatnonzero(~present[start:]) + start
        hashes[rows] = self.missing_hash(name)
        values[rows] = 1.0

    def _encode_codes(self, column: np.ndarray, seed: np.uint32, hashes, values) -> None:
        if column.dtype.kind in "iu":
            hash_int_column(
                column.astype(np.int64), np.ones(len(column), bool), seed, hashes, values
            )
            return
        present = np.isfinite(column)
        integral = present & (column == np.round(column))
        if (integral == present).all():
            codes = np.where(present, column, 0).astype(np.int64)
            hash_int_column(codes, present, seed, hashes, values)
            return
        values[:] = present
        hashes[:] = 0
        for i in np.flatnonzero(present):
            hashes[i] = hash_text(_code_text(column[i], float(column[i])), int(seed))

    # ------------------------------------------------------------------ state
    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        stats, columns = self.scaler.state()
        return {"scaler_stats": stats}, {
            "scaler_columns": columns,
            "known_columns": sorted(self.known),
        }

    def load_state(self, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
        self.scaler = OnlineScaler.from_state(arrays["scaler_stats"], meta["scaler_columns"])
        self.known = set(meta.get("known_columns", []))


FEATURE_SETTINGS = (
    "bits",
    "seed",
    "categorical",
    "namespaces",
    "interactions",
    "standardize",
    "missing",
    "max_value",
)


def as_features(
    features: FeatureHasher | Mapping[str, Any] | None,
    settings: Mapping[str, Any],
    owner: str,
    **defaults: Any,
) -> FeatureHasher:
    """The featurizer a model composes: ``features`` itself, or one made from its settings
    (a dict, as a model's params hold them) and ``settings`` given one by one, over the
    model's ``defaults``."""
    if isinstance(features, FeatureHasher):
        if settings:
            raise TypeError(
                f"{owner}: give features= or its settings ({', '.join(sorted(settings))}), not both"
            )
        return features
    merged = {**defaults, **dict(features or {}), **settings}
    unknown = sorted(set(merged) - set(FEATURE_SETTINGS))
    if unknown:
        raise TypeError(
            f"{owner} got unknown arguments {unknown}; "
            f"its feature settings are {', '.join(FEATURE_SETTINGS)}"
        )
    return FeatureHasher(**merged)


def _is_missing(value: Any, limit: float, categorical: bool = False) -> bool:
    """No value: None, empty text, NaN, ±inf, or a number beyond ±``limit`` (unless the
    column holds codes)."""
    if value is None or (isinstance(value, str) and not value):
        return True
    if isinstance(value, float | np.floating) and not math.isfinite(value):
        return True
    if isinstance(value, int | float | np.number) and not isinstance(value, bool | np.bool_):
        return not categorical and abs(value) > limit
    return False


def _checked_name(name: Any) -> str:
    if not isinstance(name, str):
        raise TypeError(f"feature names must be str, got {name!r} ({type(name).__name__})")
    return name


def _code_text(value: Any, number: float) -> str:
    """The text a categorical number hashes as: integers (and integral floats) in decimal."""
    if isinstance(value, int | np.integer):
        return str(int(value))
    return str(int(number)) if number.is_integer() else repr(number)


def _padded(items: list, width: int) -> tuple:
    return tuple(items) + (items[0],) * (width - len(items))


def _output(n: int, slots: int, reuse: dict | None) -> tuple[np.ndarray, np.ndarray]:
    """(hashes, values) arrays for n rows: fresh zeros, or the rows of ``reuse``'s arrays
    (every slot is written)."""
    if reuse is None:
        return np.zeros((n, slots), dtype=np.uint32), np.zeros((n, slots))
    held = reuse.get(slots)
    if held is None or len(held[0]) < n:
        held = reuse[slots] = np.zeros((n, slots), dtype=np.uint32), np.zeros((n, slots))
    return held[0][:n], held[1][:n]
