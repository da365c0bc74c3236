"""A generated click-through stream: hashed categorical fields, a few numbers, one abrupt drift.

Like display-advertising logs (Criteo-style), each event has ``C1..C20`` categorical fields
whose values are 8-hex-digit tokens with Zipf-like popularity and cardinalities from 10 up
to 100,000, and three numeric fields ``I1..I3``. The label ``click`` comes from a hidden
logistic model with per-value weights and two feature crosses (C1×C2, C3×C4). At the
midpoint the concept changes abruptly: half the fields get new weights and one numeric
effect flips sign.

>>> from streamlearn.datasets import synth
>>> table = synth.click_stream(1000, seed=1)
>>> table.num_rows, table.column_names[:3]
(1000, ['click', 'C1', 'C2'])
>>> 0.05 < sum(table.column("click").to_pylist()) / 1000 < 0.5
True
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

TARGET = "click"
N_CATEGORICAL = 20
N_NUMERIC = 3
CROSSES = ((0, 1), (2, 3))


def _zipf_codes(rng: np.random.Generator, n: int, cardinality: int, s: float = 1.1) -> np.ndarray:
    """Value codes 0..cardinality-1 with probability ∝ 1 / rank**s."""
    weights = 1.0 / np.arange(1, cardinality + 1) ** s
    cdf = np.cumsum(weights / weights.sum())
    return np.minimum(np.searchsorted(cdf, rng.random(n)), cardinality - 1)


def _mixed_uniform(a: np.ndarray, b: np.ndarray, salt: int) -> np.ndarray:
    """A deterministic pseudo-random number in [-1, 1) for each pair (a, b)."""
    h = (a.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) ^ (
        b.astype(np.uint64) + np.uint64((salt * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF)
    )
    h ^= h >> np.uint64(31)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(29)
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 52) - 1.0


def click_stream(n: int = 1_000_000, seed: int = 0, drift: bool = True) -> pa.Table:
    """``n`` events as an Arrow table: ``click`` (0/1), ``C1..C20`` (text), ``I1..I3`` (numbers)."""
    rng = np.random.default_rng(seed)
    cardinalities = np.geomspace(10, 100_000, N_CATEGORICAL).astype(int)
    codes = [_zipf_codes(rng, n, int(c)) for c in cardinalities]
    numbers = [rng.lognormal(2.0, 1.0, n), rng.normal(40.0, 12.0, n), rng.integers(0, 24, n) * 1.0]

    after = np.arange(n) >= n // 2 if drift else np.zeros(n, bool)
    margin = np.full(n, -2.2)
    for j, c in enumerate(codes):
        scale = 0.9 if j < 10 else 0.25
        weight = _mixed_uniform(np.full(n, j), c, salt=1) * scale
        if j % 2 == 0:  # these fields change their meaning at the drift
            weight = np.where(after, _mixed_uniform(np.full(n, j), c, salt=2) * scale, weight)
        margin += weight
    for a, b in CROSSES:
        margin += 1.2 * _mixed_uniform(codes[a], codes[b], salt=3 + a)
    margin += 0.25 * (np.log(numbers[0]) - 2.0)
    margin += np.where(after, 1.0, -1.0) * 0.03 * (numbers[1] - 40.0)
    clicks = (rng.random(n) < 1.0 / (1.0 + np.exp(-margin))).astype(np.int8)

    columns: dict[str, pa.Array] = {TARGET: pa.array(clicks)}
    for j, c in enumerate(codes):
        vocabulary = pa.array([f"{t:08x}" for t in rng.integers(0, 2**32, int(cardinalities[j]))])
        columns[f"C{j + 1}"] = pa.DictionaryArray.from_arrays(
            pa.array(c.astype(np.int32)), vocabulary
        ).dictionary_decode()
    for j, values in enumerate(numbers):
        columns[f"I{j + 1}"] = pa.array(np.round(values, 3))
    return pa.table(columns)


def write_csv(path: str, n: int = 1_000_000, seed: int = 0) -> None:
    """Write :func:`click_stream` to a CSV file (gzip-compressed if ``path`` ends in .gz)."""
    import pyarrow.csv as pacsv

    table = click_stream(n, seed)
    if str(path).endswith(".gz"):
        with pa.CompressedOutputStream(str(path), "gzip") as out:
            pacsv.write_csv(table, out)
    else:
        pacsv.write_csv(table, str(path))
