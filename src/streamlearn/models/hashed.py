"""What every learner on hashed features shares: the featurizer, the one-event encoding
cache, encoding batches in chunks, and serving rows to the runner."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from streamlearn.base import Learner
from streamlearn.features.columns import as_columns, n_rows, rows
from streamlearn.features.hasher import FeatureHasher, as_features

CHUNK = 1 << 15  # events encoded at a time: bounds the memory of a batch call


class HashedModel(Learner):
    """A learner whose input goes through a :class:`~streamlearn.features.FeatureHasher`.

    The featurizer is composed into the model: ``LogisticRegression(features=FeatureHasher(
    bits=18, interactions=[("user", "ad")]))``, or its settings given to the model directly,
    ``LogisticRegression(bits=18, interactions=[("user", "ad")])``. The model's ``params()``
    hold them as one ``"features"`` record.

    Subclasses implement ``_run(hashes, values, targets, out, learn)``, the compiled loop
    over a chunk of encoded events; ``_run_many`` feeds it chunk by chunk.

    Parameters
    ----------
    features
        A :class:`~streamlearn.features.FeatureHasher`, or its settings as a dict.
    settings
        Featurizer settings given one by one (``bits=18``…); not with a hasher.
    defaults
        The subclass's own defaults for settings neither gives.

    Example
    -------
    >>> from streamlearn.models import LogisticRegression
    >>> model = LogisticRegression(bits=12, interactions=[("user", "ad")])
    >>> isinstance(model, HashedModel), model.features.bits, model.features.interactions
    (True, 12, [('user', 'ad')])
    """

    def __init__(
        self,
        features: FeatureHasher | Mapping[str, Any] | None,
        settings: Mapping[str, Any],
        **defaults: Any,
    ) -> None:
        """``features`` (a hasher, or its settings) or the ``settings`` given one by one,
        over this model's ``defaults`` (see :func:`~streamlearn.features.hasher.as_features`)."""
        self.features = as_features(features, settings, type(self).__name__, **defaults)
        self._cached: tuple[Mapping, dict, Any] | None = None  # (event, its copy, encoded)

    def _encode(self, x: Mapping[str, Any], pack: bool = False) -> Any:
        """``x`` encoded (an :class:`EncodedEvent`); with ``pack``, packed for a compiled
        one-event kernel (``(data, layout)``) where it can be."""
        # A prediction followed by learning the same, unchanged event hashes it only once
        # (a packed event only for a caller who asked for one).
        cached = self._cached
        fits = cached is not None and (pack or type(cached[2]) is not tuple)
        if fits and cached[0] is x and cached[1] == x:
            return cached[2]
        event = (pack and self.features.pack_one(x)) or self.features.encode_one(x)
        self._cached = (x, dict(x), event)
        return event

    def _run(self, hashes, values, targets, out, learn: bool) -> None:
        raise NotImplementedError

    def _run_many(self, X: Any, y: Any, learn: bool) -> np.ndarray:
        columns = as_columns(X)
        n = n_rows(columns)
        targets = self._targets_many(y, n) if learn else np.empty(0)
        out = np.empty(n)
        if learn:
            self._cached = None
        for start, stop, hashes, values in self._encoded_chunks(columns, n, learn):
            self._run(hashes, values, targets[start:stop] if learn else out, out[start:stop], learn)
        return out

    def _encoded_chunks(
        self, columns: dict[str, Any], n: int, learn: bool
    ) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
        """(start, stop, hashes, values) for each chunk of at most CHUNK events. The arrays
        of one chunk are reused for the next (fresh ones would be fresh pages to fault in,
        chunk after chunk): use them before asking for the next."""
        reused: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for start in range(0, n, CHUNK):
            stop = min(start + CHUNK, n)
            chunk = {name: rows(col, start, stop) for name, col in columns.items()}
            hashes, values = self.features.encode_many(chunk, learn=learn, reuse=reused)
            yield start, stop, hashes, values

    def _targets_many(self, y: Any, n: int) -> np.ndarray:
        raise NotImplementedError

    def learn_many(self, X: Any, y: Any) -> None:
        self._run_many(X, y, learn=True)

    def predict_learn_many(self, X: Any, y: Any) -> np.ndarray:
        return self._run_many(X, y, learn=True)

    def encode_rows(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Rows as :meth:`serve_many` gives them, by the featurizer as it stands (nothing
        changes: a serving copy's answer)."""
        return self.features.encode_many(as_columns(X), learn=False)

    def encode_row(self, x: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        event = self.features.encode_one(x)
        return event.hashes, event.values

    def observe_served(self, X: Any, hashes: np.ndarray, values: np.ndarray) -> None:
        """The featurizer's statistics take in events a serving copy answered (the rows are
        the copy's: these are not kept)."""
        self._cached = None
        self.features.encode_many(as_columns(X), learn=True)

    def encoder_settings(self) -> dict[str, Any]:
        return {"model": type(self).__name__} | self.features.params()

    def serve_many(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Featurize a batch as it is served: ``(hashes, values)``, one row per event. The
        featurizer's statistics (online scaling, missing columns) take in each event as it is
        served, as in ``predict_learn_many``; the model does not change. The arrays are
        those of the previous call, overwritten (fresh pages would be faulted in, batch after
        batch): copy what must outlive the next call."""
        columns = as_columns(X)
        self._cached = None
        reused = self.__dict__.setdefault("_served_rows", {})
        return self.features.encode_many(columns, learn=True, reuse=reused)
