"""Events a serving copy answered before they reached a lane (the HTTP service): which of a
batch's events those are for a lane's model, the version each prediction names, and the
batch's rows — the served ones as they were served, the others encoded by the lane's
model (see :class:`~streamlearn.base.ServedByCopies`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from streamlearn.base import Learner, ServedByCopies
from streamlearn.features.columns import taken
from streamlearn.streams.batch import EventBatch, Rows
from streamlearn.streams.decode import with_a_column


def answered(model: Learner, batch: EventBatch) -> np.ndarray | None:
    """Which events of the batch a serving copy of ``model`` answered already (their rows
    and predictions are the ones to keep), or None: the lane serves them all. Rows are taken
    only from a featurizer with the model's settings."""
    served = batch.served
    if served is None or not served.given.any() or not isinstance(model, ServedByCopies):
        return None
    return served.given if served.featurizer == model.encoder_settings() else None


def versions(batch: EventBatch, version: str, given: np.ndarray | None) -> np.ndarray:
    """The version that made each event's prediction: the serving copy's for the events
    ``given`` answered, ``version`` (the lane's) for the others."""
    out = np.full(len(batch), version, dtype=object)
    if given is not None:
        out[given] = batch.served.versions[given]
    return out


def rows(model: Any, batch: EventBatch, given: np.ndarray | None) -> Rows:
    """The batch's rows: those answered already as they were served (the model takes them
    in, see ``observe_served``), the others encoded now by ``model.serve_many``."""
    if not len(batch):
        return Rows.none()
    columns = with_a_column(batch.features, len(batch))
    if given is None:
        return Rows(*model.serve_many(columns))

    def rows_of(index: np.ndarray) -> dict[str, Any]:
        return {name: taken(column, index) for name, column in columns.items()}

    theirs, own = np.flatnonzero(given), np.flatnonzero(~given)
    kept = batch.served.rows.take(theirs)  # a copy: the model may complete it
    model.observe_served(rows_of(theirs), kept.hashes, kept.values)
    parts, order = [kept], [theirs]
    if len(own):
        parts.append(Rows(*model.serve_many(rows_of(own))))
        order.append(own)
    back = np.empty(len(batch), np.int64)
    back[np.concatenate(order)] = np.arange(len(batch))
    return Rows.stack(parts).take(back)
