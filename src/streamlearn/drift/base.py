"""The detector interface: ``update(value)`` → none / warning / drift, and ``update_many``.

Every detector keeps its whole state in one float array and runs one compiled function over
values; ``update`` is that function on one value, so the one-value and batch paths cannot
disagree. A detector that only tests at known points (ADWIN, every ``clock`` values) holds
the values in between and runs them together at the next test, or whenever its state is
read: the same values through the same function, at a fraction of the calls. After a
drift, the next update starts the detector afresh (as River's do).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

NONE, WARNING, DRIFT = 0, 1, 2
LAST = -1  # the state's last slot holds the last signal


class DriftDetector(ABC):
    """Watches a stream of numbers (errors, losses, a feature) for a change.

    Example
    -------
    >>> from streamlearn.drift import ADWIN
    >>> detector = ADWIN()
    >>> signals = detector.update_many([0.0] * 1000 + [1.0] * 1000)
    >>> isinstance(detector, DriftDetector), bool((signals == 2).any())
    (True, True)
    """

    def __init__(self) -> None:
        self._params = self._param_array()
        self._state = self._fresh_state()
        self._signal = NONE  # the last signal, as a Python int: read per value, kept cheap

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """The JSON-able constructor arguments."""

    @abstractmethod
    def _param_array(self) -> np.ndarray: ...

    @abstractmethod
    def _fresh_state(self) -> np.ndarray: ...

    @staticmethod
    @abstractmethod
    def _kernel(state: np.ndarray, params: np.ndarray, values: np.ndarray, out: np.ndarray):
        """Compiled: update ``state`` with each value in order, signals into ``out``."""

    _one: tuple[np.ndarray, np.ndarray] | None = None  # one value in, one signal out

    def update(self, value: float) -> int:
        """One value; returns NONE, WARNING or DRIFT."""
        one = self._one
        if one is None:  # made once: a value at a time, allocation is most of the cost
            one = self._one = (np.empty(1), np.empty(1, np.int8))
        values, out = one
        values[0] = value
        self._kernel(self._state, self._params, values, out)
        signal = self._signal = int(out[0])
        return signal

    def update_many(self, values: Any) -> np.ndarray:
        """Values in order; the signal after each, exactly as ``update`` would give."""
        self._settle()
        values = np.ascontiguousarray(values, dtype=np.float64)
        out = np.empty(len(values), np.int8)
        self._kernel(self._state, self._params, values, out)
        if len(out):
            self._signal = int(out[-1])
        self._settle()  # nothing is held now: what is due next is read from the state
        return out

    def _settle(self) -> None:  # noqa: B027 - most detectors hold nothing back
        """Bring the state up to date with any values held back (see the module's note)."""

    @property
    def signal(self) -> int:
        """The signal of the last update: NONE, WARNING or DRIFT."""
        return self._signal

    @property
    def statistic(self) -> float:
        """The quantity the detector tests, as of the last update (see each detector)."""
        return float("nan")

    @property
    def drift_detected(self) -> bool:
        return self._signal == DRIFT

    @property
    def warning_detected(self) -> bool:
        return self._signal == WARNING

    def reset(self) -> None:
        self._state = self._fresh_state()
        self._signal = NONE

    def clone(self):
        return type(self)(**self.params())

    def state(self) -> tuple[dict[str, Any], np.ndarray]:
        self._settle()
        return self.params(), self._state.copy()

    @classmethod
    def from_state(cls, params: dict[str, Any], state: np.ndarray):
        detector = cls(**params)
        if np.shape(state) != detector._state.shape:
            raise ValueError(f"{cls.__name__}: state shape {np.shape(state)} is not valid")
        detector._state = np.array(state, dtype=np.float64)
        detector._signal = int(detector._state[LAST])
        detector._settle()  # what it keeps about its next test, from the state
        return detector

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"
