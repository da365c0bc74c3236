"""What the compiled tree and forest learners share, whatever their trees: hashed features
numbered as dense feature ids, schedules of encoded rows through a compiled kernel (that
may stop for more room), snapshots, and classes and their ids, or numbers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

import numpy as np

from streamlearn.base import (
    LEARN,
    PREDICT,
    PREDICT_LEARN,
    ClassIndex,
    MulticlassClassifier,
    Regressor,
    ServedByCopies,
    ServesRows,
    State,
)
from streamlearn.base.records import Schedule, Sizes, SparseRows
from streamlearn.features.columns import as_columns, n_rows
from streamlearn.features.hasher import FeatureHasher
from streamlearn.models.feature_ids import FeatureIds
from streamlearn.models.hashed import HashedModel
from streamlearn.models.linear.base import regression_target, target_array


class RowModel(HashedModel, ServesRows, ServedByCopies):
    """A learner whose kernel reads rows of feature ids (see the module doc). Subclasses
    keep their arrays (:meth:`_arrays`, :meth:`_load_arrays`), make room for the classes
    and features in use (:meth:`_fit`), say what an operation gives (:meth:`_out_width`)
    and run a schedule in :meth:`_kernel`.

    Parameters
    ----------
    features, feature_settings
        The featurizer (a :class:`~streamlearn.features.FeatureHasher`, or its settings), and
        the settings a fresh one gets.
    feature_cap
        The most distinct features numbered; a feature beyond them is not seen (memory stays
        bounded).
    standardize
        Whether numeric features are standardized online.

    Example
    -------
    >>> from streamlearn.models import HoeffdingTreeClassifier
    >>> tree = HoeffdingTreeClassifier()
    >>> isinstance(tree, RowModel), tree.feature_cap
    (True, 256)
    """

    def __init__(
        self,
        features: FeatureHasher | Mapping[str, Any] | None,
        feature_settings: Mapping[str, Any],
        feature_cap: int,
        *,
        standardize: bool,
    ) -> None:
        super().__init__(features, feature_settings, standardize=standardize)
        self.feature_cap = int(feature_cap)
        self.feature_ids = FeatureIds(self.feature_cap)

    # ------------------------------------------------------------------ hooks
    def _arrays(self) -> dict[str, np.ndarray]:
        """The learner's arrays, by name."""
        raise NotImplementedError

    def _load_arrays(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Restore (and check) what :meth:`_arrays` gave, for :attr:`feature_ids`."""
        raise NotImplementedError

    def _fit(self) -> None:
        """Room in the arrays for the classes and features numbered so far."""

    def _out_width(self) -> int:
        """Numbers an operation gives (a probability per class, or one value)."""
        raise NotImplementedError

    def _kernel(self, rows: SparseRows, schedule: Schedule, start: int, out) -> int:
        """Run operations from ``start``; returns where it stopped (before an operation
        that needs more room: :meth:`_make_room` then makes it)."""
        raise NotImplementedError

    def _make_room(self) -> None:
        raise NotImplementedError

    def _meta(self) -> dict[str, Any]:
        return {}

    def _load_meta(self, meta: Mapping[str, Any]) -> None:
        """Restore what :meth:`_meta` gave (before the arrays)."""

    # ------------------------------------------------------------------ snapshots
    def state(self) -> State:
        arrays, meta = self.features.state()
        arrays |= self._arrays()
        arrays["feature_hashes"] = self.feature_ids.hashes.copy()
        return State(type(self).__name__, self.params(), arrays, meta | self._meta())

    @classmethod
    def from_state(cls, state: State) -> Self:
        if state.kind != cls.__name__:
            raise ValueError(f"state of a {state.kind} cannot make a {cls.__name__}")
        model = cls(**state.params)
        model._load_meta(state.meta)
        hashes = np.asarray(state.arrays["feature_hashes"])
        model.feature_ids = FeatureIds(model.feature_cap, hashes)
        model._load_arrays(state.arrays)
        model.features.load_state(state.arrays, state.meta)
        return model

    # ------------------------------------------------------------------ schedules
    def _schedule(self, hashes, values, ops, op_rows, targets) -> np.ndarray:
        """Run operations on encoded rows in order; numbers the features of the rows to be
        learned first (a feature numbered early has no statistics, so it changes nothing
        before its row is learned)."""
        # A value of 0 is no feature (as in a sparse matrix): rows may or may not name it.
        hashes = np.where(values != 0.0, hashes, np.uint32(0))
        learned = op_rows[ops != PREDICT]
        if len(learned):
            self.feature_ids.number(hashes[learned])
        ids = self.feature_ids.lookup(hashes)
        self._fit()
        out = np.zeros((len(ops), self._out_width()))
        rows, schedule = SparseRows(ids, values), Schedule(ops, op_rows, targets)
        done = 0
        while done < len(ops):
            done = self._kernel(rows, schedule, done, out)
            if done < len(ops):
                self._make_room()
        self._cached = None
        return out

    def _one(self, x: Mapping[str, Any], op: int, target: float) -> np.ndarray:
        event = self._encode(x)
        out = self._schedule(
            event.hashes[None, :],
            event.values[None, :],
            np.array([op], np.int8),
            np.zeros(1, np.int64),
            np.array([target], np.float64),
        )
        if op != PREDICT:
            self.features.learn_one(event)
        return out[0]

    def _run_many(self, X: Any, y: Any, op: int) -> np.ndarray:
        """Run ``op`` over a batch (``y`` checked and coded as the kernel's targets)."""
        raise NotImplementedError

    def learn_many(self, X: Any, y: Any) -> None:
        self._run_many(X, y, LEARN)

    def predict_learn_many(self, X: Any, y: Any) -> np.ndarray:
        return self._run_many(X, y, PREDICT_LEARN)

    def _run_targets(self, X: Any, targets: np.ndarray | None, op: int) -> np.ndarray:
        columns = as_columns(X)
        n = n_rows(columns)
        targets = np.zeros(n) if targets is None else targets
        if len(targets) != n:
            raise ValueError(f"expected {n} targets, got {len(targets)}")
        blocks = []
        for start, stop, hashes, values in self._encoded_chunks(columns, n, op != PREDICT):
            ops = np.full(stop - start, op, np.int8)
            rows = np.arange(stop - start)
            blocks.append((start, self._schedule(hashes, values, ops, rows, targets[start:stop])))
        out = np.zeros((n, self._out_width()))  # a later chunk may know more classes
        for start, block in blocks:
            out[start : start + len(block), : block.shape[1]] = block
        return out


class ClassRows(RowModel, MulticlassClassifier):
    """A :class:`RowModel` of classes (labels str, int or bool, new ones at any time). Its
    parameters are the subclass's; ``max_classes`` bounds the classes it numbers.

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> from streamlearn.models import HoeffdingTreeClassifier
    >>> report = progressive_val_score_one(HoeffdingTreeClassifier(), elec2.stream(limit=3000))
    >>> round(report.metrics["accuracy"], 2) > 0.7
    True
    """

    max_classes: int
    index: ClassIndex

    def _number_classes(self, max_classes: int) -> None:
        self.max_classes = int(max_classes)
        self.index = ClassIndex(limit=self.max_classes)

    @property
    def classes(self) -> list:
        return list(self.index.labels)

    def _out_width(self) -> int:
        return len(self.index)

    def _sizes(self) -> Sizes:
        """The classes and features numbered so far, as the kernels take them."""
        return Sizes(len(self.index), len(self.feature_ids))

    def _meta(self) -> dict[str, Any]:
        return {"classes": self.classes}

    def _load_meta(self, meta: Mapping[str, Any]) -> None:
        self.index = ClassIndex(list(meta.get("classes", [])), self.max_classes)

    def predict_proba_one(self, x: Mapping[str, Any]) -> dict[Any, float]:
        proba = self._one(x, PREDICT, 0)
        return {label: float(p) for label, p in zip(self.index.labels, proba, strict=True)}

    def learn_one(self, x: Mapping[str, Any], y: Any) -> None:
        self._one(x, LEARN, self.index.id_of(y))

    def _run_many(self, X: Any, y: Any, op: int) -> np.ndarray:
        targets = None
        if op != PREDICT:
            labels = self.index.checked(y)  # all valid before any is numbered
            targets = self.index.ids(labels).astype(np.float64)
        return self._run_targets(X, targets, op)

    def predict_proba_many(self, X: Any) -> np.ndarray:
        return self._run_many(X, None, PREDICT)

    def run_ops(self, hashes, values, ops, op_rows, targets) -> np.ndarray:
        """Run a schedule of served rows and delayed labels (see
        :class:`~streamlearn.base.ServesRows`); targets are class ids. Returns one row of
        class probabilities per operation."""
        ops = np.asarray(ops, np.int8)
        codes = np.where(ops == PREDICT, 0.0, np.asarray(targets, np.float64))
        taught = codes[ops != PREDICT]
        if not (np.isfinite(taught).all() and ((taught >= 0) & (taught < len(self.index))).all()):
            raise ValueError("a target to learn is not a class id of this model")
        return self._schedule(hashes, values, ops, np.asarray(op_rows, np.int64), codes)


class ValueRows(RowModel, Regressor):
    """A :class:`RowModel` of a number, whose kernel takes targets and gives predictions.
    Its parameters are the subclass's.

    Example
    -------
    >>> from streamlearn.models import HoeffdingTreeRegressor
    >>> tree = HoeffdingTreeRegressor()
    >>> for i in range(300):
    ...     tree.learn_one({"x": i % 10}, 2.0 * (i % 10))
    >>> isinstance(tree, ValueRows), abs(tree.predict_one({"x": 5}) - 10) < 3
    (True, True)
    """

    def _out_width(self) -> int:
        return 1

    def _sizes(self) -> Sizes:
        """No classes, and the features numbered so far, as the kernels take them."""
        return Sizes(0, len(self.feature_ids))

    def predict_one(self, x: Mapping[str, Any]) -> float:
        return float(self._one(x, PREDICT, 0.0)[0])

    def learn_one(self, x: Mapping[str, Any], y: Any) -> None:
        self._one(x, LEARN, regression_target(y))

    def _run_many(self, X: Any, y: Any, op: int) -> np.ndarray:
        columns = as_columns(X)
        targets = None if op == PREDICT else target_array(y, n_rows(columns))
        if targets is not None and not np.isfinite(targets).all():
            raise ValueError("regression targets must be finite numbers")
        return self._run_targets(columns, targets, op)[:, 0]

    def predict_many(self, X: Any) -> np.ndarray:
        return self._run_many(X, None, PREDICT)

    def run_ops(self, hashes, values, ops, op_rows, targets) -> np.ndarray:
        """Run a schedule of served rows and delayed labels (see
        :class:`~streamlearn.base.ServesRows`). Returns a prediction per operation."""
        ops = np.asarray(ops, np.int8)
        targets = np.where(ops == PREDICT, 0.0, np.asarray(targets, np.float64))
        if not np.isfinite(targets).all():
            raise ValueError("a target to learn is not a finite number")
        rows = np.asarray(op_rows, np.int64)
        return self._schedule(hashes, values, ops, rows, targets)[:, 0]
