"""Linear contextual bandits: ε-greedy, LinUCB, Thompson sampling and softmax over arms
that come and go, every decision with its propensity.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from streamlearn.base import ServesRows, Task, register
from streamlearn.base.records import Rows, Schedule
from streamlearn.features.columns import as_columns, n_rows
from streamlearn.features.hasher import FeatureHasher
from streamlearn.models.bandit.arms import ArmModels
from streamlearn.models.bandit.kernel import (
    DECIDE,
    DECIDE_LEARN,
    LEARN,
    REPLAY,
    RULES,
    ArmPosteriors,
    Choices,
    Logged,
    Policy,
    run_bandit,
    run_bandit_ops,
)
from streamlearn.models.bandit.rows import rewards_to_learn, split_arm, with_arm
from streamlearn.models.bayes.kernel import Coordinates
from streamlearn.models.linear.base import target_array

DEFAULT_EXPLORE = {"greedy": 0.1, "ucb": 1.0, "thompson": 1.0, "softmax": 0.1}


@dataclass(frozen=True)
class Decision:
    """An arm chosen for a context, with the probability the policy gave it.

    Parameters
    ----------
    arm
        The arm chosen.
    propensity
        The probability the policy gave it (what off-policy evaluation divides by).
    probabilities
        Every arm's probability.

    Example
    -------
    >>> bandit = LinearBandit(arms=["a", "b"], seed=1)
    >>> bandit.decide_one({"user": "u1"})  # nothing learned yet: both arms alike
    Decision(arm='b', propensity=0.5, probabilities={'a': 0.5, 'b': 0.5})
    """

    arm: Hashable
    propensity: float
    probabilities: dict[Hashable, float]


@dataclass
class Outcomes:
    """What a batch of decisions gave.

    Parameters
    ----------
    arms
        The arm chosen for each event.
    propensities
        The probability the policy gave each.
    probabilities, expected
        When asked: every arm's probability and expected reward per event (one column per
        arm, in the policy's order of arms).

    Example
    -------
    >>> bandit = LinearBandit(arms=["a", "b"], seed=1)
    >>> out = bandit.decide_many({"user": ["u1", "u2", "u3"]})
    >>> len(out.arms), out.propensities.tolist()
    (3, [0.5, 0.5, 0.5])
    """

    arms: list[Hashable]
    propensities: np.ndarray
    probabilities: np.ndarray | None = None
    expected: np.ndarray | None = None

    @classmethod
    def empty(cls, n: int, n_arms: int, details: bool) -> Outcomes:
        """Room for ``n`` decisions among ``n_arms`` (their details too, if asked)."""
        detail = (lambda: np.zeros((n, n_arms))) if details else (lambda: None)
        return cls([], np.zeros(n), detail(), detail())


@register
class LinearBandit(ArmModels, ServesRows):
    """A contextual bandit with a linear (ridge / Bayesian) reward model per arm.

    Parameters
    ----------
    arms
        The arms at the start (ids: str or int); :meth:`add_arm` / :meth:`retire_arm` later.
    rule
        ``greedy`` (ε-greedy), ``ucb`` (LinUCB, disjoint), ``thompson`` (linear Thompson
        sampling) or ``softmax``.
    explore
        ε for greedy, the width c of LinUCB's bonus c·sd, the scale v of Thompson's draws,
        the temperature τ for softmax (defaults: 0.1, 1, 1, 0.1).
    draws
        Thompson sampling's extra draws to estimate a decision's propensity.
    alpha, forgetting, capacity, seed, arm_column
        The arms' reward models, as for :class:`~streamlearn.models.bandit.arms.ArmModels`.
    features, **feature_settings
        The context's featurizer (a :class:`~streamlearn.features.FeatureHasher` or its
        settings as a dict), or its settings one by one (``bits=18``, …).

    Example
    -------
    On the Open Bandit Dataset's uniformly logged impressions (real clicks on a fashion site),
    a LinUCB policy learns from the log, and its decisions are scored against the logged ones:

    >>> from streamlearn.datasets import obd
    >>> log = obd.load("random", limit=2000)
    >>> policy = LinearBandit(arms=range(80), rule="ucb", explore=0.5)
    >>> chosen, propensities = policy.predict_learn_many(log.contexts, (log.actions, log.rewards))
    >>> len(chosen), bool((propensities > 0).all()), policy.n_arms
    (2000, True, 80)
    >>> decision = policy.decide_one(log.context(0))
    >>> decision.arm in range(80), 0 < decision.propensity <= 1
    (True, True)
    """

    task = Task.BANDIT

    def __init__(
        self,
        arms: Iterable[Hashable] = (),
        *,
        rule: str = "ucb",
        explore: float | None = None,
        alpha: float = 1.0,
        forgetting: float = 1.0,
        capacity: int = 64,
        draws: int = 100,
        seed: int = 0,
        arm_column: str = "arm",
        features: FeatureHasher | Mapping[str, Any] | None = None,
        **feature_settings: Any,
    ) -> None:
        if rule not in RULES:
            raise ValueError(f"rule must be one of {sorted(RULES)}, got {rule!r}")
        explore = DEFAULT_EXPLORE[rule] if explore is None else float(explore)
        if not (math.isfinite(explore) and explore >= 0) or (rule == "greedy" and explore > 1):
            raise ValueError(
                f"explore must be a finite number >= 0 (<= 1 for greedy), got {explore!r}"
            )
        if rule == "softmax" and explore <= 0:
            raise ValueError("softmax needs a temperature > 0")
        if draws < 1:
            raise ValueError("need draws >= 1")
        self.rule, self.explore, self.draws = rule, explore, int(draws)
        self.served: Outcomes | None = None
        super().__init__(
            arms,
            alpha=alpha,
            forgetting=forgetting,
            capacity=capacity,
            seed=seed,
            arm_column=arm_column,
            features=features,
            feature_settings=feature_settings,
        )
        self._hyper = np.array([self.alpha, 1.0, self.forgetting, self.explore, self.draws])

    # ------------------------------------------------------------------ contract
    def params(self) -> dict[str, Any]:
        return super().params() | {
            "rule": self.rule,
            "explore": self.explore,
            "draws": self.draws,
        }

    # ------------------------------------------------------------------ the loop
    def _loop(self, hashes, values, slots, targets, mode: int, out: Outcomes) -> None:
        n = len(hashes)
        arms = np.full(n, -1, np.int64)
        none = np.zeros((0, len(self.arm_ids)))
        choices = Choices(
            arms,
            out.propensities,
            none if out.probabilities is None else out.probabilities,
            none if out.expected is None else out.expected,
        )
        policy = Policy(RULES[self.rule], self.active, self.rng)
        rows, logged = Rows(hashes, values), Logged(slots, targets)
        run_bandit(rows, logged, self._posteriors(), self._hyper, policy, mode, choices)
        out.arms = [self.arm_ids[i] if i >= 0 else None for i in arms]

    def _run(self, X: Any, logged: Any, rewards: Any, mode: int, details: bool) -> Outcomes:
        columns = {k: v for k, v in as_columns(X).items() if k != self.arm_column}
        n = n_rows(columns)
        learn = mode != DECIDE
        slots = self._slots(logged, n) if learn else np.zeros(n, np.int64)
        targets = target_array(rewards, n) if learn else np.zeros(n)
        whole = Outcomes.empty(n, len(self.arm_ids), details)
        if learn:
            self._cached = None
        for start, stop, hashes, values in self._encoded_chunks(columns, n, learn):
            part = Outcomes.empty(stop - start, len(self.arm_ids), details)
            self._loop(hashes, values, slots[start:stop], targets[start:stop], mode, part)
            whole.arms += part.arms
            whole.propensities[start:stop] = part.propensities
            if details:
                whole.probabilities[start:stop] = part.probabilities
                whole.expected[start:stop] = part.expected
        return whole

    def _one(
        self, x: Mapping[str, Any], arm: Hashable | None, reward: float, mode: int
    ) -> Outcomes:
        slot = np.array([self._slot(arm) if arm is not None else 0], np.int64)
        if self.arm_column in x:  # the arm is never part of the context
            x = {k: v for k, v in x.items() if k != self.arm_column}
        event = self._encode(x)
        out = Outcomes.empty(1, len(self.arm_ids), details=mode == DECIDE)
        self._loop(
            event.hashes[None, :], event.values[None, :], slot, np.array([reward]), mode, out
        )
        if mode != DECIDE:
            self.features.learn_one(event)
            self._cached = None
        return out

    # ------------------------------------------------------------------ decisions
    def decide_one(self, x: Mapping[str, Any]) -> Decision:
        """Choose an arm for context ``x``; the decision's propensity is logged with it."""
        out = self._one(x, None, 0.0, DECIDE)
        if out.arms[0] is None:
            raise ValueError("no arm to choose: add one first")
        probabilities = dict(zip(self.arm_ids, out.probabilities[0].tolist(), strict=True))
        return Decision(out.arms[0], float(out.propensities[0]), probabilities)

    def decide_many(self, X: Any, details: bool = False) -> Outcomes:
        """Decisions for a batch of contexts, the same as ``decide_one`` on each in order."""
        return self._run(X, None, None, DECIDE, details)

    def replay_many(self, X: Any, y: tuple[Any, Any], details: bool = False) -> Outcomes:
        """Li et al.'s replay on a uniformly logged batch: decide each event, and learn it
        only when the choice is the logged arm."""
        return self._run(X, y[0], y[1], REPLAY, details)

    def learn_from_log(self, X: Any, y: tuple[Any, Any], details: bool = True) -> Outcomes:
        """Off-policy learning from a log, keeping what off-policy evaluation needs: decide
        each event (with every arm's probability and expected reward), then learn its
        logged (arm, reward)."""
        return self._run(X, y[0], y[1], DECIDE_LEARN, details)

    def expected_rewards_one(self, x: Mapping[str, Any]) -> dict[Hashable, float]:
        """Each arm's expected reward for context ``x`` (its model's mean)."""
        out = self._one(x, None, 0.0, DECIDE)
        return dict(zip(self.arm_ids, out.expected[0].tolist(), strict=True))

    # ------------------------------------------------------------------ learning
    def learn_one(self, x: Mapping[str, Any], y: tuple[Hashable, float]) -> None:
        """``y`` = (arm pulled, reward observed)."""
        arm, reward = _feedback(y)
        self._one(x, arm, reward, LEARN)

    def learn_many(self, X: Any, y: tuple[Any, Any]) -> None:
        """``y`` = (arms pulled, rewards), one per event."""
        self._run(X, y[0], y[1], LEARN, details=False)

    # ------------------------------------------------------------------ the runner
    def serve_many(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Rows for the runner: the context's hashed features plus a last slot holding the
        arm served — the ``arm_column``'s (chosen elsewhere: a log, the HTTP API), or else
        the policy's own decision, kept with its propensity in :attr:`served`."""
        columns = dict(as_columns(X))
        given = columns.pop(self.arm_column, None)
        n = n_rows(columns) if columns else (len(given) if given is not None else 0)
        self._cached = None
        hashes, values = (
            self.features.encode_many(columns, learn=True)
            if columns
            else (np.zeros((n, 0), np.uint32), np.zeros((n, 0)))
        )
        if given is not None:
            slots = self._slots(given, n)
            self.served = Outcomes([self.arm_ids[i] for i in slots], np.full(n, np.nan))
        else:
            self.served = Outcomes.empty(n, len(self.arm_ids), details=False)
            self._loop(hashes, values, np.zeros(n, np.int64), np.zeros(n), DECIDE, self.served)
            if any(arm is None for arm in self.served.arms):
                raise ValueError("no arm to choose: add one first")
            slots = np.array([self.arm_ids.index(a) for a in self.served.arms], np.int64)
        return with_arm(hashes, values, slots)

    def run_ops(self, hashes, values, ops, op_rows, targets) -> np.ndarray:
        """A runner schedule over served rows: PREDICT gives the served arm's expected
        reward, LEARN updates that arm with the reward."""
        hashes, values, slots = split_arm(hashes, values, len(self.arm_ids))
        out = np.empty(len(ops))
        rewards = rewards_to_learn(ops, targets)
        ops, op_rows = np.asarray(ops, np.int8), np.asarray(op_rows, np.int64)
        self._ops(hashes, values, slots, rewards, ops, op_rows, out)
        return out

    def _ops(self, hashes, values, slots, targets, ops, op_rows, out) -> None:
        schedule = Schedule(ops, op_rows, targets)
        run_bandit_ops(Rows(hashes, values), slots, schedule, self._posteriors(), self._hyper, out)

    def _posteriors(self) -> ArmPosteriors:
        return ArmPosteriors(self.means, self.covs, Coordinates(self.keys, self.coords, self.used))

    def predict_one(self, x: Mapping[str, Any]) -> Hashable:
        return self.decide_one(x).arm

    def predict_many(self, X: Any) -> np.ndarray:
        return np.array(self.decide_many(X).arms, dtype=object)

    def predict_learn_many(self, X: Any, y: tuple[Any, Any]) -> tuple[list, np.ndarray]:
        """Off-policy learning from a log: decide each event (arm and propensity), then learn
        its logged (arm, reward)."""
        out = self.learn_from_log(X, y, details=False)
        return out.arms, out.propensities


def _feedback(y: Any) -> tuple[Hashable, float]:
    try:
        arm, reward = y
    except (TypeError, ValueError):
        raise ValueError(f"bandit feedback is (arm, reward), got {y!r}") from None
    if isinstance(reward, bool) or not isinstance(reward, int | float | np.number):
        raise ValueError(f"a reward must be a number, got {reward!r}")
    if not math.isfinite(float(reward)):
        raise ValueError(f"a reward must be finite, got {reward!r}")
    return arm, float(reward)
