"""Compiled LinUCB with hybrid linear models (Li et al. 2010, Algorithm 2).

The reward of arm a in context x is z_a'β + x'θ_a: β is shared by all arms over the arm's
features z_a (so that a new arm starts from what arms like it earned), θ_a is the arm's
own. The estimates are the joint ridge regression's (identity priors), kept up to date
with rank-one updates of each arm's A_a⁻¹ and a k×k solve for the shared part.

Arrays: ``a0`` (k×k) and its inverse ``a0_inv``, ``b0`` (k); per arm ``a_inv`` (d×d), ``bm``
(d×k, Li et al.'s B_a), ``b`` (d); ``z`` (arms×k): each arm's features.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba as nb
import numpy as np

from streamlearn.models.bandit.kernel import DECIDE, LEARN, REPLAY, _best, _pick


class HybridModels(NamedTuple):
    """The shared and per-arm parts of the joint ridge regression (the module's arrays).

    Parameters
    ----------
    z
        ``(arms, k)`` each arm's features.
    a_inv
        ``(arms, d, d)`` each arm's A⁻¹.
    bm
        ``(arms, d, k)`` each arm's B.
    b
        ``(arms, d)`` each arm's b.
    a0
        ``(k, k)`` the shared A0.
    a0_inv
        Its inverse.
    b0
        ``(k,)`` the shared b0.

    Example
    -------
    >>> import numpy as np
    >>> arms, d, k = 2, 3, 2
    >>> models = HybridModels(
    ...     np.ones((arms, k)), np.stack([np.eye(d)] * arms), np.zeros((arms, d, k)),
    ...     np.zeros((arms, d)), np.eye(k), np.eye(k), np.zeros(k),
    ... )
    >>> models.a_inv.shape
    (2, 3, 3)
    """

    z: np.ndarray
    a_inv: np.ndarray
    bm: np.ndarray
    b: np.ndarray
    a0: np.ndarray
    a0_inv: np.ndarray
    b0: np.ndarray


@nb.njit(inline="always")
def _dense(hashes, values, table, capacity, insert, x):
    """The context as a dense vector over the shared coordinates (last: the intercept)."""
    keys, coords, used = table
    x[:] = 0.0
    mask = keys.shape[0] - 1
    for j in range(hashes.shape[0]):
        v = values[j]
        if v == 0.0:
            continue
        h = np.int64(hashes[j])
        i = h & mask
        c = -1
        while keys[i] != -1:
            if keys[i] == h:
                c = coords[i]
                break
            i = (i + 1) & mask
        if c < 0 and insert and used[0] < capacity:
            keys[i] = h
            coords[i] = used[0]
            c = used[0]
            used[0] += 1
        if c >= 0:
            x[c] += v
    x[x.shape[0] - 1] = 1.0


@nb.njit(inline="always")
def _invert_spd(m, out, work):
    """``out`` = m⁻¹ for a symmetric positive definite m (Cholesky)."""
    k = m.shape[0]
    for i in range(k):
        for j in range(i + 1):
            total = m[i, j]
            for p in range(j):
                total -= work[i, p] * work[j, p]
            work[i, j] = math.sqrt(max(total, 1e-300)) if i == j else total / work[j, j]
        for j in range(i + 1, k):
            work[i, j] = 0.0
    for col in range(k):
        # Solve L y = e_col, then L' x = y.
        for i in range(k):
            total = 1.0 if i == col else 0.0
            for p in range(i):
                total -= work[i, p] * out[p, col]
            out[i, col] = total / work[i, i]
        for i in range(k - 1, -1, -1):
            total = out[i, col]
            for p in range(i + 1, k):
                total -= work[p, i] * out[p, col]
            out[i, col] = total / work[i, i]


@nb.njit(inline="always")
def _score(x, z, arm, a0_inv, beta, width, work):
    """Expected reward and confidence width of one arm (Algorithm 2, lines 8–11); ``arm``
    holds its A⁻¹, B and b."""
    a_inv, bm, b = arm
    u, v, w = work
    d, k = x.shape[0], z.shape[0]
    for i in range(d):  # u = A⁻¹x
        total = 0.0
        for j in range(d):
            total += a_inv[i, j] * x[j]
        u[i] = total
    for p in range(k):  # v = B'u = B'A⁻¹x
        total = 0.0
        for i in range(d):
            total += bm[i, p] * u[i]
        v[p] = total
    for p in range(k):  # w = A0⁻¹(z - v)
        total = 0.0
        for q in range(k):
            total += a0_inv[p, q] * (z[q] - v[q])
        w[p] = total
    mean = 0.0
    for p in range(k):
        mean += z[p] * beta[p]
    # θ = A⁻¹(b - Bβ): x'θ = u'(b - Bβ)
    for i in range(d):
        shared = 0.0
        for p in range(k):
            shared += bm[i, p] * beta[p]
        mean += u[i] * (b[i] - shared)
    # s = (z - v)'A0⁻¹(z - v) + x'A⁻¹x  (Algorithm 2's s, regrouped)
    s = 0.0
    for p in range(k):
        s += (z[p] - v[p]) * w[p]
    for i in range(d):
        s += x[i] * u[i]
    return mean, width * math.sqrt(max(s, 0.0))


@nb.njit(inline="always")
def _fold_arm(sign, a_inv, bm, b, a0, b0, u):
    """A0 += sign·B'A⁻¹B, b0 += sign·B'A⁻¹b (Algorithm 2, lines 15–16 and 19–20)."""
    d, k = bm.shape
    for p in range(k):
        for i in range(d):
            total = 0.0
            for j in range(d):
                total += a_inv[i, j] * bm[j, p]
            u[i] = total  # A⁻¹B[:, p]
        for q in range(k):
            total = 0.0
            for i in range(d):
                total += bm[i, q] * u[i]
            a0[q, p] += sign * total
        total = 0.0
        for i in range(d):
            total += b[i] * u[i]
        b0[p] += sign * total


@nb.njit(nogil=True, cache=True)
def run_hybrid(rows, logged, models, table, width, policy, mode, choices):
    """Events in order; ``mode`` as in :func:`~streamlearn.models.bandit.kernel.run_bandit`
    (``policy``'s rule is LinUCB's whatever it says)."""
    hashes, values = rows
    z, a_inv, bm, b, a0, a0_inv, b0 = models
    _, active, rng = policy
    n_arms, d = a_inv.shape[0], a_inv.shape[1]
    k = z.shape[1]
    x = np.empty(d)
    u, v, w = np.empty(d), np.empty(k), np.empty(k)
    beta = np.empty(k)
    score, probs = np.empty(n_arms), np.empty(n_arms)
    ties = np.empty(n_arms, np.bool_)
    work = np.empty((k, k))
    for e in range(hashes.shape[0]):
        _dense(hashes[e], values[e], table, d - 1, mode != DECIDE, x)
        if mode != LEARN:
            for p in range(k):
                total = 0.0
                for q in range(k):
                    total += a0_inv[p, q] * b0[q]
                beta[p] = total
            for a in range(n_arms):
                if active[a]:
                    arm = (a_inv[a], bm[a], b[a])
                    mean, bonus = _score(x, z[a], arm, a0_inv, beta, width, (u, v, w))
                    score[a] = mean + bonus
                    if choices.expected.shape[0]:
                        choices.expected[e, a] = mean
            count = _best(score, active, ties)
            for a in range(n_arms):
                probs[a] = ties[a] / count if active[a] else 0.0
            arm = _pick(rng, probs, active)
            choices.arms[e] = arm
            choices.propensities[e] = probs[arm] if arm >= 0 else 0.0
            if choices.probabilities.shape[0]:
                choices.probabilities[e] = probs
        if mode == DECIDE or (mode == REPLAY and choices.arms[e] != logged.arms[e]):
            continue
        a = logged.arms[e]
        reward = logged.rewards[e]
        _fold_arm(1.0, a_inv[a], bm[a], b[a], a0, b0, u)
        for i in range(d):  # Sherman–Morrison: A⁻¹ ← A⁻¹ - A⁻¹xx'A⁻¹ / (1 + x'A⁻¹x)
            total = 0.0
            for j in range(d):
                total += a_inv[a, i, j] * x[j]
            u[i] = total
        denom = 1.0
        for i in range(d):
            denom += x[i] * u[i]
        for i in range(d):
            for j in range(d):
                a_inv[a, i, j] -= u[i] * u[j] / denom
            for p in range(k):
                bm[a, i, p] += x[i] * z[a, p]
            b[a, i] += reward * x[i]
        for p in range(k):
            for q in range(k):
                a0[p, q] += z[a, p] * z[a, q]
            b0[p] += reward * z[a, p]
        _fold_arm(-1.0, a_inv[a], bm[a], b[a], a0, b0, u)
        _invert_spd(a0, a0_inv, work)
