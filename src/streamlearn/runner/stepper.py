"""The lanes of a run, and one micro-batch through them.

The champion's lane serves: its predictions are logged with the version that made them, the
labels it refuses and the events that make a batch fail go to the dead letters. The
challengers' lanes learn in shadow on the same events. An operator's rollback request is
swapped in between micro-batches. Where the batches come from, and checkpoints, are the
:class:`~streamlearn.runner.Runner`'s.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from streamlearn.base import Learner, drift_records
from streamlearn.base.predictions import logged_predictions
from streamlearn.registry import Registry
from streamlearn.registry.base import REQUESTED
from streamlearn.runner.guards import PromotionGate, RollbackGuard
from streamlearn.runner.join import JoinStore
from streamlearn.runner.lane import Lane
from streamlearn.runner.recovery import Recovery
from streamlearn.runner.summary import RunSummary
from streamlearn.runner.swaps import Swaps
from streamlearn.streams.batch import EventBatch
from streamlearn.streams.dead_letters import RejectLog
from streamlearn.streams.sinks import CsvPredictions, PredictionSink

log = logging.getLogger("streamlearn.runner")


def make_lanes(
    model: Learner,
    challengers: Sequence[Learner] | Mapping[str, Learner],
    *,
    join: JoinStore | None,
    curves: Sequence[Any],
    **options: Any,
) -> list[Lane]:
    """The champion's lane (with ``join`` and ``curves``) and a lane per challenger, by name
    (a sequence: ``challenger 1``, ``challenger 2`` …), all with the same ``options``."""
    named = (
        challengers
        if isinstance(challengers, Mapping)
        else {f"challenger {k}": c for k, c in enumerate(challengers, start=1)}
    )
    lanes = [Lane(model, join=join, curves=curves, **options)]
    return lanes + [Lane(c, name=name, **options) for name, c in named.items()]


class Stepper:
    """Steps micro-batches through ``lanes`` (the champion first; see the module doc).

    Parameters
    ----------
    lanes
        The champion's lane, then the challengers' (see :func:`make_lanes`).
    registry, gate, rollback
        Where versions are, and what promotes a challenger or rolls the champion back (as
        for :class:`~streamlearn.runner.Runner`).
    predictions
        Where every prediction goes: a CSV file's path, or a sink.
    dead_letters
        A JSON-lines file for rejected rows (row and reason).
    mixer
        A :class:`~streamlearn.scaleout.mixing.ParameterMixer` (or None).

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.models import LogisticRegression
    >>> from streamlearn.runner import Runner
    >>> from streamlearn.streams import LiveEvents
    >>> events, labels = zip(*elec2.stream(limit=1000))
    >>> source = LiveEvents()
    >>> _ = source.put(list(events), labels=[float(y) for y in labels])
    >>> source.close()
    >>> runner = Runner(LogisticRegression(bits=12), source)
    >>> summary = runner.run()
    >>> isinstance(runner, Stepper), [lane.name for lane in runner.lanes], summary.served
    (True, ['champion'], 1000)
    """

    def __init__(
        self,
        lanes: list[Lane],
        *,
        registry: Registry | None,
        gate: PromotionGate | None,
        rollback: RollbackGuard | None,
        predictions: str | os.PathLike | PredictionSink | None,
        dead_letters: str | os.PathLike | None,
        mixer: Any,
    ) -> None:
        self.lanes = lanes
        self.registry = registry
        if isinstance(predictions, str | os.PathLike):
            predictions = CsvPredictions(predictions)
        self.predictions = predictions
        self.dead_letters = RejectLog(Path(dead_letters) if dead_letters else None)
        self.mixer = mixer
        self.rejected = 0
        self.summary = RunSummary()
        self.swaps = Swaps(registry, gate, rollback, self.summary)
        self.recovery = Recovery(registry)
        self._rollback_to: str | None = None

    def request_rollback(self, version_id: str) -> None:
        """Serve ``version_id``'s model from the next micro-batch on (thread-safe: the
        trainer's loop makes the swap)."""
        self._rollback_to = version_id

    # ------------------------------------------------------------------ the champion
    @property
    def champion(self) -> Lane:
        return self.lanes[0]

    @property
    def model(self) -> Learner:
        return self.champion.model

    @property
    def join(self) -> JoinStore:
        return self.champion.join

    @property
    def counters(self) -> dict[str, int]:
        """The champion's counts; ``rejected`` adds the rows the source turned away."""
        counts = self.champion.counters
        return counts | {"rejected": self.rejected + counts["rejected"]}

    @property
    def version(self) -> str:
        """The version of the model serving now: the last one saved, resumed or swapped in
        (``unsaved`` without a registry)."""
        return self.champion.version

    def _step_or_isolate(self, batch: EventBatch) -> None:
        """Run ``batch``; if it fails, its failing events become dead letters and the run
        goes on without them (see :mod:`~streamlearn.runner.recovery`)."""
        try:
            self.step(batch)
        except Exception as exc:  # any failure: isolate its events, or end the run
            isolated = self.recovery.isolate(self.lanes, batch, exc, self.step)
            self.dead_letters.add(isolated)
            self.rejected += len(isolated)
        else:
            self.recovery.keep(batch)

    def step(self, batch: EventBatch, replayed: bool = False) -> np.ndarray:
        """One micro-batch through every lane; returns the champion's predictions.
        ``replayed``: run again after going back to a checkpoint (nothing is logged)."""
        if self._rollback_to is not None:
            target, self._rollback_to = self._rollback_to, None
            self.swaps.swap_to(self.champion, self.version, target, REQUESTED)
            self.recovery.forget()
            if self.registry is not None:
                self.registry.clear_request(target)
        known = len(drift_records(self.model))
        predictions = self.champion.step(batch)
        if not replayed:
            self.dead_letters.add(self.champion.refused)  # labels the model cannot take
            for record in drift_records(self.model)[known:]:
                log.info("drift", extra={"event": "drift", "lane": self.champion.name} | record)
        self.champion.refused = []
        if self.predictions is not None and len(batch) and not replayed:
            self._log_predictions(batch, predictions, self.champion.versions_of(batch))
        mine = replace(batch, served=None)  # a challenger serves every event itself
        for challenger in self.lanes[1:]:
            challenger.step(mine)
        return predictions

    def _mix_if_due(self) -> None:
        learned = self.champion.counters["learned"]
        if self.mixer is not None and self.mixer.due(learned):
            self.champion.model = self.mixer.mix(self.champion.model, learned)
            self.recovery.forget()

    def _log_predictions(
        self, batch: EventBatch, predictions: np.ndarray, versions: np.ndarray
    ) -> None:
        if predictions.ndim == 2:  # rows of class probabilities: the class and those
            predictions = logged_predictions(self.model.classes, predictions)
        self.predictions.write(batch.ids, batch.offsets, predictions, versions)
