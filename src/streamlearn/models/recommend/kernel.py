"""Compiled per-interaction updates of matrix factorization.

Biased MF (explicit ratings): r̂ = μ + b_u + b_i + p_u·q_i, one SGD step on the squared
error per rating (Koren, Bell & Volinsky 2009); μ is the running mean of the ratings seen.

BPR (implicit feedback, Rendle et al. 2009): for a positive (u, i) and a sampled item j
the user has not interacted with, one SGD step up the log-likelihood of σ(x_ui - x_uj),
x_ui = b_i + p_u·q_i. The negatives come from the model's own SplitMix64 generator (its
state is checkpointed), so replays are exact.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba as nb
import numpy as np

from streamlearn.models.bandit.kernel import _normal, _uniform

LR_BIAS, LR_LATENT, L2_BIAS, L2_LATENT, CLIP = 0, 1, 2, 3, 4
MAX_ERROR = 1e6  # bounds one step, so that no rating can overflow a factor


class Pairs(NamedTuple):
    """(user, item) interactions as indices.

    Parameters
    ----------
    users
        Each interaction's user index.
    items
        Its item index.
    fresh
        Whether its user or item is new at it (the model had not met it when it predicted).

    Example
    -------
    >>> import numpy as np
    >>> pairs = Pairs(np.array([0, 1]), np.array([2, 2]), np.array([True, False]))
    >>> pairs.items.tolist()
    [2, 2]
    """

    users: np.ndarray
    items: np.ndarray
    fresh: np.ndarray


class Factors(NamedTuple):
    """What matrix factorization learns.

    Parameters
    ----------
    user_bias
        Per user.
    item_bias
        Per item.
    users
        ``(users, factors)`` latent factors.
    items
        ``(items, factors)`` latent factors.

    Example
    -------
    >>> import numpy as np
    >>> factors = Factors(np.zeros(2), np.zeros(3), np.ones((2, 4)), np.ones((3, 4)))
    >>> float(_dot(factors.users[0], factors.items[1]))
    4.0
    """

    user_bias: np.ndarray
    item_bias: np.ndarray
    users: np.ndarray
    items: np.ndarray


class Negatives(NamedTuple):
    """How BPR samples the items a user is ranked against.

    Parameters
    ----------
    seen
        The open-addressing set of the (user·2³² + item) pairs seen.
    rng
        The SplitMix64 state.
    count
        Negatives per positive interaction.

    Example
    -------
    >>> import numpy as np
    >>> Negatives(np.full(8, EMPTY, np.int64), np.array([1], np.uint64), 2).count
    2
    """

    seen: np.ndarray
    rng: np.ndarray
    count: int


@nb.njit(inline="always")
def _dot(p, q):
    total = 0.0
    for f in range(p.shape[0]):
        total += p[f] * q[f]
    return total


@nb.njit(inline="always")
def _rating(u, i, factors, stats, fresh):
    """The predicted rating; a ``fresh`` pair (its user or item new at this event) gets no
    factor term, as an unknown one would: the model had not met it when it predicted."""
    user_bias, item_bias, users, items = factors
    known = stats[1] + user_bias[u] + item_bias[i]
    return known if fresh else known + _dot(users[u], items[i])


@nb.njit(inline="always")
def _learn_rating(u, i, rating, factors, stats, hp, fresh):
    user_bias, item_bias, users, items = factors
    predicted = _rating(u, i, factors, stats, fresh)
    error = min(max(rating - predicted, -MAX_ERROR), MAX_ERROR)
    user_bias[u] += hp[LR_BIAS] * (error - hp[L2_BIAS] * user_bias[u])
    item_bias[i] += hp[LR_BIAS] * (error - hp[L2_BIAS] * item_bias[i])
    for f in range(users.shape[1]):
        pu, qi = users[u, f], items[i, f]
        users[u, f] += hp[LR_LATENT] * (error * qi - hp[L2_LATENT] * pu)
        items[i, f] += hp[LR_LATENT] * (error * pu - hp[L2_LATENT] * qi)
    stats[0] += 1.0
    stats[1] += (rating - stats[1]) / stats[0]  # the running mean, after the step
    return predicted


@nb.njit(nogil=True, cache=True)
def run_ratings(pairs, ratings, factors, stats, hp, learn, out):
    """Interactions in order: the predicted rating into ``out``, then (with ``learn``) the
    SGD step."""
    users, items, fresh = pairs
    for e in range(users.shape[0]):
        u, i = users[e], items[e]
        if learn:
            out[e] = _learn_rating(u, i, ratings[e], factors, stats, hp, fresh[e])
        else:
            out[e] = _rating(u, i, factors, stats, fresh[e])


# The one-event kernels take the factors as four arrays, not a tuple: a call from Python
# checks the type of each argument, and a tuple's costs a microsecond more.
@nb.njit(nogil=True, cache=True)
def rate_one(u, i, user_bias, item_bias, users, items, stats):
    """One pair's predicted rating (what :func:`run_ratings` predicts for it)."""
    return _rating(u, i, (user_bias, item_bias, users, items), stats, False)


