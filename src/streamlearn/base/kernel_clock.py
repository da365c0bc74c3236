"""The seconds a run spends compiling the compiled kernels it uses, or loading them from
numba's cache: what throughput leaves out, so that events per second say how fast the
events went, and the first of several learners compared does not pay for the others.

Everything numba compiles or loads runs under its global compiler lock; numba's event API
reports each time the lock is held (nested holds count once).

>>> import numba
>>> with KernelClock() as clock:
...     numba.njit(lambda x: x + 1)(1)
2
>>> clock.seconds > 0
True
"""

from __future__ import annotations

import time
from typing import Any

from numba.core import event

LOCK_EVENT = "numba:compiler_lock"


class KernelClock(event.Listener):
    """Wall seconds spent in numba's compiler (compiling or loading kernels) while active.

    A context manager; ``seconds`` holds the total so far, and may be read while it runs.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self._depth = 0
        self._since = 0.0

    def on_start(self, _event: Any) -> None:
        if self._depth == 0:
            self._since = time.perf_counter()
        self._depth += 1

    def on_end(self, _event: Any) -> None:
        self._depth -= 1
        if self._depth == 0:
            self.seconds += time.perf_counter() - self._since

    def __enter__(self) -> KernelClock:
        event.register(LOCK_EVENT, self)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.unregister(LOCK_EVENT, self)
