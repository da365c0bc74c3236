"""The learner contract: protocols, state as arrays + JSON (never pickle), learner kinds."""

from streamlearn.base.capabilities import (
    LEARN,
    PREDICT,
    PREDICT_LEARN,
    Mixable,
    MultiTask,
    ReportsDrift,
    ReportsUncertainty,
    ServedByCopies,
    ServesRows,
    Task,
    drift_records,
    task_names,
)
from streamlearn.base.classes import ClassIndex, check_label
from streamlearn.base.learner import (
    Classifier,
    Learner,
    MulticlassClassifier,
    Regressor,
)
from streamlearn.base.state import (
    State,
    atomic_write,
    learner_kinds,
    load_snapshot,
    load_state,
    read_info,
    register,
    save_state,
    snapshot_bytes,
)

__all__ = [
    "LEARN",
    "PREDICT",
    "PREDICT_LEARN",
    "ClassIndex",
    "Classifier",
    "Learner",
    "Mixable",
    "MultiTask",
    "MulticlassClassifier",
    "Regressor",
    "ReportsDrift",
    "ReportsUncertainty",
    "ServedByCopies",
    "ServesRows",
    "State",
    "Task",
    "atomic_write",
    "check_label",
    "drift_records",
    "learner_kinds",
    "load_snapshot",
    "load_state",
    "read_info",
    "register",
    "save_state",
    "snapshot_bytes",
    "task_names",
]
