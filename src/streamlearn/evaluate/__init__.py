"""Metrics and progressive validation (a file through the runner: :func:`streamlearn.runner.
evaluate_file`)."""

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
    "progressive_val_score",
    "progressive_val_score_one",
]
