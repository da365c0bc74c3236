"""The engine: one loop for replay and the live service. The runner feeds micro-batches to
lanes (the champion serves, challengers learn in shadow), each with its schedule and label
join; guards roll back and promote; checkpoints go to the registry
(:func:`streamlearn.offline.evaluate_file` runs a file through it, progressively)."""

from streamlearn.runner.engine import Runner, RunSummary
from streamlearn.runner.guards import PromotionGate, RollbackGuard
from streamlearn.runner.join import JoinStore, MemoryJoinStore, RedisJoinStore, SQLiteJoinStore

__all__ = [
    "JoinStore",
    "MemoryJoinStore",
    "PromotionGate",
    "RedisJoinStore",
    "RollbackGuard",
    "RunSummary",
    "Runner",
    "SQLiteJoinStore",
]
