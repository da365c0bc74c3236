"""The Open Bandit Dataset sample: real impressions and clicks from ZOZOTOWN, a fashion
e-commerce site, logged by a uniform-random policy (``random``) and by Bernoulli Thompson
sampling (``bts``): 10,000 impressions each, 80 items shown in 3 positions, with the
logging policy's propensity for every shown item. Saito et al. 2020, "Open Bandit Dataset
and Pipeline"; CC BY 4.0; the sample shipped with the ``obp`` package, embedded here.

The context of an impression is the user's four (hashed) categorical features and the
position; the action is the item shown; the reward is the click.

>>> from streamlearn.datasets import obd
>>> log = obd.load("random")
>>> len(log), log.n_actions, sorted(log.context(0))
(10000, 80, ['position', 'user_feature_0', 'user_feature_1', 'user_feature_2', 'user_feature_3'])
>>> float(round(log.rewards.mean(), 4)), float(log.propensities[0])  # click rate; 1/80
(0.0038, 0.0125)
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

POLICIES = ("random", "bts")
CONTEXT = ("user_feature_0", "user_feature_1", "user_feature_2", "user_feature_3", "position")


@dataclass
class BanditLog:
    """Logged decisions of a bandit policy.

    Parameters
    ----------
    contexts
        The context of each decision, by column.
    actions
        The action taken (``0 .. n_actions - 1``).
    rewards
        The reward it got.
    propensities
        The probability the logging policy gave the action taken.
    n_actions
        How many actions there were to choose from.

    Example
    -------
    >>> log = load("random", limit=500)
    >>> len(log.actions), log.n_actions, bool((log.propensities > 0).all())
    (500, 80, True)
    """

    contexts: dict[str, np.ndarray]
    actions: np.ndarray
    rewards: np.ndarray
    propensities: np.ndarray
    n_actions: int

    def __len__(self) -> int:
        return len(self.actions)

    def context(self, i: int) -> dict[str, Any]:
        return {name: column[i] for name, column in self.contexts.items()}

    def slice(self, start: int, stop: int) -> BanditLog:
        part = slice(start, stop)
        return BanditLog(
            {k: v[part] for k, v in self.contexts.items()},
            self.actions[part],
            self.rewards[part],
            self.propensities[part],
            self.n_actions,
        )


def item_features(policy: str = "random") -> dict[int, dict[str, float]]:
    """Each item's features: ``item_feature_0`` (a number) and one-hot categories
    (``item_feature_1=…``, …), for models that share what they learn across items."""
    table = pacsv.read_csv(path(policy).with_name(f"obd-{policy}-all-item_context.csv.gz"))
    features = {}
    for row in table.to_pylist():
        one_hot = {f"item_feature_{j}={row[f'item_feature_{j}']}": 1.0 for j in (1, 2, 3)}
        features[int(row["item_id"])] = {"item_feature_0": float(row["item_feature_0"])} | one_hot
    return features


def item_feature_names(policy: str = "random") -> list[str]:
    """The names :func:`item_features` uses, sorted."""
    return sorted({name for f in item_features(policy).values() for name in f})


def path(policy: str = "random") -> Path:
    """The embedded CSV file of one logging policy (gzip)."""
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
    return Path(str(files("streamlearn.datasets") / f"obd-{policy}-all.csv.gz"))


def load(policy: str = "random", limit: int | None = None, source: Path | None = None) -> BanditLog:
    """The log of ``policy`` (or the same file format at ``source``), in time order."""
    options = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in CONTEXT},
        include_columns=[*CONTEXT, "item_id", "click", "propensity_score"],
    )
    table = pacsv.read_csv(source or path(policy), convert_options=options)
    if limit is not None:
        table = table.slice(0, limit)
    contexts = {name: np.asarray(table[name].to_pylist(), dtype=object) for name in CONTEXT}
    actions = table["item_id"].to_numpy().astype(np.int64)
    return BanditLog(
        contexts,
        actions,
        table["click"].to_numpy().astype(np.float64),
        table["propensity_score"].to_numpy().astype(np.float64),
        int(actions.max()) + 1,
    )
