"""Which task a target column poses.

>>> import numpy as np
>>> from streamlearn.evaluate.tasks import detect_task
>>> detect_task(np.array([0.0, 1.0, 1.0])), detect_task(np.array([0.5, 3.2]))
('binary', 'regression')
"""

from __future__ import annotations

import numpy as np

TASKS = ("binary", "regression")


def detect_task(targets: np.ndarray) -> str:
    """``binary`` when every (finite) target is 0 or 1, else ``regression``."""
    values = np.asarray(targets, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) and np.isin(values, (0.0, 1.0)).all():
        return "binary"
    return "regression"
