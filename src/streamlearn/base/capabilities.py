"""What a learner offers the engine, declared by the classes it derives from.

The runner and the service never probe a learner for methods: a learner that can run in a
lane derives from :class:`ServesRows`; one whose drift handling leaves records derives from
:class:`ReportsDrift`; a multi-task model from :class:`MultiTask`; one whose weights can be
averaged across scale-out workers from :class:`Mixable`. ``isinstance`` then answers what the
engine may do with it.

>>> from streamlearn.models import EngagementRanker, LogisticRegression
>>> isinstance(LogisticRegression(), ServesRows), isinstance(LogisticRegression(), MultiTask)
(True, False)
>>> ranker = EngagementRanker({"click": "binary"})
>>> isinstance(ranker, MultiTask), ranker.task
(True, 'ranking')
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

import numpy as np

# The operations of a runner schedule (``run_ops``): predict a row, learn it, or both in
# that order. One definition for the runner and every model that runs schedules.
PREDICT, LEARN, PREDICT_LEARN = 0, 1, 2


class Task(StrEnum):
    """What a learner predicts. A ``StrEnum``: ``Task.BINARY == "binary"`` holds, so a task
    reads and writes as its name in configs, snapshots and JSON.

    Example
    -------
    >>> from streamlearn.models import LogisticRegression
    >>> LogisticRegression().task == "binary", Task("regression") is Task.REGRESSION
    (True, True)
    """

    BINARY = "binary"
    MULTICLASS = "multiclass"
    REGRESSION = "regression"
    BANDIT = "bandit"
    RANKING = "ranking"

    def __repr__(self) -> str:  # reads as the name it stands for
        return repr(self.value)

    @property
    def scored_as(self) -> Task:
        """The task whose metrics score it: rewards and a ranker's expected engagement are
        scored as regressions."""
        return self if self in (Task.BINARY, Task.MULTICLASS) else Task.REGRESSION


class ServesRows(ABC):
    """A learner that the runner's lanes run: it encodes events as they are served and runs a
    schedule of predictions and delayed labels on those rows in one compiled call.

    Example
    -------
    >>> from streamlearn.models import GaussianNB, LogisticRegression
    >>> isinstance(LogisticRegression(), ServesRows), isinstance(GaussianNB(), ServesRows)
    (True, True)
    """

    @abstractmethod
    def serve_many(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Featurize a batch as it is served: ``(hashes, values)``, one row per event (valid
        until the next call: a learner may reuse the arrays)."""

    @abstractmethod
    def run_ops(
        self,
        hashes: np.ndarray,
        values: np.ndarray,
        ops: np.ndarray,
        op_rows: np.ndarray,
        targets: np.ndarray,
    ) -> np.ndarray:
        """Run a schedule (``PREDICT``/``LEARN``/``PREDICT_LEARN`` on rows); returns each
        operation's prediction, made before its learning. May stop early (a reset that
        replaced the featurizer): then fewer outputs than operations."""

    def predict_learn_served(
        self, X: Any, targets: np.ndarray, tail: int
    ) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
        """Serve a batch whose labels come with its events, each learned right after its
        prediction: the rows of the last ``tail`` events as served (``(hashes, values)``),
        and every prediction. The same as :meth:`serve_many` then a ``PREDICT_LEARN`` per
        row, in order (a learner may do it faster, with the same results). May stop early,
        as :meth:`run_ops` does: then the rows are those of the last ``tail`` events
        done."""
        hashes, values = self.serve_many(X)
        ops = np.full(len(hashes), PREDICT_LEARN, np.int8)
        out = self.run_ops(hashes, values, ops, np.arange(len(hashes)), targets)
        done = slice(max(len(out) - tail, 0), len(out))
        return (hashes[done], values[done]), out


