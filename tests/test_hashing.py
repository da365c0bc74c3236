"""The compiled hash must equal mmh3 bit for bit, or batch and one-event paths would split."""

import mmh3
import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from streamlearn.features.columns import string_buffers
from streamlearn.features.hashing import (
    cross_hash,
    hash_int_column,
    hash_string_columns,
    hash_text,
)


def hash_columns(arrays, seeds, slots=None):
    """Text columns hashed in one call, into the given slots of (rows, max slot + 1)."""
    buffers = [string_buffers(a) for a in arrays]
    slots = list(range(len(arrays))) if slots is None else slots
    hashes = np.zeros((len(arrays[0]), max(slots) + 1), np.uint32)
    present = np.zeros(hashes.shape)
    hash_string_columns(
        tuple(b[0] for b in buffers),
        tuple(b[1] for b in buffers),
        tuple(b[2] for b in buffers),
        np.array(seeds, np.uint32),
        np.array(slots, np.int64),
        hashes,
        present,
    )
    return hashes, present


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=30), min_size=1, max_size=50), st.integers(0, 2**32 - 1))
def test_string_column_hash_equals_mmh3(values, seed):
    hashes, present = hash_columns([pa.array(values)], [seed])
    for value, h, p in zip(values, hashes[:, 0], present[:, 0], strict=True):
        if value:
            assert p == 1.0
            assert int(h) == mmh3.hash(value.encode(), seed, signed=False)
        else:
            assert p == 0.0


def test_several_text_columns_in_blocks_of_rows_land_in_their_slots():
    rng = np.random.default_rng(0)
    n = 1000  # several blocks of rows, the last one partial
    first = [f"u{i}" for i in rng.integers(0, 50, n)]
    second = [None if i % 7 == 0 else "x" * int(i % 11) for i in range(n)]
    sliced = pa.array(["skip"] * 5 + first).slice(5)  # offsets not starting at 0
    hashes, present = hash_columns([sliced, pa.array(second)], [11, 22], slots=[3, 1])
    assert not present[:, [0, 2]].any()
    for i in range(n):
        assert int(hashes[i, 3]) == mmh3.hash(first[i].encode(), 11, signed=False)
        if second[i]:
            assert int(hashes[i, 1]) == mmh3.hash(second[i].encode(), 22, signed=False)
        assert present[i, 1] == float(bool(second[i]))


def test_a_batch_mixing_large_and_small_strings_hashes_both():
    from streamlearn.features.hasher import FeatureHasher

    hasher = FeatureHasher(bits=20)
    columns = {"a": pa.array(["p", "q"]), "b": pa.array(["r", None], pa.large_string())}
    hashes, values = hasher.encode_many(columns, learn=False)
    assert values.tolist() == [[1.0, 1.0], [1.0, 0.0]]
    assert int(hashes[1, 0]) == hash_text("q", hasher.column_seed("a"))
    assert int(hashes[0, 1]) == hash_text("r", hasher.column_seed("b"))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=50))
def test_int_column_hashes_decimal_text(values):
    array = np.array(values, dtype=np.int64)
    hashes = np.zeros(len(values), np.uint32)
    present = np.zeros(len(values))
    hash_int_column(array, np.ones(len(values), bool), np.uint32(99), hashes, present)
    assert [int(h) for h in hashes] == [hash_text(str(v), 99) for v in values]
    assert (present == 1.0).all()


def test_sliced_and_null_strings_hash_like_python():
    array = pa.array(["a", None, "ccc", "", "dddd", "é"]).slice(1)
    hashes, present = hash_columns([array], [3])
    assert present[:, 0].tolist() == [0.0, 1.0, 0.0, 1.0, 1.0]
    assert int(hashes[1, 0]) == hash_text("ccc", 3)
    assert int(hashes[4, 0]) == hash_text("é", 3)


def test_hash_is_stable_across_processes():
    # Known MurmurHash3 x86_32 values: a salted hash would change from run to run.
    assert hash_text("", 0) == 0
    assert hash_text("hello", 0) == 613153351
    assert cross_hash(1, 2) == (16777619 ^ 2)


def test_wide_tables_hash_every_text_column_in_groups():
    from streamlearn.features.column_hashing import TEXT_GROUP
    from streamlearn.features.hasher import FeatureHasher

    k = 2 * TEXT_GROUP + 5  # three compiled calls, the last one padded
    columns = {f"c{j:03d}": pa.array(["a", f"b{j}", None]) for j in range(k)}
    hasher = FeatureHasher(bits=20)
    hashes, values = hasher.encode_many(columns, learn=False)
    for slot, name in enumerate(sorted(columns)):
        assert int(hashes[1, slot]) == hash_text(f"b{int(name[1:])}", hasher.column_seed(name))
        assert int(hashes[0, slot]) == hash_text("a", hasher.column_seed(name))
    assert values[:2].all() and not values[2].any()
