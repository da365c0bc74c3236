"""One event packed into ``bytes`` for a compiled one-event kernel.

Predicting and learning one dict event is mostly Python work: reading the values, hashing
the texts, building arrays, scaling and folding numbers. Here, code made once per key set
(and value types) reads the values, hashes the texts with ``mmh3`` and packs the numbers and
text hashes into one ``bytes`` with ``struct`` (cheaper than building two numpy arrays); a
compiled kernel unpacks them, scales the numbers with the scaler's statistics, forms the
crosses, and after learning folds the numbers into the statistics, all in the call that
predicts and learns. The arithmetic is the general path's (``FeatureHasher.encode_one``
then ``learn_one``), so the results are equal to the last bit (tested).

The plan (an int64 array) says where each slot comes from: ``[columns, crosses, numbers]``,
then per column ``(kind, position in its block, seed, scaler slot)``, then per cross the
positions of its two columns. A scaler slot is a row of the scaler's statistics, or
``RAW_NUMBER`` (no scaling) or ``NO_STATS`` (scaled, but no statistics yet: 0).

>>> from streamlearn.features import FeatureHasher
>>> packed = FeatureHasher(bits=8).pack_one({"user": "u1", "price": 2.5})
>>> data, layout = packed
>>> len(data), layout.plan[:3].tolist()  # one float64 and one uint32; 2 columns, 0 crosses
(12, [2, 0, 1])
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mmh3
import numba as nb
import numpy as np

from streamlearn.features.hashing import FNV_PRIME, MASK32
from streamlearn.features.scaling import OnlineScaler, _fold, _scaled

TEXT, NUMBER = 0, 1
HEADER = 3  # columns, crosses, numbers
COLUMN = 4  # kind, position, seed, scaler slot
RAW_NUMBER, NO_STATS = -1, -2
_FNV = np.uint64(FNV_PRIME)
_MASK = np.uint64(MASK32)


def typed_reads(
    x: dict[str, Any], names: list[str], plain: list[bool], limit: float
) -> tuple[list[type], list[str], list[str]] | None:
    """For code made for events like ``x``: the value types, the lines that read the values
    into ``v0, v1, …`` and the checks that an event has those types (a non-empty text; a
    number within ±``limit``, so NaN fails). None when a value has another type, or is a
    number in a categorical column (not ``plain``): the general path takes those."""
    kinds = [type(x[name]) for name in names]
    if not all(kind is str or (kind in (int, float) and plain[j]) for j, kind in enumerate(kinds)):
        return None
    reads = [f"v{j} = x[{name!r}]" for j, name in enumerate(names)]
    checks = [
        f"type(v{j}) is str and v{j}"
        if kind is str
        else f"type(v{j}) is {kind.__name__} and {-limit!r} <= v{j} <= {limit!r}"
        for j, kind in enumerate(kinds)
    ]
    return kinds, reads, checks


@dataclass
class Layout:
    """What the packed events of one key set share.

    Parameters
    ----------
    pack
        Packs an event's values into bytes (None: the event does not fit this layout).
    plan
        The compiled featurizer's plan: one row per feature to emit.
    scaler
        The online scaler whose statistics rows the plan names.
    standardize
        Whether numeric values are standardized.
    numbers, seeds, names
        The numeric columns' positions in packing order, their hash seeds and their names.
    unscaled
        Some numeric column has no statistics yet.

    Example
    -------
    >>> from streamlearn.features import FeatureHasher
    >>> hasher = FeatureHasher(bits=8)
    >>> data, layout = hasher.pack_one({"user": "u1", "price": 2.5})
    >>> isinstance(layout, Layout), isinstance(data, bytes)
    (True, True)
    """

    pack: Callable[[dict], bytes | None]
    plan: np.ndarray
    scaler: OnlineScaler
    standardize: bool
    numbers: list[int]  # the numeric columns' positions, in packing order
    seeds: list[int]  # and their seeds
    names: list[str]  # and their names
    unscaled: bool = False  # some numeric column has no statistics yet

    def place_numbers(self) -> None:
        """Write the numeric columns' entries of the plan (again, once learning has given
        them statistics)."""
        self.unscaled = False
        for position, (j, seed, name) in enumerate(
            zip(self.numbers, self.seeds, self.names, strict=True)
        ):
            slot = RAW_NUMBER
            if self.standardize:
                slot = self.scaler.columns.get(name, NO_STATS)
                self.unscaled |= slot == NO_STATS
            at = HEADER + COLUMN * j
            self.plan[at : at + COLUMN] = NUMBER, position, seed, slot

    def add_statistics(self) -> None:
        """Give every numeric column its statistics row (before learning an event)."""
        for name in self.names:
            self.scaler.slot(name)
        self.place_numbers()


def make_layout(
    x: dict[str, Any],
    names: list[str],
    seeds: list[int],
    plain: list[bool],
    pairs: list[tuple[int, int]],
    scaler: OnlineScaler,
    standardize: bool,
    limit: float,
) -> Layout | None:
    """The layout for events with ``x``'s keys and value types, or None when the general
    path must take them."""
    typed = typed_reads(x, names, plain, limit)
    if typed is None:
        return None
    kinds, reads, checks = typed
    numbers = [j for j, kind in enumerate(kinds) if kind is not str]
    texts = [j for j, kind in enumerate(kinds) if kind is str]
    packing = struct.Struct(f"<{len(numbers)}d{len(texts)}I")
    hashed = [f"murmur(v{j}, {seeds[j]}, False)" for j in texts]
    source = "\n".join(
        [
            "def pack(x):",
            *(f"    {line}" for line in reads),
            f"    if not ({' and '.join(checks) or 'True'}):",
            "        return None",
            f"    return PACK({', '.join([f'v{j}' for j in numbers] + hashed)})",
        ]
    )
    scope = {"murmur": mmh3.hash, "PACK": packing.pack}
    exec(compile(source, f"<packer of {len(names)} columns>", "exec"), scope)
    plan = np.zeros(HEADER + COLUMN * len(names) + 2 * len(pairs), np.int64)
    plan[:HEADER] = len(names), len(pairs), len(numbers)
    for position, j in enumerate(texts):
        plan[HEADER + COLUMN * j : HEADER + COLUMN * (j + 1)] = TEXT, position, 0, 0
    plan[HEADER + COLUMN * len(names) :] = np.asarray(pairs, np.int64).reshape(-1)
    layout = Layout(
        scope["pack"],
        plan,
        scaler,
        standardize,
        numbers,
        [seeds[j] for j in numbers],
        [names[j] for j in numbers],
    )
    layout.place_numbers()
    return layout


@nb.njit(inline="always")
def plan_slots(plan):
    """How many slots (columns and crosses) the plan's events have."""
    return plan[0] + plan[1]


