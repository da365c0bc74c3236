"""The versions a run writes and resumes from: each checkpoint is a registry version (tagged
``champion``, older ones pruned), and a run started on a registry that has versions picks up
from the newest one that loads. The version serving now is never empty: a fresh run on a
registry saves its starting model first, so that every prediction names a version that
exists."""

from __future__ import annotations

import logging
from typing import Any

from streamlearn.base import drift_records
from streamlearn.registry import Registry, Version
from streamlearn.runner.checkpoint import checkpoint_state, restore_lanes
from streamlearn.runner.lane import Lane
from streamlearn.runner.lane_state import UNSAVED
from streamlearn.runner.summary import RunSummary
from streamlearn.runner.swaps import Swaps

log = logging.getLogger("streamlearn.runner")


class Versions:
    """A run's versions in ``registry`` (None: no checkpoints, the version is ``unsaved``).

    Parameters
    ----------
    registry
        Where versions go.
    keep
        After each checkpoint the registry keeps this many newest versions and every tagged
        one (None: keep all).
    resumable
        How many of the newest versions a run can resume from exactly: a durable join store
        keeps what restoring them needs (a label learned since is put back) and refuses,
        naming why, to resume from an older one.
    swaps
        The run's promotions and rollbacks, told of each version saved.
    summary
        The run's summary, which lists the versions written.

    Example
    -------
    >>> import tempfile
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.models import LogisticRegression
    >>> from streamlearn.registry import LocalRegistry
    >>> from streamlearn.runner import Runner
    >>> from streamlearn.streams import FileEvents
    >>> registry = LocalRegistry(tempfile.mkdtemp())
    >>> def runner():
    ...     source = FileEvents(elec2.path(), "target")
    ...     return Runner(LogisticRegression(bits=12), source, registry=registry,
    ...                   checkpoint_every=4000)
    >>> first = runner().run(limit=8000)
    >>> again = runner()
    >>> resumed = again.run()  # from the newest version, exactly where it stopped
    >>> isinstance(again.versions, Versions), resumed.resumed_from, resumed.offset
    (True, 'v000003', 45312)
    """

    def __init__(
        self,
        registry: Registry | None,
        keep: int | None,
        swaps: Swaps,
        summary: RunSummary,
        resumable: int = 3,
    ) -> None:
        if resumable < 1:
            raise ValueError(f"resumable must be >= 1, got {resumable}")
        self.registry, self.keep, self.swaps, self.summary = registry, keep, swaps, summary
        self.resumable = resumable
        self.resumed = False

    def save(self, lanes: list[Lane], runner_meta: dict[str, Any], counters: dict) -> Version:
        """Save every lane and ``runner_meta`` as a new version, tag it ``champion``."""
        if self.registry is None:
            raise ValueError("no registry: nowhere to checkpoint to")
        champion = lanes[0]
        drifts = list(drift_records(champion.model))
        recent = champion.recent.losses
        version = self.registry.save(
            checkpoint_state(lanes, runner_meta),
            parent=None if champion.version == UNSAVED else champion.version,
            events=champion.counters["learned"],
            offsets={"file": champion.offset},
            metrics=champion.metric_values(),
            drifts=drifts[-20:],
            notes={
                "counters": counters,
                "drifts_total": len(drifts),
                "pending": len(champion.join),
                "rollbacks": len(self.summary.rollbacks),
                "promotions": len(self.summary.promotions),
            }
            | ({"window_loss": float(recent.mean())} if len(recent) else {}),
        )
        if self.registry.pinned() is None:  # a pin keeps the champion where an operator put it
            self.registry.promote(version.id)
        pruned = self.registry.prune(self.keep) if self.keep is not None else []
        oldest = self._oldest_resumable(champion.offset)
        for lane in lanes:
            lane.join.restorable_from(oldest)
        self.swaps.saved(version, pruned)
        self._now_serving(lanes, version.id)
        self.summary.versions.append(version.id)
        log.info(
            "checkpoint",
            extra={
                "event": "checkpoint",
                "lane": champion.name,
                "version": version.id,
                "offset": champion.offset,
                "learned": version.events,
                "pending": version.notes["pending"],
            },
        )
        return version

    def _oldest_resumable(self, offset: int) -> int:
        """The offset of the oldest version a run may resume from exactly (``offset``, the
        newest one's, if no other was written by a runner)."""
        offsets = [v.offsets.get("file") for v in self.registry.newest(self.resumable)]
        return min([int(o) for o in offsets if isinstance(o, int)] + [offset])

    def resume(self, lanes: list[Lane]) -> dict[str, Any] | None:
        """Put the lanes back where the registry's newest version left them (once); returns
        that version's runner metadata, or None for a fresh start."""
        if self.registry is None or self.resumed:
            return None
        self.resumed = True
        if self.registry.tidy():
            log.info("removed the temp files of a snapshot cut short", extra={"event": "tidy"})
        latest = self.registry.latest()
        if latest is None:  # a fresh start: nothing a store holds belongs to this run
            for lane in lanes:
                lane.join.reset()
            return None
        state, version = latest
        runner = restore_lanes(lanes, state, version.id)
        self.summary.resumed_from = version.id
        self.summary.rollbacks = list(runner.get("rollbacks", []))
        self.summary.promotions = list(runner.get("promotions", []))
        log.info(
            "resumed", extra={"event": "resumed", "version": version.id, "offset": lanes[0].offset}
        )
        self.swaps.honour_request(lanes[0], version)
        return runner

    def _now_serving(self, lanes: list[Lane], version_id: str) -> None:
        for lane in lanes:
            lane.version = version_id
