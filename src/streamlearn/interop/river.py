"""River interop, both ways (River is optional: ``pip install river``).

- :func:`to_river` wraps any of our classifiers or regressors as a River estimator, for
  River pipelines and ``river.evaluate.progressive_val_score``.
- :class:`RiverModel` runs any River classifier or regressor inside our runner and service.
  Its snapshot is River's pickle — the only pickle in the project, refused on load unless
  this process has opted in with :func:`allow_pickle` (or a run config's
  ``model.allow_pickle = true``): a snapshot is code, only load your own.
"""

from __future__ import annotations

import functools
import pickle
from collections.abc import Mapping
from typing import Any, Self

import numpy as np

from streamlearn.base import Classifier, Learner, Regressor, State, Task, register
from streamlearn.base.extras import require
from streamlearn.features.event_rows import events_of
from streamlearn.models.evented import EventByEvent

_ALLOWED = {"pickle": False}


def allow_pickle(allowed: bool = True) -> None:
    """Let this process load :class:`RiverModel` snapshots (pickles: trusted files only)."""
    _ALLOWED["pickle"] = bool(allowed)


# ---------------------------------------------------------------------- ours inside River
def to_river(learner: Learner) -> Any:
    """One of our learners as a River estimator (classifier or regressor)."""
    classifier, regressor = _river_classes()
    if isinstance(learner, Classifier):
        return classifier(learner)
    if isinstance(learner, Regressor):
        return regressor(learner)
    raise ValueError(f"{type(learner).__name__}: only classifiers and regressors go to River")


@functools.cache
def _river_classes() -> tuple[type, type]:
    """The wrapper classes, made once River is imported (it is optional)."""
    base = require("river.base", "river")

    class Wrapped(base.Estimator):
        """What both wrappers share: River's ``clone`` makes a fresh, untrained learner
        (River would deep-copy a parameter it does not know, training and all)."""

        def __init__(self, learner: Learner) -> None:
            self.learner = learner

        def clone(self, new_params: dict | None = None, include_attributes: bool = False):
            learner = (new_params or {}).get("learner", self.learner.clone())
            return type(self)(learner)

    class RiverClassifier(Wrapped, base.Classifier):
        """A streamlearn classifier, seen by River."""

        def learn_one(self, x: dict, y: Any) -> None:
            self.learner.learn_one(x, y)

        def predict_proba_one(self, x: dict) -> dict[bool, float]:
            return self.learner.predict_proba_one(x)

    class RiverRegressor(Wrapped, base.Regressor):
        """A streamlearn regressor, seen by River."""

        def learn_one(self, x: dict, y: Any) -> None:
            self.learner.learn_one(x, y)

        def predict_one(self, x: dict) -> float:
            return self.learner.predict_one(x)

    return RiverClassifier, RiverRegressor


def river_estimator(spec: str) -> Any:
    """A River estimator from a spec such as
    ``"preprocessing.StandardScaler | linear_model.LogisticRegression"`` (each step built
    with its defaults; ``|`` makes a pipeline)."""
    import importlib

    compose = require("river.compose", "river")
    steps = []
    for part in (p.strip() for p in spec.split("|")):
        module, _, name = part.rpartition(".")
        try:
            steps.append(getattr(importlib.import_module(f"river.{module}"), name)())
        except (ImportError, AttributeError, ValueError):
            raise ValueError(
                f"unknown River estimator {part!r} (write module.Class, as "
                "linear_model.LogisticRegression)"
            ) from None
    return steps[0] if len(steps) == 1 else compose.Pipeline(*steps)


