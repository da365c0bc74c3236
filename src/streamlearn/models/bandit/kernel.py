"""Compiled decisions and updates of linear contextual bandits.

Every arm has a Bayesian linear model of its reward (ridge regression: prior precision
``alpha``, unit noise), updated by the rank-one posterior step of
:mod:`streamlearn.models.bayes.kernel`; all arms share one map from feature hashes to
coordinates. For a context x, arm a's reward has mean x'θ_a and variance x'Σ_a x — LinUCB's
θ and A⁻¹ — and each rule turns these into a choice and its probability:

- ``greedy`` (ε-greedy): the best mean with probability 1 - ε, else a uniform arm;
- ``ucb`` (LinUCB, disjoint): the best mean + c·sd, ties broken uniformly;
- ``thompson``: the best of one draw from each arm's N(x'θ_a, v²·x'Σ_a x); its propensity
  is estimated from these and ``draws`` further draws (as the Open Bandit Dataset's
  logger does), so it is never 0;
- ``softmax``: an arm drawn with probability ∝ exp(x'θ_a / τ).

Randomness comes from a SplitMix64 generator whose 64-bit state is part of the model, so a
snapshot resumes the same sequence of decisions, and batches equal one-event calls.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba as nb
import numpy as np

from streamlearn.models.bayes.kernel import Coordinates, full_event, scratch

GREEDY, UCB, THOMPSON, SOFTMAX = 0, 1, 2, 3
RULES = {"greedy": GREEDY, "ucb": UCB, "thompson": THOMPSON, "softmax": SOFTMAX}
EXPLORE, DRAWS = 3, 4  # hyper-parameters after the posterior's (alpha, noise, forgetting)
DECIDE, LEARN, DECIDE_LEARN, REPLAY = 0, 1, 2, 3


class ArmPosteriors(NamedTuple):
    """Every arm's Gaussian posterior over the coordinates of one shared ``table``.

    Parameters
    ----------
    means
        ``(arms, d)`` posterior means.
    covs
        ``(arms, d, d)`` posterior covariances.
    table
        The hashes' coordinates, shared by the arms.

    Example
    -------
    >>> import numpy as np
    >>> arms = ArmPosteriors(np.zeros((2, 4)), np.stack([np.eye(4)] * 2), Coordinates.empty(3))
    >>> arms.covs.shape
    (2, 4, 4)
    """

    means: np.ndarray
    covs: np.ndarray
    table: Coordinates


class Policy(NamedTuple):
    """How arms are chosen: the rule, the arms that can be, and the generator's state.

    Parameters
    ----------
    rule
        One of :data:`RULES`' codes.
    active
        Per arm, whether it can be chosen.
    rng
        The SplitMix64 state (one ``uint64``).

    Example
    -------
    >>> import numpy as np
    >>> Policy(RULES["ucb"], np.ones(3, np.bool_), np.array([7], np.uint64)).rule
    1
    """

    rule: int
    active: np.ndarray
    rng: np.ndarray


class Logged(NamedTuple):
    """Per event, the arm a log played and the reward it earned.

    Parameters
    ----------
    arms
        The arms' slots.
    rewards
        The rewards.

    Example
    -------
    >>> import numpy as np
    >>> Logged(np.array([0, 2]), np.array([1.0, 0.0])).arms.tolist()
    [0, 2]
    """

    arms: np.ndarray
    rewards: np.ndarray


class Choices(NamedTuple):
    """What a policy chose, filled per event.

    Parameters
    ----------
    arms
        The arm's slot (-1 when none could be chosen).
    propensities
        Its probability.
    probabilities
        ``(n, arms)`` every arm's probability; empty (0 rows) when not wanted.
    expected
        ``(n, arms)`` every arm's expected reward; empty when not wanted.

    Example
    -------
    >>> import numpy as np
    >>> none = np.zeros((0, 3))
    >>> Choices(np.full(2, -1), np.zeros(2), none, none).arms.tolist()
    [-1, -1]
    """

    arms: np.ndarray
    propensities: np.ndarray
    probabilities: np.ndarray
    expected: np.ndarray


@nb.njit(inline="always")
def _next(rng):
    rng[0] += np.uint64(0x9E3779B97F4A7C15)
    z = rng[0]
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@nb.njit(inline="always")
def _uniform(rng):
    """A float in [0, 1) from the top 53 bits."""
    return float(_next(rng) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@nb.njit(inline="always")
def _normal(rng):
    u = 1.0 - _uniform(rng)  # (0, 1]: the log is finite
    return math.sqrt(-2.0 * math.log(u)) * math.cos(2.0 * math.pi * _uniform(rng))


@nb.njit(inline="always")
def _pick(rng, weights, active):
    """An index drawn with probability ∝ weights (over active arms)."""
    total = 0.0
    for a in range(weights.shape[0]):
        if active[a]:
            total += weights[a]
    target = _uniform(rng) * total
    last = -1
    for a in range(weights.shape[0]):
        if active[a] and weights[a] > 0.0:
            last = a
            target -= weights[a]
            if target < 0.0:
                return a
    return last


@nb.njit(inline="always")
def _best(values, active, ties):
    """Mark the arms with the highest value in ``ties``; returns how many."""
    top = -np.inf
    for a in range(values.shape[0]):
        if active[a] and values[a] > top:
            top = values[a]
    count = 0
    for a in range(values.shape[0]):
        ties[a] = active[a] and values[a] == top
        count += ties[a]
    return count


@nb.njit(inline="always")
def _estimates(n_arms):
    """Work arrays of :func:`_decide`: per arm mean, sd, probability, score and tie."""
    return (
        np.empty(n_arms),
        np.empty(n_arms),
        np.empty(n_arms),
        np.empty(n_arms),
        np.empty(n_arms, np.bool_),
    )


@nb.njit(inline="always")
def _decide(hashes, values, posteriors, hp, policy, estimates, work):
    """Choose an arm for one context; ``estimates``' probabilities get every arm's
    probability, its means every arm's expected reward."""
    means, covs, table = posteriors
    rule, active, rng = policy
    mu, sd, probs, score, ties = estimates
    n_active = 0
    for a in range(means.shape[0]):
        if active[a]:
            mu[a], variance = full_event(
                hashes, values, 0.0, means[a], covs[a], table, hp, False, work
            )
            sd[a] = math.sqrt(max(variance - hp[1], 0.0))
            n_active += 1
        probs[a] = 0.0
    if n_active == 0:
        return -1
    for a in range(means.shape[0]):
        score[a] = mu[a] + hp[EXPLORE] * sd[a] if rule == UCB else mu[a]
    if rule in (GREEDY, UCB):
        count = _best(score, active, ties)
        explore = hp[EXPLORE] if rule == GREEDY else 0.0
        for a in range(means.shape[0]):
            if active[a]:
                probs[a] = explore / n_active + (1.0 - explore) * ties[a] / count
        return _pick(rng, probs, active)
    if rule == SOFTMAX:
        top = -np.inf
        for a in range(means.shape[0]):
            if active[a]:
                top = max(top, mu[a] / hp[EXPLORE])
        total = 0.0
        for a in range(means.shape[0]):
            if active[a]:
                probs[a] = math.exp(mu[a] / hp[EXPLORE] - top)
                total += probs[a]
        for a in range(means.shape[0]):
            probs[a] /= total
        return _pick(rng, probs, active)
    # Thompson sampling: one draw decides; more draws estimate the propensities.
    draws = int(hp[DRAWS])
    chosen = -1
    for d in range(draws + 1):
        top, winner = -np.inf, -1
        for a in range(means.shape[0]):
            if active[a]:
                sample = mu[a] + hp[EXPLORE] * sd[a] * _normal(rng)
                if sample > top:
                    top, winner = sample, a
        if d == 0:
            chosen = winner
        probs[winner] += 1.0 / (draws + 1)
    return chosen


