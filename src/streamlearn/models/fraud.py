"""A fraud detector for transaction streams: per-entity streaming features, cold-start rules
until enough frauds are labelled, an online logistic model, and a decision threshold kept at
a false-positive budget.

Each transaction gets its entity's features from the history before it (amount z-score,
velocities, time since the last one, the entity's smoothed fraud rate; see
:mod:`streamlearn.features.entity`), then joins that history. Until ``min_frauds`` frauds
have been learned the score is a rule's, σ(amount_z - ``rule_z``); then the model's.
:attr:`threshold` flags at most ``fp_budget`` of legitimate transactions: the
(1 - budget) quantile of the scores of recent transactions labelled legitimate.
Labels may come late (chargebacks): in the runner, each label updates the model, the
entity's fraud rate and the threshold when it arrives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np

from streamlearn.base import Classifier, ServedByCopies, ServesRows, State, register
from streamlearn.base.state import nest, nested_part
from streamlearn.features.columns import as_columns, n_rows
from streamlearn.features.entity import EntityStore
from streamlearn.features.hasher import FeatureHasher, as_features
from streamlearn.models.linear import LogisticRegression

ENTITY_SLOT, Z_SLOT = 0xFFFFFFFB, 0xFFFFFFFA  # runner rows: the entity's row, amount_z
BINS = 1000


class ScoreThreshold:
    """The score above which at most ``budget`` of legitimate events fall, from a decayed
    histogram of the scores of events labelled legitimate.

    Parameters
    ----------
    budget
        The share of legitimate events that may score above the threshold.
    half_life
        Events after which a score's weight in the histogram has halved.

    Example
    -------
    >>> import numpy as np
    >>> threshold = ScoreThreshold(budget=0.01)
    >>> threshold.add(np.random.default_rng(0).beta(2, 8, 10_000))  # legitimate scores
    >>> threshold.value  # 1% of them score above it
    0.543
    """

    def __init__(self, budget: float, half_life: float = 50_000.0) -> None:
        self.budget, self.decay = budget, 0.5 ** (1.0 / half_life)
        self.counts = np.zeros(BINS)

    def add(self, scores: np.ndarray) -> None:
        for score in scores.tolist():  # in order: the decay makes order matter
            self.counts *= self.decay
            self.counts[min(int(score * BINS), BINS - 1)] += 1.0

    @property
    def value(self) -> float:
        total = self.counts.sum()
        if total == 0:
            return 0.5
        above = np.cumsum(self.counts[::-1])[::-1] / total  # share at or above each bin
        ok = np.flatnonzero(above <= self.budget)
        return float(ok[0]) / BINS if len(ok) else 1.0


@register
class FraudDetector(Classifier, ServesRows, ServedByCopies):
    """Entity features + cold-start rule + online logistic regression + FP-budget threshold.

    Parameters
    ----------
    entity, time, amount
        The columns naming the entity (card, account, merchant, segment), the event time
        and the amount. The entity id and the time are not themselves features.
    half_lives, prior, weight
        The entity store's velocity half-lives and fraud-rate smoothing.
    min_frauds
        Frauds to learn before the model's scores replace the rule's.
    rule_z
        The cold-start rule's amount z-score at which its score is 0.5.
    fp_budget
        The share of legitimate transactions the threshold may flag.
    optimizer, intercept_lr
        The logistic model's optimizer and its intercept's rate (fast: with frauds this
        rare, the base rate needs to move quickly on each one; 0.1 was best on the
        credit-card data's first 60,000 events).
    features, **feature_settings
        The logistic model's featurizer (a :class:`~streamlearn.features.FeatureHasher` or
        its settings; ``2**18`` weights, standardized online by default), or its settings one
        by one (``bits=20``).

    Example
    -------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> n = 20_000
    >>> cards = rng.integers(0, 500, n)
    >>> amounts = rng.lognormal(3, 1, n)
    >>> fraud = rng.random(n) < 0.01
    >>> amounts[fraud] *= 30  # frauds spend far more than the card usually does
    >>> X = {"card": cards, "t": np.arange(n) * 30.0, "amount": amounts,
    ...      "noise": rng.normal(size=n)}
    >>> detector = FraudDetector(entity="card", time="t", amount="amount", fp_budget=0.01)
    >>> scores = detector.predict_learn_many(X, fraud)
    >>> flagged = scores[-5000:] >= detector.threshold
    >>> precision = fraud[-5000:][flagged].mean()
    >>> recall = flagged[fraud[-5000:]].mean()
    >>> bool(precision > 0.5 and recall > 0.7)
    True
    """

    def __init__(
        self,
        entity: str = "entity",
        time: str = "Time",
        amount: str = "Amount",
        *,
        half_lives: Sequence[float] = (3600.0, 86400.0),
        prior: float = 0.002,
        weight: float = 20.0,
        min_frauds: int = 5,
        rule_z: float = 3.0,
        fp_budget: float = 0.005,
        optimizer: str | dict[str, Any] = "sgd",
        intercept_lr: float = 0.1,
        features: FeatureHasher | Mapping[str, Any] | None = None,
        **feature_settings: Any,
    ) -> None:
        if not 0 < fp_budget < 1 or min_frauds < 0:
            raise ValueError("need 0 < fp_budget < 1 and min_frauds >= 0")
        self.entity, self.time, self.amount = entity, time, amount
        self.min_frauds, self.rule_z, self.fp_budget = min_frauds, rule_z, fp_budget
        self.store = EntityStore(half_lives, prior, weight)
        features = as_features(features, feature_settings, type(self).__name__, bits=18)
        self.model = LogisticRegression(optimizer, features=features, intercept_lr=intercept_lr)
        self.intercept_lr = intercept_lr
        self.optimizer = self.model.optimizer.params()
        self.thresholds = ScoreThreshold(fp_budget)
        self.frauds = np.zeros(1, np.int64)

    def params(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "time": self.time,
            "amount": self.amount,
            **self.store.params(),
            "min_frauds": self.min_frauds,
            "rule_z": self.rule_z,
            "fp_budget": self.fp_budget,
            "optimizer": self.optimizer,
            "intercept_lr": self.intercept_lr,
            "features": self.model.features.params(),
        }

    @property
    def threshold(self) -> float:
        """Scores at or above it are flagged."""
        return self.thresholds.value

    @property
    def ready(self) -> bool:
        """Whether the model (not the cold-start rule) scores."""
        return int(self.frauds[0]) >= self.min_frauds

    # ------------------------------------------------------------------ state
    def state(self) -> State:
        inner = self.model.state()
        arrays, meta = self.store.state()
        arrays |= nest({"model": inner.arrays})
        arrays |= {"threshold_counts": self.thresholds.counts.copy(), "frauds": self.frauds.copy()}
        return State(type(self).__name__, self.params(), arrays, meta | {"model_meta": inner.meta})

    @classmethod
    def from_state(cls, state: State) -> Self:
        if state.kind != cls.__name__:
            raise ValueError(f"state of a {state.kind} cannot make a {cls.__name__}")
        detector = cls(**state.params)
        inner = nested_part(state.arrays, "model")
        detector.model = LogisticRegression.from_state(
            State("LogisticRegression", detector.model.params(), inner, state.meta["model_meta"])
        )
        detector.store.load_state(state.arrays, state.meta)
        counts = np.asarray(state.arrays["threshold_counts"], np.float64)
        if counts.shape != (BINS,) or not np.isfinite(counts).all():
            raise ValueError("threshold counts do not fit")
        detector.thresholds.counts = counts.copy()
        detector.frauds = np.asarray(state.arrays["frauds"], np.int64).copy()
        return detector

    # ------------------------------------------------------------------ features
    def _split(self, X: Any) -> tuple[dict[str, Any], tuple[Any, Any, Any]]:
        """The raw columns that are features (not the entity id, not the clock), and the
        (ids, times, amounts) the entity store takes. A missing entity, time or amount
        column counts as missing values."""
        columns = dict(as_columns(X))
        n = n_rows(columns)
        ids = columns.pop(self.entity, [None] * n)
        times = columns.pop(self.time, [None] * n)  # a clock, not a feature
        return columns, (ids, times, columns.get(self.amount, [None] * n))

    def _prepare(self, X: Any, labels: Any = None) -> tuple[dict[str, Any], Any]:
        """The model's columns (with the entity features) and the entity store's commit."""
        columns, keyed = self._split(X)
        features, commit = self.store.prepare(*keyed, labels)
        return columns | features, commit

    def _rule(self, amount_z: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(np.clip(amount_z, -50, 50) - self.rule_z)))

    # ------------------------------------------------------------------ one event
    def _event(self, x: Mapping[str, Any]) -> tuple[dict[str, Any], float, Any]:
        """The model's event (``x`` with the entity features, dict path), its score before
        learning, and the store's commit."""
        if not isinstance(x, Mapping):
            raise TypeError(f"an event must be a dict of features, got {type(x).__name__}")
        single = {name: [x.get(name)] for name in (self.entity, self.time, self.amount)}
        features, commit = self.store.prepare(*single.values())
        event = {k: v for k, v in x.items() if k not in (self.entity, self.time)}
        event |= {name: float(values[0]) for name, values in features.items()}
        if self.ready:
            return event, self.model.predict_proba_one(event)[True], commit
        return event, float(self._rule(features["amount_z"])[0]), commit

    def predict_proba_one(self, x: Mapping[str, Any]) -> dict[bool, float]:
        _, p, _ = self._event(x)
        return {False: 1.0 - p, True: p}

    def learn_one(self, x: Mapping[str, Any], y: Any) -> None:
        event, score, commit = self._event(x)
        target = self.model._target_one(y)
        self.model.learn_one(event, y)  # refuses a bad value or label before anything moves
        self.store.learn_label_rows(commit(), [target])
        if target < 0.5:
            self.thresholds.add(np.array([score]))
        self.frauds[0] += int(target >= 0.5)

    # ------------------------------------------------------------------ batches
    def predict_proba_many(self, X: Any) -> np.ndarray:
        columns, keyed = self._split(X)
        columns |= self.store.peek(*keyed)  # predicting changes no entity's history
        if not self.ready:
            return self._rule(columns["amount_z"])
        return self.model.predict_proba_many(columns)

    def learn_many(self, X: Any, y: Any) -> None:
        self.predict_learn_many(X, y)

    def predict_learn_many(self, X: Any, y: Any) -> np.ndarray:
        """Each event scored, then learned, in order: its label reaches the entity's fraud
        rate before the next event's features are computed, as one event at a time."""
        targets = self.model._targets_many(y, n_rows(as_columns(X)))
        hashes, values = self._rows(X, targets)
        ops = np.full(len(targets), 2, np.int8)  # PREDICT_LEARN each event, in order
        return self._schedule(
            hashes, values, ops, np.arange(len(targets)), targets, store_labels=False
        )

    # ------------------------------------------------------------------ the runner
    def serve_many(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Rows for the runner: the model's hashed features, plus the entity's row and the
        amount z-score in marked slots (the label updates the entity; the rule reads z)."""
        return self._rows(X, None)

    def encode_rows(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """The rows :meth:`serve_many` gives, from the entities' history as it stands
        (nothing is committed); the entity's row is the learner's to fill in (see
        :meth:`observe_served`)."""
        columns, keyed = self._split(X)
        features, _ = self.store.prepare(*keyed)
        columns |= features
        hashes, values = self.model.encode_rows(columns)
        return self._marked(hashes, values, np.full(len(hashes), -1), columns["amount_z"])

    def encode_row(self, x: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        hashes, values = self.encode_rows({name: [value] for name, value in x.items()})
        return hashes[0], values[0]

    def observe_served(self, X: Any, hashes: np.ndarray, values: np.ndarray) -> None:
        """The served transactions join their entities' history, and their rows get the
        entity's row in this learner's store; their features stay as served."""
        columns, commit = self._prepare(X)
        rows = commit()
        self.model.observe_served(columns, hashes, values)
        values[hashes == ENTITY_SLOT] = rows + 1.0

    def encoder_settings(self) -> dict[str, Any]:
        return {"model": type(self).__name__} | self.params()

    def _marked(self, hashes, values, entity_rows, amount_z) -> tuple[np.ndarray, np.ndarray]:
        """The rows with the entity's row and the amount z-score in marked slots."""
        marks = np.tile(np.array([ENTITY_SLOT, Z_SLOT], np.uint32), (len(hashes), 1))
        numbers = np.column_stack([entity_rows + 1.0, amount_z])
        return np.concatenate([hashes, marks], axis=1), np.concatenate([values, numbers], axis=1)

    def _rows(self, X: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
        columns, commit = self._prepare(X, labels)
        hashes, values = self.model.serve_many(columns)  # may refuse a value: nothing changed
        return self._marked(hashes, values, commit(), columns["amount_z"])

    def run_ops(self, hashes, values, ops, op_rows, targets) -> np.ndarray:
        """A runner schedule; each label also reaches its entity's fraud rate."""
        return self._schedule(hashes, values, ops, op_rows, targets, store_labels=True)

    def _schedule(self, hashes, values, ops, op_rows, targets, store_labels: bool) -> np.ndarray:
        entity = np.where(hashes == ENTITY_SLOT, values, 0.0).sum(axis=1).astype(np.int64) - 1
        amount_z = np.where(hashes == Z_SLOT, values, 0.0).sum(axis=1)
        plain = np.where((hashes == ENTITY_SLOT) | (hashes == Z_SLOT), 0.0, values)
        ops, op_rows = np.asarray(ops, np.int8), np.asarray(op_rows, np.int64)
        targets = np.asarray(targets, np.float64)
        scores = self.model.run_ops(hashes, plain, ops, op_rows, targets)
        learns = ops != 0
        # The rule scores until min_frauds frauds have been learned, counting those learned
        # earlier in this schedule.
        frauds_before = self.frauds[0] + np.concatenate(
            [[0], np.cumsum(learns & (targets >= 0.5))[:-1]]
        )
        cold = frauds_before < self.min_frauds
        scores = np.where(cold, self._rule(amount_z[op_rows]), scores)
        if store_labels:
            self.store.learn_label_rows(entity[op_rows[learns]], targets[learns])
        self.thresholds.add(scores[learns & (targets < 0.5)])
        self.frauds[0] += int((targets[learns] >= 0.5).sum())
        return scores
