"""Stable, seedable feature hashing: MurmurHash3 (x86, 32-bit), never Python's salted ``hash``.

The same function runs in two places that must agree bit for bit: in Python through the
``mmh3`` C extension (one-event path) and compiled with numba over Arrow string buffers and
integer columns (batch path). Categorical values hash as their UTF-8 text; integers as their
decimal text, so ``7`` and ``"7"`` land on the same weight in both paths.

>>> from streamlearn.features.hashing import hash_text
>>> hash_text("user=42", seed=0) == hash_text("user=42", seed=0)
True
>>> hash_text("a", seed=0) != hash_text("a", seed=1)
True
"""

from __future__ import annotations

from typing import Any

import mmh3
import numba as nb
import numpy as np

FNV_PRIME = 16777619  # combines two hashes into a cross feature, as Vowpal Wabbit's -q does
MASK32 = 0xFFFFFFFF


def hash_text(text: str | bytes, seed: int = 0) -> int:
    """MurmurHash3 x86 32-bit of ``text`` (UTF-8) as an unsigned int."""
    data = text.encode() if isinstance(text, str) else text
    return mmh3.hash(data, seed & MASK32, signed=False)


def feature_name(name: Any) -> str:
    """A column's name, refused unless it is text."""
    if not isinstance(name, str):
        raise TypeError(f"feature names must be str, got {name!r} ({type(name).__name__})")
    return name


def code_text(value: Any, number: float) -> str:
    """The text a categorical number hashes as: integers (and integral floats) in decimal."""
    if isinstance(value, int | np.integer):
        return str(int(value))
    return str(int(number)) if number.is_integer() else repr(number)


def cross_hash(left: int, right: int) -> int:
    """The hash of the cross feature of two hashed features."""
    return ((left * FNV_PRIME) ^ right) & MASK32


_MASK = np.uint64(MASK32)
_C1 = np.uint64(0xCC9E2D51)
_C2 = np.uint64(0x1B873593)


@nb.njit(inline="always")
def _mix_block(k):
    """One 32-bit block scrambled (in 64-bit arithmetic masked to 32 bits: numba's uint32
    arithmetic converts back and forth at every step, 20% slower)."""
    k = (k * _C1) & _MASK
    k = ((k << np.uint64(15)) | (k >> np.uint64(17))) & _MASK
    return (k * _C2) & _MASK


@nb.njit(inline="always")
def murmur3_bytes(data, start, end, seed):
    """MurmurHash3 x86 32 of ``data[start:end]`` (a uint8 array); equal to ``mmh3.hash``."""
    h = np.uint64(seed) & _MASK
    length = end - start
    nblocks = length // 4
    for b in range(nblocks):
        i = start + 4 * b
        k = (
            np.uint64(data[i])
            | (np.uint64(data[i + 1]) << np.uint64(8))
            | (np.uint64(data[i + 2]) << np.uint64(16))
            | (np.uint64(data[i + 3]) << np.uint64(24))
        )
        h ^= _mix_block(k)
        h = ((h << np.uint64(13)) | (h >> np.uint64(19))) & _MASK
        h = (h * np.uint64(5) + np.uint64(0xE6546B64)) & _MASK
    tail = start + 4 * nblocks
    rest = length & 3
    k = np.uint64(0)
    if rest >= 3:
        k ^= np.uint64(data[tail + 2]) << np.uint64(16)
    if rest >= 2:
        k ^= np.uint64(data[tail + 1]) << np.uint64(8)
    if rest >= 1:
        k ^= np.uint64(data[tail])
        h ^= _mix_block(k)
    h ^= np.uint64(length)
    h ^= h >> np.uint64(16)  # the final mix
    h = (h * np.uint64(0x85EBCA6B)) & _MASK
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0xC2B2AE35)) & _MASK
    h ^= h >> np.uint64(16)
    return np.uint32(h)


BLOCK = 256  # rows per block: the block's output rows stay in the cache across columns


@nb.njit(nogil=True, cache=True)
def hash_string_columns(offsets, datas, validities, seeds, slots, out_hash, out_value):
    """Hash several Arrow string columns (their ``offsets``/``data`` buffers, as tuples) as
    categorical features into slots ``slots`` of each row of ``out_hash``/``out_value``.

    A block of rows at a time, column by column: the rows being written stay in the cache
    (column by column over all the rows, each write would touch a new cache line).
    ``validities[c]`` is column c's null mask (empty when it has no nulls). Null and empty
    strings are absent: value 0, hash 0.
    """
    n = out_hash.shape[0]
    for first in range(0, n, BLOCK):
        last = min(first + BLOCK, n)
        for c in range(len(seeds)):
            offs, data, validity = offsets[c], datas[c], validities[c]
            check_nulls = validity.shape[0] > 0
            seed, slot = seeds[c], slots[c]
            for i in range(first, last):
                start = offs[i]
                end = offs[i + 1]
                if end == start or (check_nulls and not validity[i]):
                    out_hash[i, slot] = 0
                    out_value[i, slot] = 0.0
                else:
                    out_hash[i, slot] = murmur3_bytes(data, start, end, seed)
                    out_value[i, slot] = 1.0


@nb.njit(nogil=True, cache=True)
def hash_int_column(values, valid, seed, out_hash, out_value):
    """Hash integer codes by their decimal text, as ``hash_text(str(v))`` does; invalid → absent."""
    buf = np.empty(24, np.uint8)
    for i in range(values.shape[0]):
        if not valid[i]:
            out_hash[i] = 0
            out_value[i] = 0.0
            continue
        out_value[i] = 1.0
        v = values[i]
        neg = v < 0
        # The magnitude as uint64: -(v + 1) + 1 cannot overflow, even for the most negative int64.
        mag = np.uint64(-(v + 1)) + np.uint64(1) if neg else np.uint64(v)
        pos = 24
        while True:
            pos -= 1
            buf[pos] = np.uint8(48 + mag % np.uint64(10))
            mag //= np.uint64(10)
            if mag == 0:
                break
        if neg:
            pos -= 1
            buf[pos] = np.uint8(45)
        out_hash[i] = murmur3_bytes(buf, pos, 24, seed)
