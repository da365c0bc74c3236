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

import numba as nb
import numpy as np

from streamlearn.models.bayes.kernel import _full_event

GREEDY, UCB, THOMPSON, SOFTMAX = 0, 1, 2, 3
RULES = {"greedy": GREEDY, "ucb": UCB, "thompson": THOMPSON, "softmax": SOFTMAX}
EXPLORE, DRAWS = 3, 4  # hyper-parameters after the posterior's (alpha, noise, forgetting)
DECIDE, LEARN, DECIDE_LEARN, REPLAY = 0, 1, 2, 3


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
def _decide(
    hashes,
    values,
    means,
    covs,
    keys,
    coords,
    used,
    hp,
    rule,
    active,
    rng,
    mu,
    sd,
    ties,
    probs,
    score,
    idx,
    val,
    sx,
):
    """Choose an arm for one context; ``probs`` gets every arm's probability, ``mu`` its
    expected reward."""
    n_active = 0
    for a in range(means.shape[0]):
        if active[a]:
            mu[a], variance = _full_event(
                hashes, values, 0.0, means[a], covs[a], keys, coords, used, hp, False, idx, val, sx
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
def run_bandit(
    hashes,
    values,
    logged,
    rewards,
    means,
    covs,
    keys,
    coords,
    used,
    hp,
    rule,
    active,
    rng,
    mode,
    arms_out,
    propensities_out,
    probs_out,
    mu_out,
):
    """Events in order. ``mode`` DECIDE: choose an arm for each context (the model does not
    change). LEARN: the ``logged`` arm's ``rewards`` update its posterior. DECIDE_LEARN:
    choose, then learn the logged arm (off-policy learning from a log). REPLAY: choose,
    and learn only when the choice is the logged arm (Li et al.'s replay). ``probs_out`` and
    ``mu_out`` (when not empty) get each event's arm probabilities and expected rewards."""
    n_arms = means.shape[0]
    mu, sd, probs, score = np.empty(n_arms), np.empty(n_arms), np.empty(n_arms), np.empty(n_arms)
    ties = np.empty(n_arms, np.bool_)
    idx = np.empty(hashes.shape[1] + 1, np.int64)
    val = np.empty(hashes.shape[1] + 1)
    sx = np.empty(covs.shape[1])
    for e in range(hashes.shape[0]):
        arm = -1
        if mode != LEARN:
            arm = _decide(
                hashes[e],
                values[e],
                means,
                covs,
                keys,
                coords,
                used,
                hp,
                rule,
                active,
                rng,
                mu,
                sd,
                ties,
                probs,
                score,
                idx,
                val,
                sx,
            )
            arms_out[e] = arm
            propensities_out[e] = probs[arm] if arm >= 0 else 0.0
            if probs_out.shape[0]:
                probs_out[e] = probs
            if mu_out.shape[0]:
                mu_out[e] = mu
        if mode == DECIDE or (mode == REPLAY and arm != logged[e]):
            continue
        a = logged[e]
        predicted, _ = _full_event(
            hashes[e],
            values[e],
            rewards[e],
            means[a],
            covs[a],
            keys,
            coords,
            used,
            hp,
            True,
            idx,
            val,
            sx,
        )
        if mode == LEARN:
            arms_out[e] = a
            propensities_out[e] = predicted


@nb.njit(nogil=True, cache=True)
def run_bandit_ops(
    hashes, values, slots, targets, ops, op_rows, means, covs, keys, coords, used, hp, out
):
    """A runner schedule: each operation's row was served with arm ``slots[row]``; PREDICT
    gives that arm's expected reward, LEARN updates it with the reward in ``targets``."""
    idx = np.empty(hashes.shape[1] + 1, np.int64)
    val = np.empty(hashes.shape[1] + 1)
    sx = np.empty(covs.shape[1])
    for k in range(ops.shape[0]):
        row = op_rows[k]
        a = slots[row]
        out[k], _ = _full_event(
            hashes[row],
            values[row],
            targets[k],
            means[a],
            covs[a],
            keys,
            coords,
            used,
            hp,
            ops[k] != 0,
            idx,
            val,
            sx,
        )
