"""The reward models of a bandit's arms: one Bayesian linear model per arm over the hashed
context, arms that come and go (a retired arm keeps its model), and their state. The
policies (:mod:`streamlearn.models.bandit.policy`) decide with them."""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from typing import Any, Self

import numpy as np

from streamlearn.base import State
from streamlearn.base.state import restore_arrays
from streamlearn.features.hasher import FeatureHasher
from streamlearn.models.bayes.kernel import Coordinates
from streamlearn.models.hashed import HashedModel


class ArmModels(HashedModel):
    """Per-arm reward models (the part of a bandit that its policy reads and updates).

    Parameters
    ----------
    arms
        The arms at the start (ids: str or int).
    alpha
        Prior precision of the weights (LinUCB's ridge λ).
    forgetting
        Below 1 each arm's model discounts its past (for drifting rewards).
    capacity
        Distinct context features each arm's model holds.
    seed
        Seeds the decisions' random numbers (part of the state) and the context's hashing
        unless the features say otherwise.
    arm_column
        The column of a logged event naming the arm that was played.
    features, feature_settings
        The context's featurizer, or its settings.

    Example
    -------
    >>> from streamlearn.models.bandit import LinearBandit
    >>> bandit = LinearBandit(arms=["a", "b"])
    >>> bandit.retire_arm("a"); bandit.arms, bandit.n_arms
    (['b'], 1)
    >>> bandit.add_arm("a"); bandit.arms
    ['a', 'b']
    """

    def __init__(
        self,
        arms: Iterable[Hashable] = (),
        *,
        alpha: float,
        forgetting: float,
        capacity: int,
        seed: int,
        arm_column: str,
        features: FeatureHasher | Mapping[str, Any] | None,
        feature_settings: dict[str, Any],
    ) -> None:
        if not (alpha > 0 and math.isfinite(alpha)) or not 0 < forgetting <= 1:
            raise ValueError("need alpha > 0 and forgetting in (0, 1]")
        if not 1 <= capacity <= 4096:
            raise ValueError("need capacity in [1, 4096]")
        super().__init__(features, feature_settings, seed=seed)
        self.alpha, self.forgetting, self.capacity = float(alpha), float(forgetting), int(capacity)
        self.seed, self.arm_column = int(seed), arm_column
        self.keys, self.coords, self.used = Coordinates.empty(self.capacity)
        self.rng = np.array([self.seed], np.uint64)
        self.arm_ids: list[Hashable] = []
        for name, fresh in self._new_arm().items():
            setattr(self, name, np.zeros((0, *fresh.shape)))
        self.active = np.zeros(0, np.bool_)
        for arm in arms:
            self.add_arm(arm)
        self._initial_arms = list(self.arm_ids)

    # ------------------------------------------------------------------ arms
    def add_arm(self, arm: Hashable) -> None:
        """A new arm (its model starts at the prior); a retired one comes back as it was."""
        _check_arm(arm)
        if arm in self.arm_ids:
            self.active[self.arm_ids.index(arm)] = True
            return
        self.arm_ids.append(arm)
        for name, fresh in self._new_arm(arm).items():
            setattr(self, name, np.concatenate([getattr(self, name), fresh[None]]))
        self.active = np.append(self.active, True)

    def _new_arm(self, arm: Hashable | None = None) -> dict[str, np.ndarray]:
        """Each per-arm array's entry for a new arm (its model at the prior)."""
        dims = self.capacity + 1
        return {"means": np.zeros(dims), "covs": np.eye(dims) / self.alpha}

    def _model_arrays(self) -> dict[str, np.ndarray]:
        """The arrays of the arms' models (checkpointed, checked on load)."""
        return {"means": self.means, "covs": self.covs}

    def retire_arm(self, arm: Hashable) -> None:
        """The arm is no longer chosen; its model is kept (it may come back)."""
        self.active[self._slot(arm)] = False

    @property
    def arms(self) -> list[Hashable]:
        """The arms that can be chosen now."""
        return [arm for arm, on in zip(self.arm_ids, self.active, strict=True) if on]

    @property
    def n_arms(self) -> int:
        return int(self.active.sum())

    def _slot(self, arm: Hashable) -> int:
        try:
            return self.arm_ids.index(arm)
        except ValueError:
            raise KeyError(f"unknown arm {arm!r}") from None

    def params(self) -> dict[str, Any]:
        return {
            "arms": list(self._initial_arms),
            "alpha": self.alpha,
            "forgetting": self.forgetting,
            "capacity": self.capacity,
            "seed": self.seed,
            "arm_column": self.arm_column,
            "features": self.features.params(),
        }

    def state(self) -> State:
        arrays, meta = self.features.state()
        arrays |= {name: array.copy() for name, array in self._model_arrays().items()}
        arrays |= {
            "keys": self.keys.copy(),
            "coords": self.coords.copy(),
            "used": self.used.copy(),
            "active": self.active.astype(np.uint8),
            "rng": self.rng.copy(),
        }
        return State(type(self).__name__, self.params(), arrays, meta | {"arm_ids": self.arm_ids})

    @classmethod
    def from_state(cls, state: State) -> Self:
        if state.kind != cls.__name__:
            raise ValueError(f"state of a {state.kind} cannot make a {cls.__name__}")
        model = cls(**state.params)
        for arm in state.meta["arm_ids"]:  # arms added after the start: arrays of their shape
            model.add_arm(arm)
        expected = model._model_arrays() | {
            "keys": model.keys,
            "coords": model.coords,
            "used": model.used,
            "active": model.active,
            "rng": model.rng,
        }
        restore_arrays(model, expected, state.arrays)
        model.arm_ids = list(state.meta["arm_ids"])
        model.features.load_state(state.arrays, state.meta)
        return model

    def _slots(self, arms: Any, n: int) -> np.ndarray:
        if hasattr(arms, "to_pylist"):
            arms = arms.to_pylist()
        values = arms.tolist() if hasattr(arms, "tolist") else list(arms)
        if len(values) != n:
            raise ValueError(f"expected {n} arms, got {len(values)}")
        return np.array([self._slot(arm) for arm in values], np.int64)


def _check_arm(arm: Hashable) -> None:
    if isinstance(arm, bool) or not isinstance(arm, str | int):
        raise TypeError(f"an arm id must be a str or an int, got {arm!r}")
