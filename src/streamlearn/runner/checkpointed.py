"""A run's versions: the champion, its challengers and where the stream stands saved to
the registry at each checkpoint, and a run picked up from the newest one that loads (see
:class:`~streamlearn.runner.versions.Versions`)."""

from __future__ import annotations

from typing import Any

from streamlearn.registry import Version
from streamlearn.runner.checkpoint import CheckpointPolicy
from streamlearn.runner.stepper import Stepper
from streamlearn.runner.versions import Versions
from streamlearn.streams.protocol import EventSource


class Checkpointed(Stepper):
    """A stepper whose lanes and place in the stream go into registry versions (see the
    module doc); the :class:`~streamlearn.runner.Runner` sets its source, versions and
    checkpoint policy. Takes the stepper's parameters.

    Example
    -------
    >>> import tempfile
    >>> from streamlearn.datasets import elec2
    >>> from streamlearn.models import LogisticRegression
    >>> from streamlearn.registry import LocalRegistry
    >>> from streamlearn.runner import Runner
    >>> from streamlearn.streams import FileEvents
    >>> registry = LocalRegistry(tempfile.mkdtemp())
    >>> source = FileEvents(elec2.path(), "target")
    >>> runner = Runner(LogisticRegression(bits=12), source, registry=registry,
    ...                 checkpoint_every=3000)
    >>> _ = runner.run(limit=6000)
    >>> isinstance(runner, Checkpointed), [v.offsets["file"] for v in registry.versions()]
    (True, [0, 3000, 6000])
    """

    source: EventSource | None
    versions: Versions
    checkpoints: CheckpointPolicy
    resumed_source: dict[str, Any]
    _saved_progress: tuple

    def _progress(self) -> tuple:
        """What a checkpoint would save that can change without events: counters, and the
        source's positions (a partition taken over joins them before its first message)."""
        return self.counters, self._source_state()

    def _progressed(self) -> bool:
        return self._progress() != self._saved_progress

    def _source_state(self) -> dict[str, Any]:
        return self.source.state() if self.source is not None else {}

    def checkpoint(self) -> Version:
        """Save the champion, its challengers and where the stream stands as a new
        registry version (tagged ``champion``)."""
        self.swaps.promote_challenger(self.lanes)
        self.swaps.roll_back_if_worse(self.champion, self.version)
        runner_meta = {
            "rejected": self.rejected,
            "source": self._source_state(),
            "rollbacks": self.summary.rollbacks[-20:],
            "promotions": self.summary.promotions[-20:],
        }
        if self.predictions is not None:  # delivered before a snapshot says they were made
            self.predictions.flush()
        version = self.versions.save(self.lanes, runner_meta, self.counters)
        self.recovery.start(version.id)
        if self.source is not None:  # only now is the snapshot that includes them durable
            self.source.committed(runner_meta["source"])
        self._saved_progress = self._progress()
        return version

    def resume(self) -> None:
        """Pick up from the registry's newest version (once; ``run`` calls it). A fresh run
        on a registry saves its starting model as the first version: every prediction then
        names a version that exists."""
        if self.registry is None or self.versions.resumed:
            return
        runner = self.versions.resume(self.lanes)
        if runner is None:
            self.checkpoint()
            return
        if self.version == self.summary.resumed_from:  # not swapped for a requested one
            self.recovery.start(self.version)
        self.rejected = int(runner.get("rejected", 0))
        self.resumed_source = dict(runner.get("source") or {})
        if runner.get("source") and self.source is not None:
            self.source.restore(runner["source"])
        self._saved_progress = self._progress()
