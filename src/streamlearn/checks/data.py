"""The streams the checks run on: events with every kind of value the input policy covers,
and labels fitting each kind of learner."""

from __future__ import annotations

from typing import Any

import numpy as np

from streamlearn.base import Task
from streamlearn.models.recommend.mf import Factorization


def messy_events(n: int = 400, seed: int = 0) -> list[dict]:
    """Events with every kind of value the policy covers: text, ints, floats, bools, None,
    NaN, inf, huge numbers, empty strings, missing keys, unseen categories."""
    rng = np.random.default_rng(seed)
    events = []
    for i in range(n):
        x = {
            "city": str(rng.choice(["paris", "lyon", "nice", ""])) if i % 7 else None,
            "age": float(rng.normal(40, 10)),
            "visits": int(rng.integers(0, 20)),
            "premium": bool(rng.random() < 0.3),
            "device": f"d{int(rng.integers(0, 50 + i))}",
        }
        if i % 11 == 0:
            x["age"] = float("nan")
        if i % 13 == 0:
            x["visits"] = float("inf")
        if i % 17 == 0:
            x["age"] = 1e300
        if i % 5 == 0:
            del x["device"]
        events.append(x)
    return events


def columns_of(events: list[dict]) -> dict[str, list]:
    """The same events as columns (missing keys become None)."""
    names = sorted({k for x in events for k in x})
    return {name: [x.get(name) for x in events] for name in names}


def labelled(model: Any, n: int = 300, seed: int = 0) -> tuple[list[dict], list]:
    """Messy events with labels of the model's kind (multiclass: int, text and bool labels,
    one class first seen mid-stream; a recommender's: :func:`interactions`)."""
    if isinstance(model, Factorization):
        return interactions(n, seed)
    events = messy_events(n, seed)
    rng = np.random.default_rng(seed + 1)
    if model.task == Task.BINARY:
        targets = [bool(rng.random() < 0.4 + 0.3 * (x.get("city") == "paris")) for x in events]
    elif model.task == Task.MULTICLASS:
        choices = [1, "1", False, "late"]
        targets = [choices[int(rng.integers(0, 4 if i > n // 2 else 3))] for i in range(n)]
    else:
        targets = [
            float(x["visits"] if np.isfinite(x["visits"]) else 3) + rng.normal() for x in events
        ]
    return events, targets


def bandit_log(n: int = 300, seed: int = 0) -> tuple[list[dict], list, list[float]]:
    """Logged decisions over the arms ``a``, ``b`` and ``3``: events, arms, rewards."""
    events = messy_events(n, seed)
    rng = np.random.default_rng(seed + 1)
    arms = [["a", "b", 3][int(rng.integers(0, 3))] for _ in range(n)]
    rewards = [
        float(rng.random() < 0.2 + 0.5 * (x.get("city") == "paris" and arm == "b"))
        for x, arm in zip(events, arms, strict=True)
    ]
    return events, arms, rewards


def interactions(n: int = 400, seed: int = 0) -> tuple[list[dict], list[float]]:
    """(user, item) events with integer and text user ids, and their ratings."""
    rng = np.random.default_rng(seed)
    users = [int(u) if u % 2 else f"u{u}" for u in rng.integers(0, 30, n)]
    items = [f"i{i}" for i in rng.integers(0, 40, n)]
    ratings = [float(r) for r in rng.integers(1, 6, n)]
    return [{"user": u, "item": i} for u, i in zip(users, items, strict=True)], ratings


def engagement(n: int = 300, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """Impressions with click and dwell feedback (dwell only after a click)."""
    events = messy_events(n, seed)
    rng = np.random.default_rng(seed + 1)
    labels = []
    for x in events:
        click = float(rng.random() < 0.3 + 0.4 * (x.get("city") == "paris"))
        labels.append({"click": click, "dwell": float(rng.lognormal(2, 1)) if click else None})
    return events, labels
