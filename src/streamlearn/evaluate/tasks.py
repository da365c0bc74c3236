"""Which task a target column poses.

>>> import numpy as np
>>> from streamlearn.evaluate.tasks import detect_task
>>> detect_task(np.array([0.0, 1.0, 1.0])), detect_task(np.array([0.5, 3.2]))
('binary', 'regression')
>>> detect_task(np.array(["cat", "dog"], dtype=object)), detect_task(np.array([1.0, 2.0, 3.0]))
('multiclass', 'multiclass')
"""

from __future__ import annotations

import numpy as np

TASKS = ("binary", "multiclass", "regression")
MAX_CODED_CLASSES = 10


def detect_task(targets: np.ndarray) -> str:
    """``binary`` when every target is 0 or 1; ``multiclass`` for text labels, or for whole
    numbers with at most 10 distinct values; else ``regression``. ``--task`` overrides."""
    values = np.asarray(targets)
    if values.dtype.kind in "OUS":
        return "multiclass"
    values = values.astype(np.float64)
    values = values[np.isfinite(values)]
    if len(values) and np.isin(values, (0.0, 1.0)).all():
        return "binary"
    whole = len(values) and (values == np.round(values)).all()
    if whole and len(np.unique(values)) <= MAX_CODED_CLASSES:
        return "multiclass"
    return "regression"
