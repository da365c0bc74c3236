"""Online matrix factorization for recommendations: biased MF for ratings, BPR for implicit
feedback. Users and items are added as they appear; ``recommend(user, n)`` ranks the items
the user has not interacted with.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from typing import Any, Self

import numpy as np

from streamlearn.base import Learner, Regressor, ServesRows, State, Task, register
from streamlearn.base.records import Schedule
from streamlearn.base.state import restore_arrays
from streamlearn.features.columns import as_columns, n_rows
from streamlearn.models.linear.base import regression_target, target_array
from streamlearn.models.recommend.kernel import (
    EMPTY,
    Factors,
    Negatives,
    Pairs,
    init_rows,
    learn_one_rating,
    rate_one,
    run_bpr,
    run_ratings,
    run_ratings_ops,
    seen_insert,
)

USER_SLOT, ITEM_SLOT, FRESH_SLOT = 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFC  # runner rows' slots


class Factorization(Learner):
    """What both factorizations share: id → index maps that grow, factors initialized from
    (seed, index) alone (so batches equal one-event calls), the set of seen pairs, top-N.

    Parameters
    ----------
    n_factors, lr_bias, lr_latent, l2_bias, l2_latent, init_std, seed, user_key, item_key
        As for :class:`BiasedMF`.

    Example
    -------
    >>> from streamlearn.datasets import movielens
    >>> ratings = movielens.load(limit=20_000)
    >>> model = BiasedMF(seed=1)
    >>> predicted = model.predict_learn_many(ratings.columns, ratings.ratings)
    >>> mae = float(np.abs(predicted - ratings.ratings).mean())
    >>> isinstance(model, Factorization), round(mae, 1)
    (True, 0.8)
    """

    def __init__(
        self,
        n_factors: int = 10,
        lr_bias: float = 0.05,
        lr_latent: float = 0.1,
        l2_bias: float = 0.0,
        l2_latent: float = 0.0,
        init_std: float = 0.1,
        seed: int = 0,
        user_key: str = "user",
        item_key: str = "item",
    ) -> None:
        rates = (lr_bias, lr_latent, l2_bias, l2_latent, init_std)
        if n_factors < 1 or not all(math.isfinite(r) and r >= 0 for r in rates):
            raise ValueError("need n_factors >= 1 and finite, non-negative rates")
        self.n_factors, self.seed = int(n_factors), int(seed)
        self.lr_bias, self.lr_latent = float(lr_bias), float(lr_latent)
        self.l2_bias, self.l2_latent, self.init_std = float(l2_bias), float(l2_latent), init_std
        self.user_key, self.item_key = user_key, item_key
        self._hyper = np.array([lr_bias, lr_latent, l2_bias, l2_latent, 0.0])
        self.user_ids: list[Hashable] = []
        self.item_ids: list[Hashable] = []
        self._user_index: dict[Hashable, int] = {}
        self._item_index: dict[Hashable, int] = {}
        self.users = np.zeros((0, self.n_factors))
        self.items = np.zeros((0, self.n_factors))
        self.user_bias, self.item_bias = np.zeros(0), np.zeros(0)
        self.seen = np.full(1024, EMPTY, np.int64)
        self.n_seen = np.zeros(1, np.int64)
        self._seen_by_user: dict[int, set[int]] = {}  # the same pairs, for top-N
        self._items_before: int | None = None  # items known before the last rows served

    def params(self) -> dict[str, Any]:
        return {
            "n_factors": self.n_factors,
            "lr_bias": self.lr_bias,
            "lr_latent": self.lr_latent,
            "l2_bias": self.l2_bias,
            "l2_latent": self.l2_latent,
            "init_std": self.init_std,
            "seed": self.seed,
            "user_key": self.user_key,
            "item_key": self.item_key,
        }

    # ------------------------------------------------------------------ ids
    def _rows(self, kind: int, start: int, stop: int) -> np.ndarray:
        """Factors of new rows start..stop: a function of (seed, kind, index) only."""
        out = np.empty((stop - start, self.n_factors))
        init_rows(self.seed, kind, start, stop, self.init_std, out)
        return out

    def _indices(self, column: Any, users: bool, grow: bool) -> np.ndarray:
        """Each id's index; new ids get the next ones in order of first appearance (with
        ``grow``; else -1). One dict lookup per distinct id, not per event."""
        index = self._user_index if users else self._item_index
        known = self.user_ids if users else self.item_ids
        values = _ids(column)
        if not len(values):
            return np.zeros(0, np.int64)
        distinct, first, inverse = _distinct(values)
        mapped = np.empty(len(distinct), np.int64)
        before = len(known)
        self._fresh = np.zeros(len(values), np.bool_)  # where a new id first appears
        for k, key in enumerate(distinct):
            found = index.get(key)
            if found is None:
                if grow:
                    found = index[key] = len(known)
                    known.append(key)
                    self._fresh[first[k]] = True
                else:
                    found = -1
            mapped[k] = found
        if len(known) > before:
            new = self._rows(0 if users else 1, before, len(known))
            if users:
                self.users = np.vstack([self.users, new])
                self.user_bias = np.concatenate([self.user_bias, np.zeros(len(new))])
            else:
                self.items = np.vstack([self.items, new])
                self.item_bias = np.concatenate([self.item_bias, np.zeros(len(new))])
        return mapped[inverse]

    def _index_one(self, event: Mapping[str, Any], users: bool, grow: bool) -> tuple[int, bool]:
        """One event's user (or item) index, as :meth:`_indices` gives it (-1: unknown),
        and whether it is new here; without the columns a batch needs."""
        key = self.user_key if users else self.item_key
        try:
            value = event[key]
        except KeyError:
            raise ValueError(
                f"every event needs {self.user_key!r} and {self.item_key!r}, missing {key!r}"
            ) from None
        if type(value) is not str and type(value) is not int:  # read as a batch reads it
            value = int(value) if isinstance(value, np.integer) else _distinct(_ids([value]))[0][0]
        index = self._user_index if users else self._item_index
        found = index.get(value)
        if found is not None or not grow:
            return (-1 if found is None else found), False
        self._indices([value], users, grow=True)
        return index[value], True

    def _pairs(self, X: Any, grow: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """User and item indices, and whether the pair is fresh (either one new here)."""
        columns = as_columns(X)
        try:
            users, items = columns[self.user_key], columns[self.item_key]
        except KeyError as exc:
            raise ValueError(
                f"every event needs {self.user_key!r} and {self.item_key!r}, "
                f"missing {exc.args[0]!r}"
            ) from None
        u = self._indices(users, True, grow)
        fresh = self._fresh
        i = self._indices(items, False, grow)
        return u, i, fresh | self._fresh

    def _reserve(self, extra: int) -> None:
        """Grow the seen set so that ``extra`` more pairs keep it at most half full."""
        need = 2 * (int(self.n_seen[0]) + extra)
        if need > len(self.seen):
            old = self.seen[self.seen != EMPTY]
            self.seen = np.full(1 << max(10, need.bit_length()), EMPTY, np.int64)
            seen_insert(self.seen, old)

    def _remember(self, u: np.ndarray, i: np.ndarray) -> None:
        """The pairs join the seen set."""
        self._reserve(len(u))
        self.n_seen[0] += seen_insert(self.seen, u.astype(np.int64) * 4294967296 + i)
        self._note_seen(u, i)

    def _note_seen(self, u: np.ndarray, i: np.ndarray) -> None:
        for user, item in zip(u.tolist(), i.tolist(), strict=True):
            self._seen_by_user.setdefault(user, set()).add(item)

    def knows(self, item: Hashable) -> bool:
        """Whether ``item`` has been seen (only a known item can be recommended)."""
        return item in self._item_index

    def seen_items(self, user: Hashable) -> set[Hashable]:
        """The items ``user`` has interacted with (that the model learned)."""
        u = self._user_index.get(user)
        return {self.item_ids[i] for i in self._seen_by_user.get(u, ())}

    # ------------------------------------------------------------------ top-N
    def scores(self, user: Hashable) -> np.ndarray:
        """Every known item's score for ``user`` (an unknown user: the item biases)."""
        u = self._user_index.get(user)
        if u is None:
            return self.item_bias.copy()
        return self.item_bias + self.items @ self.users[u]

    def recommend(self, user: Hashable, n: int = 10, exclude_seen: bool = True) -> list[tuple]:
        """The ``n`` best items for ``user`` as (item, score), best first."""
        scores = self.scores(user)
        seen = self._seen_by_user.get(self._user_index.get(user), ())
        if exclude_seen and seen:
            scores[np.fromiter(seen, np.int64, len(seen))] = -np.inf
        n = min(n, int(np.isfinite(scores).sum()))
        top = np.argpartition(-scores, n - 1)[:n] if n else np.zeros(0, np.int64)
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.item_ids[i], float(scores[i])) for i in top]

    # ------------------------------------------------------------------ state
    # ------------------------------------------------------------------ the runner
    def serve_many(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Rows for the runner: the user's and the item's index in two marked slots (new
        users and items get theirs when they are served; see :func:`served_pairs`)."""
        self._items_before = len(self.item_ids)  # known before the events served now
        u, i, fresh = self._pairs(X, grow=True)
        hashes = np.tile(np.array([USER_SLOT, ITEM_SLOT, FRESH_SLOT], np.uint32), (len(u), 1))
        return hashes, np.column_stack([u + 1.0, i + 1.0, fresh.astype(np.float64)])

    def _factors(self) -> Factors:
        return Factors(self.user_bias, self.item_bias, self.users, self.items)

    def _arrays(self) -> dict[str, np.ndarray]:
        return {
            "users": self.users,
            "items": self.items,
            "user_bias": self.user_bias,
            "item_bias": self.item_bias,
            "seen": self.seen,
            "n_seen": self.n_seen,
        }

    def state(self) -> State:
        arrays = {name: array.copy() for name, array in self._arrays().items()}
        ids = {"user_ids": list(self.user_ids), "item_ids": list(self.item_ids)}
        return State(type(self).__name__, self.params(), arrays, ids)

    @classmethod
    def from_state(cls, state: State) -> Self:
        if state.kind != cls.__name__:
            raise ValueError(f"state of a {state.kind} cannot make a {cls.__name__}")
        model = cls(**state.params)
        model._indices(list(state.meta["user_ids"]), True, True)
        model._indices(list(state.meta["item_ids"]), False, True)
        restore_arrays(model, model._arrays(), state.arrays, any_shape=("seen",))
        keys = model.seen[model.seen != EMPTY]
        model._note_seen(keys >> 32, keys & 0xFFFFFFFF)
        return model


@register
class BiasedMF(Factorization, Regressor, ServesRows):
    """Biased matrix factorization of explicit ratings, learned one rating at a time.

    Parameters
    ----------
    n_factors
        Latent factors per user and item.
    lr_bias, lr_latent
        SGD learning rates of the biases and of the factors.
    l2_bias, l2_latent
        L2 penalties.
    init_std
        The factors start as N(0, init_std²) draws.
    seed
        Seeds the initial factors.
    user_key, item_key
        The event's fields naming the user and the item.

    Example
    -------
    Every rating is predicted before it is learned (here a generated stream of 1–5 ratings
    with a low-rank structure; ``streamlearn.datasets.movielens`` reads MovieLens):

    >>> from streamlearn.datasets import synth
    >>> columns, ratings = synth.ratings(30_000, seed=1)
    >>> model = BiasedMF(n_factors=8, seed=1)
    >>> predicted = model.predict_learn_many(columns, ratings)
    >>> first, last = (float(((predicted[s] - ratings[s]) ** 2).mean() ** 0.5)
    ...                for s in (slice(0, 3000), slice(-3000, None)))
    >>> last < first  # it learns the users' tastes as they come
    True
    >>> len(model.recommend(columns["user"][0], 3))
    3
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stats = np.zeros(2)  # ratings seen, their mean

    def _arrays(self) -> dict[str, np.ndarray]:
        return super()._arrays() | {"stats": self.stats}

    def learn_one(self, x: Mapping[str, Any], y: Any) -> None:
        rating = regression_target(y)
        u, new_user = self._index_one(x, True, grow=True)
        i, new_item = self._index_one(x, False, grow=True)
        self._reserve(1)
        fresh = new_user or new_item
        factors = self.user_bias, self.item_bias, self.users, self.items
        _, added = learn_one_rating(
            u, i, fresh, rating, *factors, self.stats, self._hyper, self.seen
        )
        self.n_seen[0] += added
        self._seen_by_user.setdefault(u, set()).add(i)

    def predict_one(self, x: Mapping[str, Any]) -> float:
        u, _ = self._index_one(x, True, grow=False)
        i, _ = self._index_one(x, False, grow=False)
        if u >= 0 and i >= 0:
            factors = self.user_bias, self.item_bias, self.users, self.items
            return rate_one(u, i, *factors, self.stats)
        # An unknown user or item: the global mean and the known biases only.
        partial = self.stats[1]
        if u >= 0:
            partial += self.user_bias[u]
        if i >= 0:
            partial += self.item_bias[i]
        return float(partial)

    def _run(self, X: Any, y: Any, learn: bool) -> np.ndarray:
        u, i, fresh = self._pairs(X, grow=learn)
        targets = target_array(y, len(u)) if learn else np.zeros(len(u))
        out = np.empty(len(u))
        stats = self.stats
        if learn:
            run_ratings(Pairs(u, i, fresh), targets, self._factors(), stats, self._hyper, True, out)
            self._remember(u, i)
        else:
            both = (u >= 0) & (i >= 0)
            known = np.empty(int(both.sum()))
            pairs = Pairs(u[both], i[both], fresh[both])
            run_ratings(pairs, targets[both], self._factors(), stats, self._hyper, False, known)
            out[both] = known
            # An unknown user or item: the global mean and the known biases only.
            partial = np.full(int((~both).sum()), stats[1])
            user_known, item_known = (u >= 0)[~both], (i >= 0)[~both]
            partial[user_known] += self.user_bias[u[~both][user_known]]
            partial[item_known] += self.item_bias[i[~both][item_known]]
            out[~both] = partial
        return out

    def learn_many(self, X: Any, y: Any) -> None:
        self._run(X, y, learn=True)

    def predict_many(self, X: Any) -> np.ndarray:
        if not n_rows(as_columns(X)):
            return np.zeros(0)
        return self._run(X, None, learn=False)

    def predict_learn_many(self, X: Any, y: Any) -> np.ndarray:
        return self._run(X, y, learn=True)

    def run_ops(self, hashes, values, ops, op_rows, targets) -> np.ndarray:
        u, i, fresh = served_pairs(hashes, values)
        checked = np.where(np.asarray(ops) == 0, 0.0, np.asarray(targets, dtype=np.float64))
        if not np.isfinite(checked).all():
            raise ValueError("a rating to learn is missing or not finite")
        out = np.empty(len(ops))
        ops, op_rows = np.asarray(ops, np.int8), np.asarray(op_rows, np.int64)
        schedule = Schedule(ops, op_rows, checked)
        run_ratings_ops(Pairs(u, i, fresh), schedule, self._factors(), self.stats, self._hyper, out)
        learned = op_rows[ops != 0]
        self._remember(u[learned], i[learned])
        return out


@register
class BPRMF(Factorization, ServesRows):
    """Matrix factorization of implicit feedback by Bayesian personalized ranking: each
    positive interaction is ranked above ``negatives`` sampled items the user has not seen.
    ``y`` is the interaction's strength: events with ``y <= 0`` are scored, not learned.

    Parameters
    ----------
    negatives
        Sampled items ranked below each positive.
    n_factors, lr_bias, lr_latent, l2_bias, l2_latent, init_std, seed, user_key, item_key
        As for :class:`BiasedMF`.

    Example
    -------
    Ratings of 4 or 5 are the interactions; each is scored before it is learned. The item
    a user liked next ranks above a random item 88% of the time at the end of the stream:

    >>> import numpy as np
    >>> from streamlearn.datasets import synth
    >>> columns, ratings = synth.ratings(50_000, seed=1)
    >>> liked = (ratings >= 4).astype(float)
    >>> model = BPRMF(n_factors=8, seed=1)
    >>> scores = model.predict_learn_many(columns, liked)
    >>> last = liked[-5000:] > 0
    >>> users = columns["user"][-5000:][last]
    >>> other = np.random.default_rng(0).integers(0, 300, len(users))
    >>> ranked_above = scores[-5000:][last] > model.predict_many({"user": users, "item": other})
    >>> round(float(ranked_above.mean()), 2)
    0.88
    """

    task = Task.RANKING

    def __init__(self, *args: Any, negatives: int = 1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if negatives < 1:
            raise ValueError("negatives must be >= 1")
        self.negatives = int(negatives)
        self.rng = np.array([self.seed], np.uint64)

    def params(self) -> dict[str, Any]:
        return super().params() | {"negatives": self.negatives}

    def _arrays(self) -> dict[str, np.ndarray]:
        return super()._arrays() | {"rng": self.rng}

    def _run(self, X: Any, y: Any, learn: bool) -> np.ndarray:
        n_before = len(self.item_ids)
        u, i, fresh = self._pairs(X, grow=learn)
        strengths = target_array(y, len(u)) if learn else np.ones(len(u))
        out = np.empty(len(u))
        if not learn:  # the kernel's own arithmetic, so that scores equal the learning path's
            both = (u >= 0) & (i >= 0)
            n = int(both.sum())
            known = np.empty(n)
            pairs = Pairs(u[both], i[both], fresh[both])
            none = np.zeros(n, np.bool_), np.zeros(n, np.int64)
            sampling = Negatives(self.seen, self.rng, 0)
            run_bpr(pairs, *none, self._factors(), self._hyper, sampling, known)
            out[both] = known
            item_only = (i >= 0) & ~both  # an unknown user: the item's bias
            out[item_only] = self.item_bias[i[item_only]]
            out[i < 0] = 0.0
            return out
        return self._interactions(u, i, fresh, strengths, n_before)

    def _interactions(self, u, i, fresh, strengths, n_before: int) -> np.ndarray:
        """Score each pair, then learn those of a strength above 0 (BPR steps against
        items drawn among those known at its place: before the pairs, plus theirs so far)."""
        n_items = np.maximum.accumulate(np.maximum(i + 1, n_before)) if len(i) else i
        positive = strengths > 0
        self._reserve(int(positive.sum()))
        out = np.empty(len(u))
        sampling = Negatives(self.seen, self.rng, self.negatives)
        run_bpr(Pairs(u, i, fresh), positive, n_items, self._factors(), self._hyper, sampling, out)
        self.n_seen[0] = int((self.seen != EMPTY).sum())
        self._note_seen(u[positive], i[positive])
        return out

    def learn_one(self, x: Mapping[str, Any], y: Any = 1.0) -> None:
        self.learn_many({k: [v] for k, v in x.items()}, [regression_target(y)])

    def predict_one(self, x: Mapping[str, Any]) -> float:
        return float(self.predict_many({k: [v] for k, v in x.items()})[0])

    def learn_many(self, X: Any, y: Any) -> None:
        self._run(X, y, learn=True)

    def predict_many(self, X: Any) -> np.ndarray:
        return self._run(X, None, learn=False)

    def predict_learn_many(self, X: Any, y: Any) -> np.ndarray:
        return self._run(X, y, learn=True)

    def run_ops(self, hashes, values, ops, op_rows, targets) -> np.ndarray:
        """A runner schedule on served rows: each operation scores its pair first; a
        learned one with a strength above 0 is an interaction, ranked above sampled items
        among those known at its place in the schedule."""
        u, i, fresh = served_pairs(hashes, values)
        ops, rows = np.asarray(ops, np.int8), np.asarray(op_rows, np.int64)
        strengths = np.where(ops == 0, 0.0, np.asarray(targets, dtype=np.float64))
        if not np.isfinite(strengths).all():
            raise ValueError("an interaction's strength to learn is missing or not finite")
        before = len(self.item_ids) if self._items_before is None else self._items_before
        return self._interactions(u[rows], i[rows], fresh[rows], strengths, before)


def served_pairs(hashes: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, ...]:
    """The user and item indices of served rows, and whether either was new when served."""
    u = (np.where(hashes == USER_SLOT, values, 0.0).sum(axis=1) - 1).astype(np.int64)
    i = (np.where(hashes == ITEM_SLOT, values, 0.0).sum(axis=1) - 1).astype(np.int64)
    fresh = np.where(hashes == FRESH_SLOT, values, 0.0).sum(axis=1) > 0
    return u, i, fresh


def _ids(column: Any) -> np.ndarray:
    """Ids as an array: integers (whole floats too) as int64, anything else as objects
    (each checked to be a str or an int)."""
    if hasattr(column, "to_pylist"):
        column = column.to_pylist()
    if isinstance(column, np.ndarray) and column.dtype.kind in "iu":
        return column.astype(np.int64)
    floats = isinstance(column, np.ndarray) and column.dtype.kind == "f"
    if floats and np.isfinite(column).all() and (column % 1 == 0).all():
        return column.astype(np.int64)
    objects = np.empty(len(column), object)
    objects[:] = list(column)
    for v in objects:
        _check_id(v)
    if all(isinstance(v, int | np.integer) for v in objects):
        return objects.astype(np.int64)
    return objects


def _distinct(values: np.ndarray) -> tuple[list, np.ndarray, np.ndarray]:
    """Distinct values in order of first appearance, and each value's position among them."""
    if values.dtype != object:
        distinct, first, inverse = np.unique(values, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")
        rank = np.empty(len(order), np.int64)
        rank[order] = np.arange(len(order))
        return [v.item() for v in distinct[order]], first[order], rank[inverse.reshape(-1)]
    codes: dict = {}
    first_at: list[int] = []
    inverse = np.empty(len(values), np.int64)
    for e, v in enumerate(values):
        key = (type(v) is str, v)  # 1 and "1" are different ids
        code = codes.get(key)
        if code is None:
            code = codes[key] = len(codes)
            first_at.append(e)
        inverse[e] = code
    return [v for _, v in codes], np.array(first_at, np.int64), inverse


def _check_id(key: Any) -> None:
    if isinstance(key, bool | np.bool_) or not isinstance(key, str | int | np.integer):
        raise TypeError(f"a user or item id must be a str or an int, got {key!r}")
