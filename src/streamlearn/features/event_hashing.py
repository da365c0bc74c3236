"""The one-event path of :class:`~streamlearn.features.hasher.FeatureHasher`: what every
event with the same keys shares (names in order, seeds, crosses, the code made for them),
and the slow way for values of the less common types."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import mmh3
import numpy as np

from streamlearn.features.hashing import FNV_PRIME, MASK32, code_text, feature_name, hash_text
from streamlearn.features.packed import Layout, make_layout, typed_reads

if TYPE_CHECKING:
    from streamlearn.features.hasher import FeatureHasher

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
    >>> from streamlearn.features.hasher import FeatureHasher
    >>> event = FeatureHasher(bits=8, standardize=False).encode_one({"user": "u1", "price": 2.5})
    >>> len(event.hashes), event.values.tolist()
    (2, [2.5, 1.0])
    """

    hashes: np.ndarray
    values: np.ndarray
    numbers: list[tuple[str, float]] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)


def straight_line_encoder(x, names, seeds, plain, pairs, standardize, limit):
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


def event_schema(hasher: FeatureHasher, x: Mapping[str, Any]) -> tuple:
    """What every event with these keys shares: names in order, seeds, crosses."""
    names = sorted(x, key=feature_name)
    if hasher.missing:
        names = sorted(set(names) | hasher.known)
    seeds = [hasher.column_seed(name) for name in names]
    plain = [not hasher.holds_codes(name) for name in names]
    pairs = hasher.cross_pairs(names)
    straight = None
    if not hasher.missing:
        straight = straight_line_encoder(
            x, names, seeds, plain, pairs, hasher.standardize, hasher.max_value
        )
    return names, seeds, plain, pairs, straight


def event_layout(hasher: FeatureHasher, x: dict[str, Any]) -> Layout | None:
    """How every plain dict with ``x``'s keys packs for the compiled one-event kernels
    (None: its values are not of the packable types)."""
    names = sorted(x, key=feature_name)
    seeds = [hasher.column_seed(name) for name in names]
    plain = [not hasher.holds_codes(name) for name in names]
    return make_layout(
        x,
        names,
        seeds,
        plain,
        hasher.cross_pairs(names),
        hasher.scaler,
        hasher.standardize,
        hasher.max_value,
    )


def encode_value(
    hasher: FeatureHasher, name: str, value: Any, numbers: list[tuple[str, float]]
) -> tuple[int, float] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (hash_text(value, hasher.column_seed(name)), 1.0) if value else None
    if not isinstance(value, _NUMBER_TYPES):
        raise TypeError(
            f"feature {name!r} has unsupported type {type(value).__name__}; "
            "expected a number, a bool, a str or None"
        )
    number = float(value)
    if not math.isfinite(number):
        return None
    if hasher.holds_codes(name) and not isinstance(value, bool | np.bool_):
        return hash_text(code_text(value, number), hasher.column_seed(name)), 1.0
    if abs(number) > hasher.max_value:  # absurd: absent, as NaN is
        return None
    if hasher.standardize:
        numbers.append((name, number))
        number = hasher.scaler.scale(name, number)
    return (hasher.column_seed(name), number) if number != 0.0 else None


def mark_missing(
    hasher: FeatureHasher, x: Mapping[str, Any], names: list[str], hashes: list, values: list
) -> list[str]:
    """The "missing" feature in the slots of known columns that ``x`` has no value for;
    returns the columns it has."""
    seen = []
    for j, name in enumerate(names):
        if not is_missing(x.get(name), hasher.max_value, hasher.holds_codes(name)):
            seen.append(name)
        elif name in hasher.known:
            hashes[j], values[j] = hasher.missing_hash(name), 1.0
    return seen


def is_missing(value: Any, limit: float, categorical: bool = False) -> bool:
    """No value: None, empty text, NaN, ±inf, or a number beyond ±``limit`` (unless the
    column holds codes)."""
    if value is None or (isinstance(value, str) and not value):
        return True
    if isinstance(value, float | np.floating) and not math.isfinite(value):
        return True
    if isinstance(value, int | float | np.number) and not isinstance(value, bool | np.bool_):
        return not categorical and abs(value) > limit
    return False
