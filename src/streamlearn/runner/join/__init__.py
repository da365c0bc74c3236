"""The label join: served events wait here, keyed by event id, until their label arrives.

An entry holds the features *as served* (the encoded row the model predicted from: hashed
features and scaled values), the prediction and the model version that made it, the offset
it was served at and its deadline. A label learns from that row, so the model never trains
on features that changed after serving (no train/serve skew, no leakage).

Two stores:

- :class:`MemoryJoinStore`: a dict over blocks of rows; its pending entries go into each
  checkpoint (arrays), so a restart restores them exactly.
- :class:`SQLiteJoinStore` (the embedded default of a service): rows in a SQLite file, so a
  long label delay (days) does not have to fit in memory or in a snapshot. It commits before
  each checkpoint and keeps, per entry, the offset it was served at and the offset its label
  was taken at; restoring to a checkpoint's offset drops what was served after it and puts
  back what was taken after it, so the store matches the snapshot exactly. It keeps what
  the newest few checkpoints need (``resumable_versions``), so a run whose newest snapshots
  are unreadable resumes from an older one without losing a label; it refuses to resume from
  one older still, and a checkpoint records how many entries were waiting, so a file
  deleted or swapped is found at resume rather than losing labels silently.

>>> import numpy as np
>>> from streamlearn.runner.join import MemoryJoinStore, Rows
>>> store = MemoryJoinStore()
>>> rows = Rows(np.array([[7, 9], [3, 0]], np.uint32), np.array([[1.0, 0.5], [1.0, 0.0]]))
>>> store.put([10, 11], rows, np.array([0.8, 0.3]), np.array([100.0, 101.0]), [5, 6], "v1")
>>> taken = store.take([11, 12], at_offset=20)
>>> taken.found.tolist(), taken.predictions.tolist(), len(store)
([True, False], [0.3], 1)
"""

from streamlearn.runner.join.base import JoinStore, JoinStoreMismatch, Rows, Taken
from streamlearn.runner.join.gather import Gathered, gather_rows
from streamlearn.runner.join.memory import MemoryJoinStore
from streamlearn.runner.join.redis import RedisJoinStore
from streamlearn.runner.join.sqlite import SQLiteJoinStore

__all__ = [
    "Gathered",
    "JoinStore",
    "JoinStoreMismatch",
    "MemoryJoinStore",
    "RedisJoinStore",
    "Rows",
    "SQLiteJoinStore",
    "Taken",
    "gather_rows",
]