class ServedByCopies(ABC):
    """A learner whose unchanging copy may answer events for it (the HTTP service's serving
    copy): the copy encodes each event's row without changing anything (:meth:`encode_rows`)
    and predicts from it (``run_ops`` with predictions only); the learner takes in what its
    copies served (:meth:`observe_served`) and, when the labels come, learns each event from
    the very row it was served with. Rows are shared only between featurizers of the same
    :meth:`encoder_settings`.

    Example
    -------
    >>> from streamlearn.models import LogisticRegression
    >>> isinstance(LogisticRegression(), ServedByCopies)
    True
    """

    @abstractmethod
    def encode_rows(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """The rows ``serve_many`` would give, with the statistics as they are now: the
        model and its featurizer do not change."""

    @abstractmethod
    def encode_row(self, x: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """One event's row (``hashes``, ``values``: 1-d), as :meth:`encode_rows` would
        encode it (the fast way for a single event)."""

    @abstractmethod
    def observe_served(self, X: Any, hashes: np.ndarray, values: np.ndarray) -> None:
        """Take in events a copy served, as ``serve_many`` would (running statistics of the
        featurizer, an entity's history), without making rows; ``hashes`` and ``values``
        are the rows served, which this may complete in place where they point into the
        learner's own state (an entity's row in its store), never changing a feature."""

    @abstractmethod
    def encoder_settings(self) -> dict[str, Any]:
        """What two copies must share for one's rows to be the other's."""


class ReportsUncertainty(ABC):
    """A regressor whose predictions come with a predictive variance (the service answers
    with a standard deviation and a 95% interval).

    Example
    -------
    >>> from streamlearn.models import BayesianLinearRegression, LinearRegression
    >>> isinstance(BayesianLinearRegression(), ReportsUncertainty)
    True
    >>> isinstance(LinearRegression(), ReportsUncertainty)
    False
    """

    @abstractmethod
    def predict_dist_many(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Predictive means and variances of a batch."""


class ReportsDrift(ABC):
    """A learner that watches its own errors: ``drifts`` holds one record per detection, with
    the ``index`` of the label (counted over ``n_seen``) that tipped the detector; the runner
    stamps each with where and when in the stream it happened.

    Example
    -------
    >>> from streamlearn.adaptation import adaptive
    >>> from streamlearn.drift import ADWIN
    >>> from streamlearn.models import LogisticRegression
    >>> model = adaptive(LogisticRegression(), ADWIN())
    >>> isinstance(model, ReportsDrift), model.drifts, model.n_seen
    (True, [], 0)
    """

    drifts: list[dict[str, Any]]
    n_seen: int


class MultiTask(ABC):
    """A model learned from feedback per task (click, like, dwell …), by event id, when each
    event's feedback window closes.

    Example
    -------
    >>> from streamlearn.models import EngagementRanker
    >>> ranker = EngagementRanker(tasks={"click": "binary", "dwell": "regression"})
    >>> isinstance(ranker, MultiTask), sorted(ranker.tasks)
    (True, ['click', 'dwell'])
    """

    tasks: Mapping[str, str]  # task name → "binary" or "regression"

    @abstractmethod
    def window_labels(self, feedback: Sequence[Mapping[str, float]]) -> np.ndarray:
        """One row per event, one column per task, from the feedback that came."""

    @abstractmethod
    def engagement(self, labels: np.ndarray) -> np.ndarray:
        """What the served score estimates, from rows of :meth:`window_labels`."""


class Mixable(ABC):
    """A model whose named state arrays are averaged across scale-out workers (without it:
    a linear model's ``table`` and ``intercept``).

    Example
    -------
    >>> from streamlearn.models import EngagementRanker, LogisticRegression
    >>> ranker = EngagementRanker(tasks={"click": "binary"}, bits=8)
    >>> isinstance(ranker, Mixable), isinstance(LogisticRegression(), Mixable)
    (True, False)
    >>> len(ranker.mixable_arrays) > 0
    True
    """

    @property
    @abstractmethod
    def mixable_arrays(self) -> list[str]:
        """The names of the state arrays that mixing averages."""


def task_names(model: Any) -> tuple[str, ...]:
    """A multi-task model's task names; none for any other learner."""
    return tuple(model.tasks) if isinstance(model, MultiTask) else ()


def drift_records(model: Any) -> list[dict[str, Any]]:
    """The drift records a learner has left (none for one that does not report drift)."""
    return model.drifts if isinstance(model, ReportsDrift) else []