@nb.njit(nogil=True, cache=True)
def learn_one_rating(u, i, fresh, rating, user_bias, item_bias, users, items, stats, hp, seen):
    """One rating, as :func:`run_ratings` learns it, its pair added to the ``seen`` set
    (as :func:`seen_insert`): one call per event. Returns the prediction made before the
    step, and whether the pair was new."""
    factors = (user_bias, item_bias, users, items)
    predicted = _learn_rating(u, i, rating, factors, stats, hp, fresh)
    key = u * 4294967296 + i
    k = _slot(seen, key)
    added = seen[k] == EMPTY
    if added:
        seen[k] = key
    return predicted, added


@nb.njit(inline="always")
def _sigmoid(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


@nb.njit(inline="always")
def _learn_pair(u, i, j, factors, hp):
    """One BPR step for (u prefers i over j); returns σ(x_ui - x_uj) before it."""
    _, item_bias, users, items = factors
    x = item_bias[i] - item_bias[j]
    for f in range(users.shape[1]):
        x += users[u, f] * (items[i, f] - items[j, f])
    g = 1.0 - _sigmoid(x)  # d log σ(x) / dx
    item_bias[i] += hp[LR_BIAS] * (g - hp[L2_BIAS] * item_bias[i])
    item_bias[j] += hp[LR_BIAS] * (-g - hp[L2_BIAS] * item_bias[j])
    for f in range(users.shape[1]):
        pu, qi, qj = users[u, f], items[i, f], items[j, f]
        users[u, f] += hp[LR_LATENT] * (g * (qi - qj) - hp[L2_LATENT] * pu)
        items[i, f] += hp[LR_LATENT] * (g * pu - hp[L2_LATENT] * qi)
        items[j, f] += hp[LR_LATENT] * (-g * pu - hp[L2_LATENT] * qj)
    return _sigmoid(x)


EMPTY = -1


@nb.njit(inline="always")
def _slot(table, key):
    """Where ``key`` is in the open-addressing set ``table``, or the empty slot it would take."""
    mask = table.shape[0] - 1
    k = (key * 0x9E3779B97F4A7C15) >> 17
    k &= mask
    while table[k] != EMPTY and table[k] != key:
        k = (k + 1) & mask
    return k


@nb.njit(nogil=True, cache=True)
def seen_insert(table, keys):
    """Add ``keys`` (u·2³² + i) to the set; returns how many were new."""
    added = 0
    for key in keys:
        k = _slot(table, key)
        if table[k] == EMPTY:
            table[k] = key
            added += 1
    return added


@nb.njit(nogil=True, cache=True)
def run_bpr(pairs, positive, n_items, factors, hp, negatives, out):
    """Interactions in order: ``out`` gets the score b_i + p_u·q_i before learning; for a
    ``positive`` one, the pair joins the ``seen`` set and ``negatives.count`` BPR steps are
    taken against items drawn uniformly among the ``n_items[e]`` known then that ``u`` has
    not seen (the set must have room for the batch: the caller grows it)."""
    users, items, fresh = pairs
    seen, rng, count = negatives
    for e in range(users.shape[0]):
        u, i = users[e], items[e]
        bias = factors.item_bias[i]
        out[e] = bias if fresh[e] else bias + _dot(factors.users[u], factors.items[i])
        if not positive[e]:
            continue
        k = _slot(seen, np.int64(u) * 4294967296 + i)
        seen[k] = np.int64(u) * 4294967296 + i
        for _ in range(count):
            for _attempt in range(20):  # rejection sampling of an unseen item
                j = int(_uniform(rng) * n_items[e])
                if seen[_slot(seen, np.int64(u) * 4294967296 + j)] == EMPTY:
                    _learn_pair(u, i, j, factors, hp)
                    break


@nb.njit(nogil=True, cache=True)
def run_ratings_ops(pairs, schedule, factors, stats, hp, out):
    """A runner schedule: PREDICT / LEARN / PREDICT_LEARN on (user, item) rows, in order."""
    users, items, fresh = pairs
    ops, op_rows, ratings = schedule
    for k in range(ops.shape[0]):
        row = op_rows[k]
        u, i, new = users[row], items[row], fresh[row]
        if ops[k] == 0:
            out[k] = _rating(u, i, factors, stats, new)
        else:
            out[k] = _learn_rating(u, i, ratings[k], factors, stats, hp, new)


@nb.njit(nogil=True, cache=True)
def init_rows(seed, kind, start, stop, std, out):
    """Rows start..stop of N(0, std²) factors, each from its own (seed, kind, index) stream:
    the same values whenever and however the row is created."""
    rng = np.zeros(1, np.uint64)
    for r in range(stop - start):
        rng[0] = np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) ^ np.uint64(
            kind * 0x632BE59BD9B4E019 + start + r
        )
        for f in range(out.shape[1]):
            out[r, f] = std * _normal(rng)
