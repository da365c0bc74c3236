"""Wiring sources, learners and evaluation into runs: the runner loop (replay now, the live
service later), file replay for evaluation, the label join and its schedule."""

from streamlearn.runner.engine import Runner, RunSummary
from streamlearn.runner.join import JoinStore, MemoryJoinStore, SQLiteJoinStore
from streamlearn.runner.join_redis import RedisJoinStore
from streamlearn.runner.replay import RejectLog, evaluate_file
from streamlearn.runner.sources import EventBatch, FileEvents, RecordedEvents

__all__ = [
    "EventBatch",
    "FileEvents",
    "JoinStore",
    "MemoryJoinStore",
    "RecordedEvents",
    "RedisJoinStore",
    "RejectLog",
    "RunSummary",
    "Runner",
    "SQLiteJoinStore",
    "evaluate_file",
]
