"""The learner contract: protocols, state as arrays + JSON (never pickle), learner kinds."""

from __future__ import annotations

import importlib
from typing import Any

# Each name loads its module on first use, so that a light module of this package (the
# extras, the counters) costs nothing: ``streamlearn --help`` must not import numpy.
_HOMES = {
    "atomic_write": "state",
    "check_label": "classes",
    "Classifier": "learner",
    "ClassIndex": "classes",
    "KernelClock": "kernel_clock",
    "drift_records": "capabilities",
    "LEARN": "capabilities",
    "Learner": "learner",
    "learner_kinds": "state",
    "load_snapshot": "state",
    "load_state": "state",
    "Mixable": "capabilities",
    "MulticlassClassifier": "learner",
    "MultiTask": "capabilities",
    "PREDICT": "capabilities",
    "PREDICT_LEARN": "capabilities",
    "read_info": "state",
    "register": "state",
    "Regressor": "learner",
    "ReportsDrift": "capabilities",
    "ReportsUncertainty": "capabilities",
    "save_state": "state",
    "ServedByCopies": "capabilities",
    "ServesRows": "capabilities",
    "snapshot_bytes": "state",
    "State": "state",
    "Task": "capabilities",
    "task_names": "capabilities",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