# ---------------------------------------------------------------------- River inside ours
@register
class RiverModel(EventByEvent, Learner):
    """A River classifier or regressor as one of our learners (batches are loops over
    events; the runner's rows hold each event, see :mod:`streamlearn.models.evented`).

    Parameters
    ----------
    estimator
        A River estimator (``river.base.Classifier`` for 0/1 labels, or a regressor).

    Example
    -------
    >>> from river import compose, evaluate, metrics, preprocessing
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.models import LogisticRegression
    >>> model = compose.Pipeline(preprocessing.StandardScaler(),
    ...                          to_river(LogisticRegression(bits=12, standardize=False)))
    >>> evaluate.progressive_val_score(elec2.stream(limit=5000), model, metrics.Accuracy())
    Accuracy: 8...%
    """

    def __init__(self, estimator: Any = None) -> None:
        if estimator is None:
            raise ValueError("give a River estimator")
        self.estimator = estimator
        self.task = Task(_river_task(estimator))

    def params(self) -> dict[str, Any]:
        return {}  # the estimator travels in the state (as River's pickle)

    def clone(self) -> Self:
        return type(self)(self.estimator.clone())

    def state(self) -> State:
        blob = np.frombuffer(pickle.dumps(self.estimator), np.uint8).copy()
        return State(
            type(self).__name__,
            {},
            {"river_pickle": blob},
            {"river_class": type(self.estimator).__name__},
        )

    @classmethod
    def from_state(cls, state: State) -> Self:
        if not _ALLOWED["pickle"]:
            raise ValueError(
                "this snapshot holds a River model, which is a pickle: load it "
                "only if you trust it, after interop.river.allow_pickle() "
                "(or model.allow_pickle = true in the config)"
            )
        return cls(pickle.loads(np.asarray(state.arrays["river_pickle"], np.uint8).tobytes()))

    # ------------------------------------------------------------------ one event
    def _label(self, y: Any) -> Any:
        if self.task == "binary":
            if y in (0, 1, True, False) and not isinstance(y, str):
                return bool(y)
            raise ValueError(f"a binary label must be 0/1 or a bool, got {y!r}")
        value = float(y)
        if not np.isfinite(value):
            raise ValueError(f"a regression target must be finite, got {y!r}")
        return value

    def learn_one(self, x: Mapping[str, Any], y: Any) -> None:
        self.estimator.learn_one(dict(x), self._label(y))

    def predict_proba_one(self, x: Mapping[str, Any]) -> dict[bool, float]:
        proba = self.estimator.predict_proba_one(dict(x))
        p = float(proba.get(True, 0.0))
        return {False: 1.0 - p, True: p}

    def predict_one(self, x: Mapping[str, Any]) -> Any:
        if self.task == "binary":
            return self.predict_proba_one(x)[True] >= 0.5
        return float(self.estimator.predict_one(dict(x)))

    def _score(self, x: Mapping[str, Any]) -> float:
        return self.predict_proba_one(x)[True] if self.task == "binary" else self.predict_one(x)

    # ------------------------------------------------------------------ batches
    def _events(self, X: Any) -> list[dict[str, Any]]:
        return events_of(X)

    def learn_many(self, X: Any, y: Any) -> None:
        for x, target in zip(self._events(X), _labels(y), strict=True):
            self.learn_one(x, target)

    def predict_many(self, X: Any) -> np.ndarray:
        return np.array([self._score(x) for x in self._events(X)], np.float64)

    def predict_proba_many(self, X: Any) -> np.ndarray:
        return self.predict_many(X)

    def predict_learn_many(self, X: Any, y: Any) -> np.ndarray:
        out = []
        for x, target in zip(self._events(X), _labels(y), strict=True):
            out.append(self._score(x))
            self.learn_one(x, target)
        return np.array(out, np.float64)


def _river_task(estimator: Any) -> str:
    """binary or regression, from the estimator (a pipeline's last step)."""
    base, compose = require("river.base", "river"), require("river.compose", "river")
    final = (
        list(estimator.steps.values())[-1]
        if isinstance(estimator, compose.Pipeline)
        else (estimator)
    )
    if isinstance(final, base.Classifier):
        return "binary"
    if isinstance(final, base.Regressor):
        return "regression"
    raise ValueError(f"{type(estimator).__name__} is not a River classifier or regressor")


def _labels(y: Any) -> list[Any]:
    if hasattr(y, "to_pylist"):
        return y.to_pylist()
    return y.tolist() if hasattr(y, "tolist") else list(y)
