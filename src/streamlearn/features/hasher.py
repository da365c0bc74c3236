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
from typing import Any

import mmh3
import numpy as np

from streamlearn.features.column_hashing import encode_columns
from streamlearn.features.event_hashing import (
    EncodedEvent,
    encode_value,
    event_layout,
    event_schema,
    mark_missing,
)
from streamlearn.features.hashing import FNV_PRIME, MASK32, hash_text
from streamlearn.features.packed import Layout
from streamlearn.features.scaling import OnlineScaler

MAX_ABS_VALUE = 1e12
_UNSEEN = object()  # a key set not met yet


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

    def holds_codes(self, name: str) -> bool:
        """Whether column ``name`` was declared categorical (its numbers are codes)."""
        return name in self._categorical

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
            if len(self._schemas) > 1024:
                self._schemas.clear()
            schema = self._schemas[key] = event_schema(self, x)
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
        # The common types take the short way; anything else goes through encode_value.
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
                encoded = encode_value(self, name, value, numbers)
                if encoded is not None:
                    hashes[j], values[j] = encoded
        seen = mark_missing(self, x, names, hashes, values) if self.missing else []
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
            if len(self._layouts) > 1024:
                self._layouts.clear()
            layout = self._layouts[key] = event_layout(self, x)
        if layout is None:  # this key set's values are not of the packable types
            return None
        data = layout.pack(x)
        return None if data is None else (data, layout)

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
        return encode_columns(self, X, learn, reuse)

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