@nb.njit(nogil=True, cache=True)
def run_bandit(rows, logged, posteriors, hp, policy, mode, choices):
    """Events in order. ``mode`` DECIDE: choose an arm for each context (the model does not
    change). LEARN: the ``logged`` arm's reward updates its posterior. DECIDE_LEARN:
    choose, then learn the logged arm (off-policy learning from a log). REPLAY: choose,
    and learn only when the choice is the logged arm (Li et al.'s replay). ``choices``'
    probabilities and expected rewards are filled when not empty."""
    means, covs, table = posteriors
    estimates = _estimates(means.shape[0])
    mu, probs = estimates[0], estimates[2]
    work = scratch(rows.hashes.shape[1], covs.shape[1])
    for e in range(rows.hashes.shape[0]):
        arm = -1
        if mode != LEARN:
            arm = _decide(rows.hashes[e], rows.values[e], posteriors, hp, policy, estimates, work)
            choices.arms[e] = arm
            choices.propensities[e] = probs[arm] if arm >= 0 else 0.0
            if choices.probabilities.shape[0]:
                choices.probabilities[e] = probs
            if choices.expected.shape[0]:
                choices.expected[e] = mu
        if mode == DECIDE or (mode == REPLAY and arm != logged.arms[e]):
            continue
        a = logged.arms[e]
        predicted, _ = full_event(
            rows.hashes[e],
            rows.values[e],
            logged.rewards[e],
            means[a],
            covs[a],
            table,
            hp,
            True,
            work,
        )
        if mode == LEARN:
            choices.arms[e] = a
            choices.propensities[e] = predicted


@nb.njit(nogil=True, cache=True)
def run_bandit_ops(rows, slots, schedule, posteriors, hp, out):
    """A runner schedule: each operation's row was served with arm ``slots[row]``; PREDICT
    gives that arm's expected reward, LEARN updates it with the reward in the schedule's
    targets."""
    means, covs, table = posteriors
    work = scratch(rows.hashes.shape[1], covs.shape[1])
    for k in range(schedule.ops.shape[0]):
        row = schedule.rows[k]
        a = slots[row]
        learn = schedule.ops[k] != 0
        out[k], _ = full_event(
            rows.hashes[row],
            rows.values[row],
            schedule.targets[k],
            means[a],
            covs[a],
            table,
            hp,
            learn,
            work,
        )
