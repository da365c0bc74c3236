"""Elec2: the New South Wales electricity market, 1996–1998, in 30-minute periods.

45,312 events; features ``feat_1..feat_6`` (period, nswprice, nswdemand, vicprice, vicdemand,
transfer, normalized to [0, 1]); ``target`` is 1 when the price went up. The classic
concept-drift benchmark (Harries 1999), as shipped by scikit-multiflow; embedded here.

>>> from streamlearn.datasets import elec2
>>> x, y = next(iter(elec2.stream()))
>>> sorted(x), y
(['feat_1', 'feat_2', 'feat_3', 'feat_4', 'feat_5', 'feat_6'], True)
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

import numpy as np

TARGET = "target"
N_EVENTS = 45312


def path() -> Path:
    """The embedded CSV file (gzip)."""
    return Path(str(files("streamlearn.datasets") / "elec2.csv.gz"))


def stream(limit: int | None = None) -> Iterator[tuple[dict[str, float], bool]]:
    """Events as ``(features, label)`` in time order, as River's datasets yield them."""
    with gzip.open(path(), "rt", newline="") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            if limit is not None and i >= limit:
                return
            label = row.pop(TARGET) == "1"
            yield {k: float(v) for k, v in row.items()}, label


def column(name: str = TARGET) -> np.ndarray:
    """One column, in time order: a feature's numbers, or ``target`` as booleans.

    >>> up = column()
    >>> len(up), round(float(up.mean()), 3)
    (45312, 0.425)
    """
    with gzip.open(path(), "rt", newline="") as fh:
        values = [row[name] for row in csv.DictReader(fh)]
    if name == TARGET:
        return np.array([v == "1" for v in values])
    return np.array(values, np.float64)


def no_change_errors() -> np.ndarray:
    """The mistakes of the "no change" forecast (the next move is the last one), event by
    event: a stream of 0/1 errors that rises where the market turns, for drift detectors."""
    up = column()
    return up[1:] != up[:-1]


def demand(limit: int | None = None) -> Iterator[tuple[dict[str, float], float]]:
    """Elec2 as a regression stream: the New South Wales demand (``feat_3``) from the other
    columns."""
    for x, _ in stream(limit):
        yield x, x.pop("feat_3")


def moves(limit: int | None = None) -> Iterator[tuple[dict[str, float], str]]:
    """Elec2 as a three-class stream, from the columns but the demand: ``"peak"`` when the
    demand (``feat_3``) is above 0.65, else whether the price went ``"up"`` or ``"down"``."""
    for x, up in stream(limit):
        peak = x.pop("feat_3") > 0.65
        yield x, "peak" if peak else "up" if up else "down"
