"""Progressive top-N evaluation of a recommender, in time order: before each relevant
interaction (u, i) is learned, the model recommends ``k`` items to u among those u has not
interacted with; a hit if i is among them. recall@k is the share of hits (one relevant item
per event), NDCG@k the mean of 1 / log2(rank + 2) over hits (0 for a miss).

>>> from streamlearn.datasets import synth
>>> from streamlearn.models import BiasedMF
>>> columns, ratings = synth.ratings(20_000, users=200, items=100, seed=3)
>>> result = progressive_topn(BiasedMF(seed=1), columns, ratings, k=10, every=5)
>>> result["scored"] > 1000, 0 < result["ndcg@10"] < result["recall@10"] < 1
(True, True)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def progressive_topn(
    model: Any,
    columns: dict[str, np.ndarray],
    targets: np.ndarray,
    k: int = 10,
    relevant: float = 4.0,
    every: int = 1,
) -> dict[str, float]:
    """recall@k and NDCG@k over the events whose target is at least ``relevant``; every
    ``every``-th of them is scored (all are learned). The model learns each event after it
    is scored, in order; it needs ``recommend(user, k)``, ``knows(item)`` (a brand-new item
    cannot be a hit) and ``learn_many``."""
    users, items = columns[model.user_key], columns[model.item_key]
    targets = np.asarray(targets, np.float64)
    hits, gains, scored = 0, 0.0, 0
    candidates = 0
    for e in range(len(targets)):
        one = {model.user_key: users[e : e + 1], model.item_key: items[e : e + 1]}
        if targets[e] >= relevant and candidates % every == 0 and model.knows(items[e]):
            top = [item for item, _ in model.recommend(users[e], k)]
            scored += 1
            if items[e] in top:
                hits += 1
                gains += 1.0 / math.log2(top.index(items[e]) + 2)
        candidates += targets[e] >= relevant
        model.learn_many(one, targets[e : e + 1])
    return {
        f"recall@{k}": hits / scored if scored else math.nan,
        f"ndcg@{k}": gains / scored if scored else math.nan,
        "scored": scored,
    }
