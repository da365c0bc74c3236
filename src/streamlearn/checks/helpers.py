"""What the checks share: predictions both ways, state comparison, expected errors."""

from __future__ import annotations

import copy
import pickle
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from streamlearn.base import Classifier, MulticlassClassifier
from streamlearn.checks.data import columns_of


def predictions_one(
    model: Any, events: list[dict], targets: list, learn: bool = True
) -> np.ndarray:
    """Predictions made one event at a time (class probabilities as rows for multiclass)."""
    out = []
    for x, y in zip(events, targets, strict=True):
        if isinstance(model, Classifier):
            out.append(model.predict_proba_one(x)[True])
        elif isinstance(model, MulticlassClassifier):
            out.append(model.predict_proba_one(x))
        else:
            out.append(model.predict_one(x))
        if learn:
            model.learn_one(x, y)
    if isinstance(model, MulticlassClassifier):
        return np.array([[p.get(c, 0.0) for c in model.classes] for p in out]).reshape(
            len(out), len(model.classes)
        )
    return np.array(out)


def predictions_many(model: Any, events: list[dict]) -> np.ndarray:
    columns = columns_of(events)
    if isinstance(model, Classifier | MulticlassClassifier):
        return model.predict_proba_many(columns)
    return model.predict_many(columns)


def float_arrays(model: Any) -> list[np.ndarray]:
    return [a for a in model.state().arrays.values() if a.dtype.kind == "f"]


def assert_same_state(a: Any, b: Any, ignore: tuple[str, ...] = ()) -> None:
    """Two learners hold the same state, bit for bit (but for the ``ignore`` keys of their
    JSON part, such as a drift record's wall-clock ``detected_at``)."""
    sa, sb = a.state(), b.state()
    assert sa.kind == sb.kind and sa.params == sb.params
    assert _without(sa.meta, ignore) == _without(sb.meta, ignore), "their JSON parts differ"
    assert sa.arrays.keys() == sb.arrays.keys()
    for key in sa.arrays:
        np.testing.assert_array_equal(sa.arrays[key], sb.arrays[key], err_msg=key)


def _without(value: Any, keys: tuple[str, ...]) -> Any:
    """``value`` (JSON) without ``keys``, at any depth."""
    if isinstance(value, dict):
        return {k: _without(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [_without(v, keys) for v in value]
    return value


@contextmanager
def raises(kind: type[BaseException], match: str | None = None) -> Iterator[None]:
    """The block must raise ``kind`` (with ``match`` in its message)."""
    try:
        yield
    except kind as exc:
        if match is not None and not re.search(match, str(exc)):
            raise AssertionError(f"{kind.__name__} {str(exc)!r} does not match {match!r}") from exc
    else:
        raise AssertionError(f"expected {kind.__name__}, nothing was raised")


def assert_copies_hold_the_state(model: Any) -> None:
    """``copy.deepcopy`` and an in-process ``pickle`` round trip hold ``model``'s state,
    in arrays of their own."""
    for other in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert type(other) is type(model)
        assert_same_state(model, other)
        mine, theirs = float_arrays(model), float_arrays(other)
        assert not any(np.shares_memory(a, b) for a, b in zip(mine, theirs, strict=True))
