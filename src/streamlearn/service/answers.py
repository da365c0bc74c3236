"""What a client gets for each event: the prediction in the terms of the model's task.

A binary classifier's answer is the class and its probability; a multiclass classifier's
the most probable class and the probability of each class it has learned (a list of
``{"class": ..., "probability": ...}``); a model that reports its uncertainty (Bayesian
regression) adds a standard deviation and a 95% interval; any other
model's the number it predicts.

>>> import numpy as np
>>> from streamlearn.models import SoftmaxRegression
>>> model = SoftmaxRegression(bits=8)
>>> model.learn_one({"x": 1.0}, "cat"), model.learn_one({"x": -1.0}, "dog")
(None, None)
>>> [a["prediction"] for a in answers(model, ["e1"], np.array([[0.8, 0.2]]), "v1")]
['cat']
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from streamlearn.base import Learner, MulticlassClassifier, ReportsUncertainty, Task
from streamlearn.base.predictions import class_predictions, class_probabilities
from streamlearn.streams.decode import event_columns, with_a_column


def answers(
    model: Learner, ids: Sequence[str | None], scores: np.ndarray, version: str
) -> list[dict[str, Any]]:
    """One answer per event, from the scores ``model`` served (rows of class
    probabilities for a multiclass model)."""
    if model.task == Task.BINARY:
        return [
            {
                "id": event_id,
                "prediction": bool(score >= 0.5),
                "probability": float(score),
                "model_version": version,
            }
            for event_id, score in zip(ids, scores.tolist(), strict=True)
        ]
    if isinstance(model, MulticlassClassifier):
        labels = class_predictions(model.classes, scores)
        return [
            {
                "id": event_id,
                "prediction": label,
                "probabilities": class_probabilities(model.classes, row),
                "model_version": version,
            }
            for event_id, label, row in zip(ids, labels, scores, strict=True)
        ]
    return [
        {"id": event_id, "prediction": float(score), "model_version": version}
        for event_id, score in zip(ids, scores.tolist(), strict=True)
    ]


Z_95 = 1.959963984540054  # the standard normal's 97.5% quantile


def with_intervals(
    answered: list[dict[str, Any]], model: ReportsUncertainty, features: list[dict[str, Any]]
) -> None:
    """Add each answer's predictive standard deviation and 95% interval, by the same copy
    of the model that made the prediction (so the interval is centred on it)."""
    _, variances = model.predict_dist_many(with_a_column(event_columns(features), len(features)))
    for answer, variance in zip(answered, variances.tolist(), strict=True):
        std = math.sqrt(max(variance, 0.0))
        mean = answer["prediction"]
        answer["std"] = std
        answer["interval"] = [mean - Z_95 * std, mean + Z_95 * std]
