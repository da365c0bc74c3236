"""Which model serves: a challenger that significantly beats the champion takes its place
(the promotion gate), a champion significantly worse than an earlier version goes back to it
(the rollback guard), and a rollback an operator asks for is carried out. Every swap is
recorded in the run's summary and logged."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from streamlearn.base import Learner
from streamlearn.registry import CorruptVersion, Registry, Version
from streamlearn.registry.base import REQUESTED
from streamlearn.runner.guards import PromotionGate, RollbackGuard, Verdict, rollback_candidates
from streamlearn.runner.lane import Lane
from streamlearn.runner.summary import RunSummary

log = logging.getLogger("streamlearn.runner")


class Swaps:
    """The swaps of one run (see the module doc).

    Parameters
    ----------
    registry
        Where earlier versions are (None: no rollback).
    gate
        The promotion gate (None: no promotion).
    guard
        The rollback guard (None: no automatic rollback).
    summary
        The run's summary, which records every swap.

    Example
    -------
    >>> from streamlearn.runner.summary import RunSummary
    >>> swaps = Swaps(registry=None, gate=None, guard=None, summary=RunSummary())
    >>> swaps.promote_challenger([])  # no gate: nothing is ever promoted
    >>> swaps.operator_chose, swaps.summary.promotions
    (False, [])
    """

    def __init__(
        self,
        registry: Registry | None,
        gate: PromotionGate | None,
        guard: RollbackGuard | None,
        summary: RunSummary,
    ) -> None:
        self.registry, self.guard, self.summary = registry, guard, summary
        self.gate = gate
        self.operator_chose = False  # a person picked the model: the gate leaves it be
        self._candidates: dict[str, Learner] = {}  # the last version loaded, by id
        self._losses: dict[str, float] | None = None  # each version's recent loss, when saved

    def promote_challenger(self, lanes: list[Lane]) -> None:
        """The promotion gate, at a checkpoint: the best significant challenger serves. Each
        lane keeps its own store: its rows were encoded by its own model. No gate, or a
        model an operator chose in this run: no promotion."""
        if self.gate is None or self.operator_chose:
            return
        best = None
        for k, challenger in enumerate(lanes[1:], start=1):
            verdict = self.gate.check(lanes[0], challenger)
            if verdict.significant and (best is None or verdict.gap > best[1].gap):
                best = (k, verdict)
        if best is None:
            return
        k, verdict = best
        old, new = lanes[0], lanes[k]
        lanes[0], lanes[k] = new, old
        event = {
            "offset": new.offset,
            "at": now(),
            "from": old.name,
            "to": new.name,
            "from_model": type(old.model).__name__,
            "to_model": type(new.model).__name__,
        } | verdict.as_dict()
        self.summary.promotions.append(event)
        log.info("promotion", extra={"event": "promotion"} | event)

    def roll_back_if_worse(self, champion: Lane, version: str | None) -> None:
        """The rollback guard, at a checkpoint: back to the best of the earlier versions it
        scores (see :class:`~streamlearn.runner.guards.RollbackGuard`) if the serving model
        is significantly worse than it on the same recent labels."""
        if self.guard is None or self.registry is None:
            return
        best: tuple[str, Learner, Verdict] | None = None
        for candidate_id in rollback_candidates(
            self._window_losses(), version, self.guard.candidates
        ):
            try:
                candidate = self._load(candidate_id)
            except (KeyError, CorruptVersion):  # pruned or torn since: not a candidate
                continue
            verdict = self.guard.check(champion, candidate)
            if verdict.significant and (best is None or verdict.better_loss < best[2].better_loss):
                best = (candidate_id, candidate, verdict)
        if best is not None:
            chosen, candidate, verdict = best
            champion.model = candidate
            champion.version = chosen
            self._record(
                champion, version, chosen, "significantly worse than it", verdict.as_dict()
            )

    def swap_to(self, champion: Lane, version: str | None, wanted: str, reason: str) -> None:
        """Serve ``wanted``'s model from now on."""
        chosen = self.candidate(wanted)
        champion.model = type(chosen).from_state(chosen.state())
        champion.version = wanted
        if reason == REQUESTED:
            self.operator_chose = True
        self._record(champion, version, wanted, reason, {})

    def honour_request(self, champion: Lane, newest: Version) -> None:
        """``registry rollback`` / ``promote`` asked for a version: serve that model. (The
        champion tag alone is no request: a kill between a checkpoint and its tag leaves
        the tag one version behind.)"""
        wanted = self.registry.requested()
        if wanted is None:
            return
        if wanted != newest.id:
            try:
                self.swap_to(champion, newest.id, wanted, REQUESTED)
            except (KeyError, CorruptVersion):  # gone or torn: nothing to serve
                return
        self.registry.clear_request(wanted)

    def candidate(self, version_id: str) -> Learner:
        if version_id not in self._candidates:
            self._candidates = {version_id: self._load(version_id)}
        return self._candidates[version_id]

    def _load(self, version_id: str) -> Learner:
        """A fresh learner from a version's model (each use gets its own)."""
        state, _ = self.registry.load(version_id)
        return state.without_parts().to_learner()

    def saved(self, version: Version, pruned: list[str]) -> None:
        """A checkpoint wrote ``version`` and the registry let ``pruned`` go."""
        for gone in pruned:
            self._candidates.pop(gone, None)
            if self._losses is not None:
                self._losses.pop(gone, None)
        if self._losses is not None and "window_loss" in version.notes:
            self._losses[version.id] = version.notes["window_loss"]

    def _window_losses(self) -> dict[str, float]:
        """Read from the registry once, then kept up to date at each checkpoint (no listing
        of every version each time)."""
        if self._losses is None:
            self._losses = {
                v.id: v.notes["window_loss"]
                for v in self.registry.versions()
                if "window_loss" in v.notes
            }
        return self._losses

    def _record(
        self, champion: Lane, version: str | None, to: str, reason: str, details: dict[str, Any]
    ) -> None:
        event = {
            "lane": champion.name,
            "offset": champion.offset,
            "at": now(),
            "from": version,
            "to": to,
            "reason": reason,
        } | details
        self.summary.rollbacks.append(event)
        log.warning("rollback", extra={"event": "rollback"} | event)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
