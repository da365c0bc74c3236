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


def delayed_clicks(n: int = 200_000, seed: int = 0, mean_delay: float = 300.0) -> pa.Table:
    """:func:`click_stream` as a click-through service sees it: a click's label arrives
    ``delay`` events after its impression (exponential, mean ``mean_delay``); a non-click's
    never arrives (empty): it is inferred when the wait runs out (the runner's TTL)."""
    table = click_stream(n, seed)
    clicked = table.column(TARGET).to_numpy() == 1
    delays = np.random.default_rng(seed + 1).exponential(mean_delay, n).round()
    table = table.set_column(0, TARGET, pa.array(np.where(clicked, 1.0, np.nan), from_pandas=True))
    return table.append_column(
        "delay", pa.array(np.where(clicked, delays, np.nan), from_pandas=True)
    )


def tabular_stream(
    n: int = 100_000,
    columns: str = "mixed",
    task: str = "binary",
    seed: int = 0,
    n_classes: int = 4,
) -> pa.Table:
    """A generated tabular stream with one abrupt drift at the midpoint.

    ``columns``: ``numeric`` (8 numbers on very different scales), ``categorical`` (6 text
    columns, 5 to 1,000 values) or ``mixed`` (4 of each). ``task``: ``binary`` (target 0/1),
    ``multiclass`` (text labels ``class_0``…) or ``regression``. The hidden model is linear in
    standardized numbers and per-value effects, plus one pairwise interaction.

    >>> from streamlearn.datasets import synth
    >>> table = synth.tabular_stream(500, columns="mixed", task="multiclass", seed=1)
    >>> table.column_names
    ['n1', 'n2', 'n3', 'n4', 'c1', 'c2', 'c3', 'c4', 'target']
    >>> sorted(set(table.column("target").to_pylist()))
    ['class_0', 'class_1', 'class_2', 'class_3']
    """
    rng = np.random.default_rng(seed)
    n_numeric = {"numeric": 8, "categorical": 0, "mixed": 4}[columns]
    n_text = {"numeric": 0, "categorical": 6, "mixed": 4}[columns]
    outputs = n_classes if task == "multiclass" else 1
    after = np.arange(n) >= n // 2
    score = np.zeros((n, outputs))
    data: dict[str, pa.Array] = {}
    scales = [1.0, 100.0, 0.01, 10.0, 1000.0, 0.1, 5.0, 50.0]
    standardized = []
    for j in range(n_numeric):
        z = rng.normal(size=n)
        standardized.append(z)
        data[f"n{j + 1}"] = pa.array(np.round(z * scales[j] + 3 * scales[j], 4))
        w = rng.normal(0, 1.0, outputs)
        w_after = w if j % 2 else rng.normal(0, 1.0, outputs)  # half the effects drift
        score += np.where(after[:, None], w_after, w) * z[:, None]
    cardinalities = [5, 20, 100, 1000, 50, 10]
    codes = []
    for j in range(n_text):
        card = cardinalities[j]
        c = _zipf_codes(rng, n, card, s=0.8)
        codes.append(c)
        data[f"c{j + 1}"] = pa.array([f"v{v}" for v in range(card)]).take(pa.array(c))
        effects = rng.normal(0, 1.0, (card, outputs))
        drifted = effects if j % 2 else rng.normal(0, 1.0, (card, outputs))
        score += np.where(after[:, None], drifted[c], effects[c])
    if n_numeric >= 2:
        score += 0.5 * (standardized[0] * standardized[1])[:, None]
    elif len(codes) >= 2:
        score += _mixed_uniform(codes[0], codes[1], salt=7)[:, None]
    if task == "binary":
        target = (rng.random(n) < 1 / (1 + np.exp(-score[:, 0]))).astype(np.int8)
        data["target"] = pa.array(target)
    elif task == "multiclass":
        noisy = score + rng.gumbel(size=score.shape)
        labels = pa.array([f"class_{k}" for k in range(n_classes)])
        data["target"] = labels.take(pa.array(noisy.argmax(axis=1)))
    else:
        data["target"] = pa.array(np.round(3.0 * score[:, 0] + rng.normal(0, 1.0, n) + 10, 4))
    return pa.table(data)


def ratings(
    n: int = 100_000, users: int = 500, items: int = 300, factors: int = 4, seed: int = 0
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """A stream of 1–5 ratings from a low-rank model (user and item biases plus factors),
    with popular users and items appearing more often: ``({"user", "item"}, ratings)``."""
    rng = np.random.default_rng(seed)
    p = rng.normal(0, 0.6, (users, factors))
    q = rng.normal(0, 0.6, (items, factors))
    user_bias, item_bias = rng.normal(0, 0.4, users), rng.normal(0, 0.5, items)
    u = _zipf_codes(rng, n, users)
    i = _zipf_codes(rng, n, items)
    raw = 3.5 + user_bias[u] + item_bias[i] + np.einsum("ij,ij->i", p[u], q[i])
    noisy = raw + rng.normal(0, 0.5, n)
    return {"user": u.astype(np.int64), "item": i.astype(np.int64)}, np.clip(np.round(noisy), 1, 5)


def timeline(
    n: int = 100_000, users: int = 200, topics: int = 8, authors: int = 5, seed: int = 0
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Impressions of posts on a social timeline, with three kinds of engagement: ``click``
    (0/1), and for clicked posts only ``like`` (0/1) and ``dwell`` (seconds); unknown is
    NaN. Each user has affinities to topics and authors; returns (features, labels)."""
    rng = np.random.default_rng(seed)
    topic_affinity, author_quality = timeline_truth(users, topics, authors, seed)
    rng.normal(size=users * topics + authors)  # the same draws timeline_truth made
    u = _zipf_codes(rng, n, users)
    t = rng.integers(0, topics, n)
    a = rng.integers(0, authors, n)
    hour = rng.integers(0, 24, n)
    evening = ((hour >= 18) | (hour <= 1)).astype(float)
    pull = topic_affinity[u, t] + author_quality[a] + 0.4 * evening
    click = rng.random(n) < 1 / (1 + np.exp(-(pull - 1.5)))
    like = np.where(click, rng.random(n) < 1 / (1 + np.exp(-(pull - 0.5))), np.nan)
    dwell = np.where(click, rng.lognormal(2.5 + 0.4 * pull, 0.5), np.nan)
    features = {
        "user": np.char.add("u", u.astype(str)).astype(object),
        "topic": np.char.add("t", t.astype(str)).astype(object),
        "author": np.char.add("a", a.astype(str)).astype(object),
        "post": np.char.add("p", rng.integers(0, 5000, n).astype(str)).astype(object),
        "hour": hour.astype(np.int64),
    }
    return features, {"click": click.astype(float), "like": like, "dwell": dwell}


def timeline_truth(
    users: int = 200, topics: int = 8, authors: int = 5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The users' topic affinities and the authors' qualities behind :func:`timeline`."""
    rng = np.random.default_rng(seed)
    return rng.normal(0, 1.2, (users, topics)), rng.normal(0, 0.7, authors)
