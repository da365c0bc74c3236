"""Metrics and progressive validation."""

from streamlearn.evaluate.metrics import (
    MAE,
    MSE,
    RMSE,
    ROCAUC,
    Accuracy,
    LogLoss,
    Metric,
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
    "RMSE",
    "ROCAUC",
    "Accuracy",
    "LogLoss",
    "Metric",
    "Report",
    "default_metrics",
    "detect_task",
    "progressive_val_score",
    "progressive_val_score_one",
]
