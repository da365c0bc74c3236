"""``POST /decide``: a contextual bandit's decision over HTTP.

The serving copy of the bandit chooses an arm for the context and answers with the arm,
its propensity, the decision's id and the model version. On a trainer the decision is also
queued as an event (its context, with the arm chosen) so that a later ``POST /feedback``
with the decision's id and its reward teaches the arm that was pulled (the runner joins
them, with its TTL and checkpoints). Each decision can go to a JSON-lines log (context,
arm, propensity, version, time): exactly what off-policy evaluation needs later.

The random numbers of the decisions come from one generator kept by the endpoint across
serving copies, so that a new copy does not replay the previous one's draws.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict

from streamlearn.base import Task
from streamlearn.service.fields import Features, Id


class DecideRequest(BaseModel):
    """A context to choose an arm for.

    Parameters
    ----------
    id
        Names the decision, for its reward later (else one is made).
    context
        The context's features.

    Example
    -------
    >>> DecideRequest(id="d1", context={"user": "u1"}).context
    {'user': 'u1'}
    """

    model_config = ConfigDict(extra="forbid")
    id: Id | None = None
    context: Features


class DecisionLog:
    """Appends each decision as one JSON line (flushed per line: a crash loses none).

    Parameters
    ----------
    path
        The JSON-lines file (None: decisions are not logged).

    Example
    -------
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "decisions.jsonl"
    >>> DecisionLog(path).write({"id": "d1", "arm": "a", "propensity": 0.5})
    >>> json.loads(path.read_text())["arm"]
    'a'
    """

    def __init__(self, path: str | os.PathLike | None) -> None:
        self._file = open(Path(path), "a", encoding="utf-8") if path else None  # noqa: SIM115
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        if self._file is None:
            return
        with self._lock:
            self._file.write(json.dumps(record, default=str) + "\n")
            self._file.flush()


def add_decide(app: FastAPI, server: Any, trainer: Any, log: DecisionLog) -> None:
    rng = np.frombuffer(os.urandom(8), np.uint64).copy()

    @app.post("/decide")
    async def decide(body: DecideRequest) -> dict[str, Any]:
        """Choose an arm for the context; reward it later with ``POST /feedback``
        (``{"id": <decision id>, "label": <reward>}``)."""
        serving = server.serving
        if serving is None:
            raise HTTPException(503, "no model to serve yet")
        model = serving.model
        if model.task != Task.BANDIT:
            raise HTTPException(409, "this service's model is not a bandit (model.kind)")
        model.rng[:] = rng  # one sequence across serving copies
        try:
            decision = model.decide_one(body.context)
        except (TypeError, ValueError) as exc:
            raise HTTPException(422, str(exc)) from None
        rng[:] = model.rng
        decision_id = str(body.id) if body.id is not None else uuid.uuid4().hex
        if trainer is not None:
            event = dict(body.context) | {model.arm_column: decision.arm}
            trainer.events.put([event], ids=[decision_id])
        answer = {
            "id": decision_id,
            "arm": decision.arm,
            "propensity": decision.propensity,
            "model_version": serving.version,
        }
        log.write(answer | {"time": time.time(), "context": body.context})
        return answer
