"""What a client gets for each event: the prediction in the terms of the model's task.

A binary classifier's answer is the class and its probability; a multiclass classifier's
the most probable class and the probability of each class it has learned (a list of
``{"class": ..., "probability": ...}``); any other
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

from collections.abc import Sequence
from typing import Any

import numpy as np

from streamlearn.base import Learner, MulticlassClassifier, Task
from streamlearn.base.predictions import class_predictions, class_probabilities


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
