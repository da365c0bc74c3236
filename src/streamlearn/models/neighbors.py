"""k-nearest neighbours over a sliding window: the last ``window_size`` events learned, kept
as dense rows of feature ids (a feature a row lacks is 0, so a feature numbered late is 0
in every older row, which is exact), searched through an exact index: the rows sorted along
the feature that spreads them most, visited outwards from the query until the gap alone is
more than the k-th distance found (:mod:`~streamlearn.models.neighbor_index`), the k best
kept in a small sorted buffer. Numbers are standardized online by default, as a distance
needs.

>>> from streamlearn.models import KNNClassifier
>>> model = KNNClassifier(n_neighbors=3)
>>> for i in range(200):
...     model.learn_one({"height": 150 + i % 20}, "short")
...     model.learn_one({"height": 180 + i % 20}, "tall")
>>> model.predict_one({"height": 155}), model.predict_one({"height": 195})
('short', 'tall')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numba as nb
import numpy as np

from streamlearn.base import register
from streamlearn.base.classes import MAX_CLASSES
from streamlearn.features.hasher import FeatureHasher
from streamlearn.models.feature_ids import capacity, grown
from streamlearn.models.neighbor_index import empty_index, insert, nearest, rebuild, replace
from streamlearn.models.rows import ClassRows, RowModel, ValueRows
from streamlearn.models.tree.base import positive

POSITION, FILLED, LEARNED = range(3)


class Window(NamedTuple):
    """The events a neighbours learner remembers.

    Parameters
    ----------
    rows
        ``(window_size, features)`` the dense rows learned, oldest overwritten first.
    labels
        Their labels (class ids or targets).
    present
        Per feature, whether a row learned had it.
    cursor
        ``[next position, rows filled, rows learned]``.
    index
        The rows sorted along one feature (:mod:`~streamlearn.models.neighbor_index`).

    Example
    -------
    >>> import numpy as np
    >>> from streamlearn.models.neighbor_index import empty_index
    >>> rows, labels, present = np.zeros((4, 2)), np.zeros(4), np.zeros(2, np.bool_)
    >>> window = Window(rows, labels, present, np.zeros(3, np.int64), empty_index(4))
    >>> window.rows.shape
    (4, 2)
    """

    rows: np.ndarray
    labels: np.ndarray
    present: np.ndarray
    cursor: np.ndarray
    index: tuple


@nb.njit(cache=True)
def run_knn_ops(rows, schedule, start, memory, k, classify, out):
    """A schedule over the window: predict rows (``out``: class shares weighted by inverse
    distance, or the neighbours' mean), learn them (into the window, the oldest out), or
    both in that order. ``present[f]``: whether a row with feature f was learned (a
    feature none was learned with is 0 in every row: it adds its square to every
    distance, whether or not it is numbered yet). ``memory`` is :class:`Window`'s arrays."""
    ids, values = rows
    ops, op_rows, targets = schedule
    window, labels, present, state, index = memory
    n_features = window.shape[1]
    if index[3][0] < 0:
        rebuild(window, state[FILLED], index)
    dense = np.zeros(n_features)
    distances = np.zeros(k)
    found = np.zeros(k, np.int64)
    for i in range(start, len(ops)):
        x_ids, x_values = ids[op_rows[i]], values[op_rows[i]]
        if ops[i] != 1 and state[FILLED] > 0:
            extra = 0.0
            for s in range(len(x_ids)):
                f = x_ids[s]
                if 0 <= f < n_features and present[f]:
                    dense[f] = x_values[s]
                else:
                    extra += x_values[s] * x_values[s]
            n = nearest(window, index, state[FILLED], (dense, extra), k, distances, found)
            dense[:] = 0.0
            if classify:
                _vote(labels, distances, found, n, out[i])
            else:
                total = 0.0
                for j in range(n):
                    total += labels[found[j]]
                out[i, 0] = total / n
        if ops[i] != 0:
            at, filled = state[POSITION], state[FILLED]
            window[at, :] = 0.0
            for s in range(len(x_ids)):
                f = x_ids[s]
                if 0 <= f < n_features:
                    window[at, f] = x_values[s]
                    present[f] = True
            labels[at] = targets[i]
            if filled == len(window):  # the oldest row made way
                replace(index, filled, at, window[at, index[3][0]])
            else:
                insert(index, filled, at, window[at, index[3][0]])
            state[POSITION] = (at + 1) % len(window)
            state[FILLED] = min(filled + 1, len(window))
            state[LEARNED] += 1
            if state[LEARNED] % len(window) == 0:  # the axis that spreads the rows may move
                rebuild(window, state[FILLED], index)
    return len(ops)


@nb.njit(inline="always")
def _vote(labels, distances, found, n, out):
    """Each neighbour's class gets 1/distance (the neighbours at distance 0 alone, if
    there are any), normalized."""
    exact = distances[0] == 0.0
    total = 0.0
    for j in range(n):
        if exact and distances[j] > 0.0:
            break
        w = 1.0 if exact else 1.0 / np.sqrt(distances[j])
        out[int(labels[found[j]])] += w
        total += w
    for c in range(len(out)):
        out[c] /= total


class _Neighbours(RowModel):
    """What both learners share: the window and its state."""

    classify = True

    def _window(self, n_neighbors: int, window_size: int) -> None:
        self.n_neighbors = int(positive("n_neighbors", n_neighbors))
        self.window_size = int(positive("window_size", window_size))
        if self.n_neighbors > self.window_size:
            raise ValueError("n_neighbors cannot be more than window_size")
        self.window = np.zeros((self.window_size, 1))
        self.present = np.zeros(1, np.bool_)
        self.labels = np.zeros(self.window_size)
        self.cursor = np.zeros(3, np.int64)
        self.search = empty_index(self.window_size)

    def _neighbour_params(self) -> dict[str, Any]:
        return {
            "n_neighbors": self.n_neighbors,
            "window_size": self.window_size,
            "feature_cap": self.feature_cap,
        }

    @property
    def n_learned(self) -> int:
        return int(self.cursor[LEARNED])

    def _fit(self) -> None:
        f = len(self.feature_ids)
        if f > self.window.shape[1]:
            width = min(capacity(f), max(self.feature_cap, f))
            self.window = grown(self.window, (self.window_size, width))
            self.present = grown(self.present, (width,))

    def _kernel(self, rows, schedule, start, out) -> int:
        memory = Window(self.window, self.labels, self.present, self.cursor, self.search)
        return run_knn_ops(rows, schedule, start, memory, self.n_neighbors, self.classify, out)

    def _arrays(self) -> dict[str, np.ndarray]:
        f = len(self.feature_ids)
        return {
            "window": self.window[:, :f].copy(),
            "labels": self.labels.copy(),
            "present": self.present[:f].copy(),
            "cursor": self.cursor.copy(),
        }

    def _load_arrays(self, arrays: Mapping[str, np.ndarray]) -> None:
        window, labels = np.asarray(arrays["window"]), np.asarray(arrays["labels"])
        state = np.asarray(arrays["cursor"]).astype(np.int64)
        if window.shape != (self.window_size, len(self.feature_ids)) or labels.shape != (
            self.window_size,
        ):
            raise ValueError("neighbours state: the window does not fit the settings")
        if state.shape != (3,) or not (
            0 <= state[POSITION] < self.window_size and 0 <= state[FILLED] <= self.window_size
        ):
            raise ValueError("neighbours state: window position out of range")
        floats = (window.astype(np.float64), labels.astype(np.float64))
        if not all(np.isfinite(a).all() for a in floats):
            raise ValueError("neighbours state: non-finite values")
        self._check_labels(floats[1][: state[FILLED]])
        present = np.asarray(arrays["present"])
        if present.shape != (len(self.feature_ids),) or present.dtype != np.bool_:
            raise ValueError("neighbours state: the features seen do not fit")
        self.window, self.labels, self.cursor = floats[0].copy(), floats[1].copy(), state.copy()
        self.present = present.copy()
        self.search = empty_index(self.window_size)  # built again from the window
        self._fit()

    def _check_labels(self, labels: np.ndarray) -> None:
        """Refuse labels the kernel cannot read."""


@register
class KNNClassifier(_Neighbours, ClassRows):
    """k-nearest neighbours for two or more classes (labels str, int or bool): each class
    weighs the inverse distances of the neighbours that have it.

    Parameters
    ----------
    n_neighbors
        Neighbours that vote.
    window_size
        The last events learned that are searched (older ones are forgotten).
    feature_cap
        Hashed features it tells apart (later ones are not seen). Memory is
        ``window_size × feature_cap × 8`` bytes at most.
    max_classes
        At most this many classes.
    features, **feature_settings
        The featurizer (:class:`~streamlearn.features.FeatureHasher`) or its settings;
        numbers are standardized online unless ``standardize=False``.

    Example
    -------
    Elec2, whether the price goes up, progressively validated:

    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> report = progressive_val_score_one(KNNClassifier(), elec2.stream(limit=5000))
    >>> round(report.metrics["accuracy"], 3)
    0.839
    """

    def __init__(
        self,
        n_neighbors: int = 5,
        window_size: int = 1000,
        feature_cap: int = 64,
        max_classes: int = MAX_CLASSES,
        *,
        features: FeatureHasher | Mapping[str, Any] | None = None,
        **feature_settings: Any,
    ) -> None:
        super().__init__(features, feature_settings, feature_cap, standardize=True)
        self._number_classes(max_classes)
        self._window(n_neighbors, window_size)

    def params(self) -> dict[str, Any]:
        return self._neighbour_params() | {
            "max_classes": self.max_classes,
            "features": self.features.params(),
        }

    def _check_labels(self, labels: np.ndarray) -> None:
        if ((labels < 0) | (labels >= len(self.index)) | (labels != np.floor(labels))).any():
            raise ValueError("neighbours state: a label that is not a class id")


@register
class KNNRegressor(_Neighbours, ValueRows):
    """k-nearest neighbours for a number: the mean of the neighbours' targets.

    Parameters
    ----------
    n_neighbors, window_size, feature_cap, features, **feature_settings
        As in :class:`KNNClassifier`.

    Example
    -------
    The demand of the Elec2 stream from its other columns, progressively validated:

    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.evaluate import progressive_val_score_one
    >>> report = progressive_val_score_one(KNNRegressor(), elec2.demand(limit=5000))
    >>> round(report.metrics["mae"], 4)
    0.0617
    """

    classify = False

    def __init__(
        self,
        n_neighbors: int = 5,
        window_size: int = 1000,
        feature_cap: int = 64,
        *,
        features: FeatureHasher | Mapping[str, Any] | None = None,
        **feature_settings: Any,
    ) -> None:
        super().__init__(features, feature_settings, feature_cap, standardize=True)
        self._window(n_neighbors, window_size)

    def params(self) -> dict[str, Any]:
        return self._neighbour_params() | {"features": self.features.params()}