@nb.njit(inline="always")
def _blocks(data, plan):
    raw = np.frombuffer(data, np.uint8)
    split = 8 * plan[2]
    return raw[:split].view(np.float64), raw[split:].view(np.uint32)


@nb.njit(inline="always")
def unpack(data, plan, stats, hashes, values):
    """Fill ``hashes``/``values`` (``plan_slots`` long) as ``encode_one`` would: numbers
    scaled with the statistics as they are now, then the crosses."""
    numbers, texts = _blocks(data, plan)
    n_columns = plan[0]
    for j in range(n_columns):
        at = HEADER + COLUMN * j
        if plan[at] == TEXT:
            hashes[j] = texts[plan[at + 1]]
            values[j] = 1.0
            continue
        x = numbers[plan[at + 1]]
        hashes[j] = plan[at + 2]
        slot = plan[at + 3]
        if slot >= 0:
            values[j] = _scaled(stats[slot], x)
        else:
            values[j] = x if slot == RAW_NUMBER else 0.0
    at = HEADER + COLUMN * n_columns
    for k in range(plan[1]):
        a, b = plan[at + 2 * k], plan[at + 2 * k + 1]
        hashes[n_columns + k] = ((np.uint64(hashes[a]) * _FNV) ^ np.uint64(hashes[b])) & _MASK
        values[n_columns + k] = values[a] * values[b]


@nb.njit(inline="always")
def fold_numbers(data, plan, stats):
    """Fold the event's scaled numbers into their statistics (after it was learned)."""
    numbers, _ = _blocks(data, plan)
    for j in range(plan[0]):
        at = HEADER + COLUMN * j
        if plan[at] == NUMBER and plan[at + 3] >= 0:
            _fold(stats[plan[at + 3]], numbers[plan[at + 1]])
