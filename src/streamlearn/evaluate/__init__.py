"""Metrics, progressive validation and the evaluation of a learner on a file."""

from streamlearn.evaluate.curve import Curve, default_curves
from streamlearn.evaluate.metrics import (
    MAE,
    MSE,
    R2,
    RMSE,
    ROCAUC,
    Accuracy,
    CrossEntropy,
    LogLoss,
    MacroF1,
    Metric,
    MulticlassAccuracy,
    default_metrics,
)
from streamlearn.evaluate.progressive import (
    Report,
    progressive_val_score,
    progressive_val_score_one,
)
from streamlearn.evaluate.tasks import detect_task


def __getattr__(name: str):
    # evaluate_file runs the runner, which scores with this package's metrics: it is
    # imported when first asked for, once the runner can be.
    if name == "evaluate_file":
        from streamlearn.evaluate.file import evaluate_file

        return evaluate_file
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "MAE",
    "MSE",
    "R2",
    "RMSE",
    "ROCAUC",
    "Accuracy",
    "CrossEntropy",
    "Curve",
    "LogLoss",
    "MacroF1",
    "Metric",
    "MulticlassAccuracy",
    "Report",
    "default_curves",
    "default_metrics",
    "detect_task",
    "evaluate_file",
    "progressive_val_score",
    "progressive_val_score_one",
]
