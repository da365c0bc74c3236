"""Off-policy evaluation: what would a policy's reward have been, estimated from a log of
another policy's decisions (contexts, actions, rewards, the logger's propensities).

- **IPS**: the mean of w·r, w = π(a|x) / μ(a|x) (π: the evaluated policy, μ: the logger).
- **SNIPS**: Σ w·r / Σ w, self-normalized (less variance, a small bias).
- **DR** (doubly robust): the reward model's value of π plus the IPS-weighted correction of
  its error on the logged action: unbiased if either the propensities or the model are right.
- **Replay** (Li et al. 2011): on a uniformly random log, keep the events where the policy
  chooses the logged action; their mean reward is the policy's (learning only from them).

Each comes with a confidence interval (normal approximation; the delta method for SNIPS;
Wilson's score interval for replay's 0/1 rewards). A learning policy is evaluated
progressively: each logged event is scored by the policy as it stands before learning it.

>>> from streamlearn.datasets import obd
>>> from streamlearn.models import LinearBandit
>>> log = obd.load("random")
>>> table = evaluate_policy(LinearBandit(range(80), rule="greedy", explore=0.5), log)
>>> sorted(table)
['dr', 'ips', 'logged', 'replay', 'snips']
>>> bool(table["logged"].value == log.rewards.mean()), table["ips"].low < table["ips"].value
(True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Estimate:
    """A policy value with its confidence interval.

    Parameters
    ----------
    value
        The estimated value (mean reward per decision).
    low, high
        The confidence interval's bounds.
    n
        The logged decisions the estimate rests on.

    Example
    -------
    >>> wilson(30, 100)  # 30 successes in 100: Wilson's 95% interval
    Estimate(value=0.3, low=0.2189488529493276, high=0.3958485463334666, n=100)
    """

    value: float
    low: float
    high: float
    n: int

    def as_dict(self) -> dict[str, float]:
        return {"value": self.value, "low": self.low, "high": self.high, "n": self.n}


def _z(level: float) -> float:
    return NormalDist().inv_cdf(0.5 + level / 2)


def _mean_interval(values: np.ndarray, level: float) -> Estimate:
    n = len(values)
    mean = float(values.mean()) if n else math.nan
    half = _z(level) * float(values.std(ddof=1)) / math.sqrt(n) if n > 1 else math.inf
    return Estimate(mean, mean - half, mean + half, n)


def _weights(target: np.ndarray, propensities: np.ndarray) -> np.ndarray:
    propensities = np.asarray(propensities, np.float64)
    if not (propensities > 0).all():
        raise ValueError("every logged propensity must be > 0")
    return np.asarray(target, np.float64) / propensities


def ips(rewards, target, propensities, level: float = 0.95) -> Estimate:
    """``target``: the evaluated policy's probability of each logged action."""
    return _mean_interval(_weights(target, propensities) * np.asarray(rewards, float), level)


def snips(rewards, target, propensities, level: float = 0.95) -> Estimate:
    w = _weights(target, propensities)
    rewards = np.asarray(rewards, float)
    if w.sum() <= 0:
        return Estimate(math.nan, math.nan, math.nan, len(w))
    value = float((w * rewards).sum() / w.sum())
    # Delta method for a ratio of means.
    spread = float(np.sqrt(np.mean((w * (rewards - value)) ** 2)) / w.mean())
    half = _z(level) * spread / math.sqrt(len(w))
    return Estimate(value, value - half, value + half, len(w))


def doubly_robust(
    rewards, actions, probabilities, expected, propensities, level: float = 0.95
) -> Estimate:
    """``probabilities`` and ``expected``: the policy's probability and the reward model's
    prediction of every action (one column per action) for each logged event."""
    rows = np.arange(len(actions))
    actions = np.asarray(actions, np.int64)
    rewards = np.asarray(rewards, float)
    # A linear model of 0/1 clicks can stray outside what a reward can be: keep it inside.
    expected = np.clip(expected, rewards.min(), rewards.max())
    w = _weights(probabilities[rows, actions], propensities)
    direct = (probabilities * expected).sum(axis=1)
    correction = w * (rewards - expected[rows, actions])
    return _mean_interval(direct + correction, level)


def wilson(successes: float, n: int, level: float = 0.95) -> Estimate:
    """Wilson's score interval for a proportion (good with few successes)."""
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    z = _z(level)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return Estimate(p, centre - half, centre + half, n)


def _proportion_or_mean(rewards: np.ndarray, level: float) -> Estimate:
    if len(rewards) and np.isin(rewards, (0.0, 1.0)).all():
        return wilson(float(rewards.sum()), len(rewards), level)
    return _mean_interval(rewards, level)


def evaluate_policy(policy: Any, log: Any, level: float = 0.95) -> dict[str, Estimate]:
    """Every estimator for ``policy`` (a :class:`~streamlearn.models.LinearBandit` over the
    log's actions) on ``log`` (contexts, actions, rewards, propensities), and the logger's
    own value. The policy learns from the log as it goes; replay runs on a fresh clone.
    Replay is unbiased only on a uniformly random log."""
    actions = np.asarray(log.actions)
    rewards = np.asarray(log.rewards, np.float64)
    fresh = policy.clone()
    out = policy.learn_from_log(log.contexts, (actions, rewards), details=True)
    order = [policy.arm_ids.index(a) for a in range(int(actions.max()) + 1)]
    probabilities, expected = out.probabilities[:, order], out.expected[:, order]
    target = probabilities[np.arange(len(actions)), actions]
    replayed = fresh.replay_many(log.contexts, (actions, rewards))
    matched = np.array([arm == logged for arm, logged in zip(replayed.arms, actions, strict=True)])
    return {
        "logged": _proportion_or_mean(rewards, level),
        "ips": ips(rewards, target, log.propensities, level),
        "snips": snips(rewards, target, log.propensities, level),
        "dr": doubly_robust(rewards, actions, probabilities, expected, log.propensities, level),
        "replay": _proportion_or_mean(rewards[matched], level),
    }
