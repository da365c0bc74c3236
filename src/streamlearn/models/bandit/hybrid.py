"""LinUCB with hybrid linear models (Li et al. 2010): a shared part over the arms' own
features, so that a new arm starts from what similar arms earned, plus a part per arm.

On the Open Bandit Dataset the arms are items with features of their own (a price-like
number and three categories, hashed): a new item's expected click rate starts from the
items that share them.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import numpy as np

from streamlearn.base import register
from streamlearn.base.records import Rows
from streamlearn.features.hasher import FeatureHasher
from streamlearn.models.bandit.hybrid_kernel import HybridModels, run_hybrid
from streamlearn.models.bandit.kernel import DECIDE, LEARN, UCB, Choices, Logged, Policy
from streamlearn.models.bandit.policy import LinearBandit, Outcomes
from streamlearn.models.bayes.kernel import Coordinates


@register
class HybridLinUCB(LinearBandit):
    """LinUCB (hybrid): reward = z_a'β + x'θ_a, with β shared over the arms' features z_a.

    Parameters
    ----------
    arms
        The arms at the start.
    shared
        The names of the arm features that make up z_a (k numbers per arm).
    arm_features
        Each arm's features (name → number); a missing one counts as 0.
    explore
        The width c of the confidence bonus.
    capacity, seed, arm_column, features, **feature_settings
        As for :class:`LinearBandit`.

    Example
    -------
    >>> from streamlearn.datasets import obd
    >>> log, items = obd.load("random"), obd.item_features()
    >>> policy = HybridLinUCB(arms=range(80), shared=obd.item_feature_names(),
    ...                       arm_features=items, explore=0.1, capacity=32)
    >>> chosen, propensities = policy.predict_learn_many(log.contexts, (log.actions, log.rewards))
    >>> policy.add_arm("new", features=items[3])  # a new item with item 3's features
    >>> expected = policy.expected_rewards_one(log.context(0))
    >>> bool(expected["new"] != 0.0)  # not a blank slate: the shared part knows its features
    True
    """

    def __init__(
        self,
        arms: Iterable[Hashable] = (),
        *,
        shared: Iterable[str] = (),
        arm_features: Mapping[Hashable, Mapping[str, float]] | None = None,
        explore: float = 1.0,
        capacity: int = 64,
        seed: int = 0,
        arm_column: str = "arm",
        features: FeatureHasher | Mapping[str, Any] | None = None,
        **feature_settings: Any,
    ) -> None:
        self.shared = list(shared)
        self.arm_features = {arm: dict(f) for arm, f in _pairs(arm_features or {})}
        k = len(self.shared)
        self.a0, self.a0_inv, self.b0 = np.eye(k), np.eye(k), np.zeros(k)
        super().__init__(
            arms,
            rule="ucb",
            explore=explore,
            capacity=capacity,
            draws=1,
            seed=seed,
            arm_column=arm_column,
            features=features,
            **feature_settings,
        )

    def add_arm(self, arm: Hashable, features: Mapping[str, float] | None = None) -> None:
        """A new arm, with its features (a retired one comes back as it was)."""
        if features is not None and arm not in self.arm_ids:
            self.arm_features[arm] = dict(features)
        super().add_arm(arm)

    def _new_arm(self, arm: Hashable | None = None) -> dict[str, np.ndarray]:
        d, k = self.capacity + 1, len(self.shared)
        features = self.arm_features.get(arm, {})
        z = np.array([float(features.get(name, 0.0)) for name in self.shared])
        if not np.isfinite(z).all():
            raise ValueError(f"arm {arm!r} has a non-finite feature")
        return {"a_inv": np.eye(d), "bm": np.zeros((d, k)), "b": np.zeros(d), "z": z}

    def _model_arrays(self) -> dict[str, np.ndarray]:
        return {
            "a_inv": self.a_inv,
            "bm": self.bm,
            "b": self.b,
            "z": self.z,
            "a0": self.a0,
            "a0_inv": self.a0_inv,
            "b0": self.b0,
        }

    def params(self) -> dict[str, Any]:
        base = super().params()
        for name in ("rule", "alpha", "forgetting", "draws"):
            del base[name]
        initial = [
            [arm, self.arm_features[arm]] for arm in base["arms"] if arm in self.arm_features
        ]
        return base | {"shared": list(self.shared), "arm_features": initial}

    def _loop(self, hashes, values, slots, targets, mode: int, out: Outcomes) -> None:
        arms = np.full(len(hashes), -1, np.int64)
        none = np.zeros((0, len(self.arm_ids)))
        choices = Choices(
            arms,
            out.propensities,
            none if out.probabilities is None else out.probabilities,
            none if out.expected is None else out.expected,
        )
        models = HybridModels(self.z, self.a_inv, self.bm, self.b, self.a0, self.a0_inv, self.b0)
        table = Coordinates(self.keys, self.coords, self.used)
        policy = Policy(UCB, self.active, self.rng)
        rows, logged = Rows(hashes, values), Logged(slots, targets)
        run_hybrid(rows, logged, models, table, self.explore, policy, mode, choices)
        out.arms = [self.arm_ids[i] if i >= 0 else None for i in arms]

    def _ops(self, hashes, values, slots, targets, ops, op_rows, out) -> None:
        for k, (op, row) in enumerate(zip(ops.tolist(), op_rows.tolist(), strict=True)):
            one = slice(row, row + 1)
            # The expected reward, before learning.
            decided = Outcomes.empty(1, len(self.arm_ids), details=True)
            self._loop(hashes[one], values[one], slots[one], targets[k : k + 1], DECIDE, decided)
            out[k] = decided.expected[0, slots[row]]
            if op != 0:  # not the runner's PREDICT
                learned = Outcomes.empty(1, len(self.arm_ids), details=False)
                self._loop(hashes[one], values[one], slots[one], targets[k : k + 1], LEARN, learned)


def _pairs(features: Any) -> Iterable[tuple[Hashable, Mapping[str, float]]]:
    """A mapping arm → features, or (from a snapshot's JSON) a list of [arm, features]."""
    return features.items() if isinstance(features, Mapping) else (tuple(p) for p in features)
