"""``POST /recommend``: a recommender's top-N items for a user over HTTP.

The serving copy of the factorization scores every item it knows for the user and answers
the ``n`` best, by default without those the user has already rated or clicked (as the
model learned them). Feedback comes as events: ``POST /learn`` with the user, the item and
the rating (or 1 for a click), or ``/predict`` of the pair followed by ``/feedback``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from streamlearn.models.recommend.mf import Factorization
from streamlearn.service.fields import Id

MAX_ITEMS = 1000


class RecommendRequest(BaseModel):
    """Whom to recommend for.

    Parameters
    ----------
    user
        The user's id.
    n
        How many items (at most 1,000).
    exclude_seen
        Leave out the items the user has already rated or clicked.

    Example
    -------
    >>> RecommendRequest(user="u1", n=5).exclude_seen
    True
    """

    model_config = ConfigDict(extra="forbid")
    user: Id
    n: int = Field(10, ge=1, le=MAX_ITEMS)
    exclude_seen: StrictBool = True


def add_recommend(app: FastAPI, server: Any) -> None:
    @app.post("/recommend")
    def recommend(body: RecommendRequest) -> dict[str, Any]:
        """The ``n`` best items for the user, best first, with their scores."""
        serving = server.serving
        if serving is None:
            raise HTTPException(503, "no model to serve yet")
        model = serving.model
        if not isinstance(model, Factorization):
            raise HTTPException(409, "this service's model is not a recommender (model.kind)")
        top = model.recommend(body.user, body.n, exclude_seen=body.exclude_seen)
        return {
            "user": body.user,
            "items": [{"item": item, "score": score} for item, score in top],
            "model_version": serving.version,
        }
