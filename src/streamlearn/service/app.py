"""The HTTP API (FastAPI; OpenAPI docs at ``/docs``).

``POST /predict`` (one event or a batch) · ``POST /rank`` (candidates for a context, best
first) · ``POST /decide`` (a bandit's arm and its propensity) · ``POST /recommend`` (a
recommender's top items for a user) · ``POST /learn`` · ``POST /feedback`` (the label or
reward of an earlier event or decision, by id) · ``GET /models`` · ``GET /models/{version}``
· ``POST /models/{version}/promote`` · ``POST /models/{version}/pin`` · ``POST /unpin`` ·
``POST /rollback`` · ``GET /health`` · ``GET /livez`` · ``GET /readyz`` ·
``GET /metrics`` (Prometheus) · ``GET /monitor`` (the run's recent time series, as JSON) ·
``GET /dashboard`` (live plots). Mutating endpoints need ``Authorization: Bearer <token>``
(the token comes from the config or ``STREAMLEARN_TOKEN``; with none set they are refused).
Bodies are validated (422 with the field at fault), limited in size (413) and in events per
call.
"""

from __future__ import annotations

import hmac
import math
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from pydantic import BaseModel, ConfigDict, Field

from streamlearn.base import (
    Classifier,
    MulticlassClassifier,
    MultiTask,
    ReportsUncertainty,
    Task,
    task_names,
)
from streamlearn.base.predictions import class_predictions
from streamlearn.monitor.prometheus import MonitorCollector
from streamlearn.registry import Registry
from streamlearn.service.answers import answers, with_intervals
from streamlearn.service.dashboard import add_dashboard
from streamlearn.service.decide import DecisionLog, add_decide
from streamlearn.service.fields import Features, Id, Label, Text, Value
from streamlearn.service.recommend import add_recommend
from streamlearn.service.registry_api import add_registry_routes, needs
from streamlearn.service.trainer import Replica, Trainer
from streamlearn.streams.batch import shown
from streamlearn.streams.protocol import IngressFull

MAX_EVENTS = 10_000
MAX_BODY_BYTES = 32 << 20
MAX_COLUMN_ROWS = 100_000


class Event(BaseModel):
    """One event.

    Parameters
    ----------
    id
        Its id, by which a label may come later (made for it when not given).
    features
        Name → value (text, a number, a bool or null: missing).

    Example
    -------
    >>> Event(id="e1", features={"colour": "red", "price": 2.5}).id
    'e1'
    """

    model_config = ConfigDict(extra="forbid")
    id: Id | None = None
    features: Features


class LabelledEvent(Event):
    """An event to learn.

    Parameters
    ----------
    label
        Its label (null: it comes later, by id); the rest as for :class:`Event`.

    Example
    -------
    >>> LabelledEvent(features={"x": 1.0}, label=1).label
    1
    """

    label: Label | None = None


class PredictRequest(BaseModel):
    """One event (``features``, optional ``id``), a batch (``events``), or a batch as
    columns (``columns``: name → values, optional ``ids``; answered as columns, not
    tracked: the fast way to score many events).

    Parameters
    ----------
    id, features
        One event.
    events
        A batch of events (at most 10,000).
    columns, ids
        A batch as columns (at most 100,000 rows), and its ids.
    track
        Keep what was served (row, prediction, version) so that a label can join it.

    Example
    -------
    >>> one = PredictRequest(id="e1", features={"x": 1.0})
    >>> batch = PredictRequest(columns={"x": [1.0, 2.0]}, ids=["a", "b"], track=False)
    >>> one.track, batch.columns["x"]
    (True, [1.0, 2.0])
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"id": "e1", "features": {"city": "Lyon", "price": 12.5}},
                {"columns": {"price": [12.5, 8.0]}, "ids": ["a", "b"], "track": False},
            ]
        },
    )
    id: Id | None = None
    features: Features | None = None
    events: list[Event] | None = Field(None, max_length=MAX_EVENTS)
    columns: dict[Text, list[Value]] | None = None
    ids: list[Id] | None = None
    track: bool = True  # keep the served features so that /feedback can join a label

    def all_events(self) -> list[Event]:
        if sum(part is not None for part in (self.features, self.events, self.columns)) != 1:
            raise HTTPException(422, "give one of 'features' (one event), 'events' or 'columns'")
        return (
            self.events if self.events is not None else [Event(id=self.id, features=self.features)]
        )


class Answer(BaseModel):
    """One event's answer: its id (null for an untracked event without one), the
    prediction (a binary model's ``probability`` of True, a multiclass model's
    ``probabilities`` by class, a Bayesian regressor's ``std`` and 95% ``interval``) and
    the version that made it.

    Example
    -------
    >>> Answer(id="e1", prediction=True, probability=0.91, model_version="v000007").id
    'e1'
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"id": "e1", "prediction": True, "probability": 0.91, "model_version": "v000007"}
            ]
        }
    )
    id: str | None
    prediction: bool | float | str | int
    probability: float | None = None
    probabilities: dict[str, float] | None = None
    std: float | None = None
    interval: list[float] | None = None
    model_version: str


class PredictAnswers(BaseModel):
    """The answers to ``features`` or ``events``, in order.

    Example
    -------
    >>> PredictAnswers(predictions=[]).predictions
    []
    """

    predictions: list[Answer]


class ColumnAnswers(BaseModel):
    """The answers to ``columns``, as columns: the ids given, the predictions (and a
    classifier's probabilities: of True, or a row per event over ``classes``).

    Example
    -------
    >>> ColumnAnswers(ids=None, predictions=[1.5], model_version="v000001").classes is None
    True
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ids": ["a", "b"],
                    "predictions": [True, False],
                    "probabilities": [0.8, 0.3],
                    "model_version": "v000007",
                }
            ]
        }
    )
    ids: list[str | int] | None
    predictions: list[bool | float | str | int]
    probabilities: list[float] | list[list[float]] | None = None
    classes: list[str] | None = None
    model_version: str


class LearnRequest(BaseModel):
    """Events to learn: one (``features``, ``label``, optional ``id``, as ``/predict``
    takes one) or a batch (``events``).

    Parameters
    ----------
    id, features, label
        One event.
    events
        At most 10,000 :class:`LabelledEvent`.

    Example
    -------
    >>> len(LearnRequest(events=[{"features": {"x": 1.0}, "label": 0}]).all_events())
    1
    >>> LearnRequest(features={"x": 1.0}, label=1).all_events()[0].label
    1
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"id": "e1", "features": {"city": "Lyon", "price": 12.5}, "label": 1},
                {"events": [{"features": {"price": 8.0}, "label": 0}]},
            ]
        },
    )
    id: Id | None = None
    features: Features | None = None
    label: Label | None = None
    events: list[LabelledEvent] | None = Field(None, min_length=1, max_length=MAX_EVENTS)

    def all_events(self) -> list[LabelledEvent]:
        if (self.features is None) == (self.events is None):
            raise HTTPException(422, "give one of 'features' (one event) or 'events'")
        if self.events is not None:
            return self.events
        return [LabelledEvent(id=self.id, features=self.features, label=self.label)]


class RankRequest(BaseModel):
    """Candidates to order for one context: each candidate's features are merged with the
    context's (the candidate's win a clash). With ``track``, every candidate is served as an
    impression (its id, given or new, takes feedback later).

    Parameters
    ----------
    context
        The features all candidates share.
    candidates
        The events to order (at most 10,000).
    track
        Serve each candidate as an impression that takes feedback later.

    Example
    -------
    >>> request = RankRequest(context={"user": "u1"}, candidates=[{"features": {"item": "i9"}}])
    >>> request.candidates[0].features
    {'item': 'i9'}
    """

    model_config = ConfigDict(extra="forbid")
    context: Features = {}
    candidates: list[Event] = Field(..., min_length=1, max_length=MAX_EVENTS)
    track: bool = True


class FeedbackItem(BaseModel):
    """A label for an event served earlier.

    Parameters
    ----------
    id
        The event's id.
    label
        Its label.
    task
        For a multi-task model: the task it is for (a ranker's ``click``, ``like`` …).

    Example
    -------
    >>> FeedbackItem(id="e1", label=1, task="click").task
    'click'
    """

    model_config = ConfigDict(extra="forbid")
    id: Id
    label: Label
    task: Text | None = None  # a multi-task model's (a ranker's click, like…)


class FeedbackRequest(BaseModel):
    """One label (``id``, ``label``, for a multi-task model its ``task``) or many
    (``labels``).

    Parameters
    ----------
    id, label, task
        One label (see :class:`FeedbackItem`).
    labels
        Many (at most 10,000).

    Example
    -------
    >>> len(FeedbackRequest(labels=[{"id": "e1", "label": 0}, {"id": "e2", "label": 1}]).labels)
    2
    """

    model_config = ConfigDict(extra="forbid")
    id: Id | None = None
    label: Label | None = None
    task: Text | None = None
    labels: list[FeedbackItem] | None = Field(None, max_length=MAX_EVENTS)

    def all_labels(self) -> list[FeedbackItem]:
        if self.labels is not None:
            return self.labels
        if self.id is None or self.label is None:
            raise HTTPException(422, "give 'id' and 'label', or 'labels'")
        return [FeedbackItem(id=self.id, label=self.label, task=self.task)]


def create_app(
    trainer: Trainer | None = None,
    replica: Replica | None = None,
    registry: Registry | None = None,
    token: str | None = None,
    decisions: str | os.PathLike | None = None,
) -> FastAPI:
    """The API over a trainer (learns and serves) or a replica (serves the champion)."""
    if (trainer is None) == (replica is None):
        raise ValueError("give a trainer or a replica")
    server = trainer or replica
    app = FastAPI(title="streamlearn", version="1", summary="Online learning, served.")
    monitor = server.monitor
    metrics, observe_latency, predictions = _service_metrics(server)
    authorized = bearer_guard(token)
    _add_error_handlers(app)
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)

    def scoring_model():
        """What serves scores now (not a bandit: its arms come from /decide)."""
        serving = server.serving
        if serving is None:
            raise HTTPException(503, "no model to serve yet")
        if serving.model.task == "bandit":
            raise HTTPException(409, "this service's model is a bandit: use POST /decide")
        return serving

    def score(serving, features: list[dict], given_ids: list, track: bool) -> tuple[Any, list]:
        """Scores of the events by ``serving``; with ``track`` they are served events (ids
        made for those without), whose labels may come later by id."""
        ids = [str(i) if i is not None else None for i in given_ids]
        if trainer is None or not track:
            return serving.predict(features), ids
        ids = [i if i is not None else _new_id() for i in ids]
        return trainer.serve(features, ids, serving), ids

    @app.post("/predict", response_model=PredictAnswers | ColumnAnswers)
    async def predict(body: PredictRequest) -> JSONResponse:
        # Inline on the event loop: a prediction takes microseconds, less than a hop to
        # the thread pool would (the kernels release the GIL for big batches).
        start = time.perf_counter()
        serving = scoring_model()
        if body.columns is not None:
            answer = _predict_columns(body, serving)
            predictions.inc(len(answer["predictions"]))
            observe_latency(start)
            return JSONResponse(answer)
        events = body.all_events()
        features, given = [e.features for e in events], [e.id for e in events]
        scores, ids = score(serving, features, given, body.track)
        answered = answers(serving.model, ids, scores, serving.version)
        if isinstance(serving.model, ReportsUncertainty):
            with_intervals(answered, serving.model, features)
        predictions.inc(len(answered))
        observe_latency(start)
        return JSONResponse({"predictions": answered})  # plain JSON: no response re-encoding

    @app.post("/rank")
    def rank(body: RankRequest) -> dict[str, Any]:
        """The candidates best first, by the model's score (a ranker's weighted engagement,
        a classifier's probability)."""
        start = time.perf_counter()
        serving = scoring_model()
        if serving.model.task == Task.MULTICLASS:
            raise HTTPException(409, "a multiclass model answers with classes: use /predict")
        features = [body.context | c.features for c in body.candidates]
        scores, ids = score(serving, features, [c.id for c in body.candidates], body.track)
        order = sorted(range(len(ids)), key=lambda k: -scores[k])
        predictions.inc(len(ids))
        observe_latency(start)
        return {
            "ranked": [{"index": k, "id": ids[k], "score": float(scores[k])} for k in order],
            "model_version": serving.version,
        }

    @app.post("/learn", dependencies=[Depends(authorized)])
    async def learn(body: LearnRequest) -> dict[str, int]:
        needs(trainer, "learning")
        events = body.all_events()
        ids = [str(e.id) if e.id is not None else _new_id() for e in events]
        labels = _labels(trainer, [e.label for e in events])
        return {"accepted": trainer.events.put([e.features for e in events], ids, labels)}

    @app.post("/feedback", dependencies=[Depends(authorized)])
    async def feedback(body: FeedbackRequest) -> dict[str, int]:
        needs(trainer, "feedback")
        items = body.all_labels()
        _check_tasks(trainer, [i.task for i in items])
        accepted = trainer.events.put_feedback(
            [str(i.id) for i in items],
            _labels(trainer, [i.label for i in items], [i.task for i in items]),
            [i.task for i in items],
        )
        return {"accepted": accepted}

    add_registry_routes(app, registry, trainer, replica, authorized)

    @app.get("/livez")
    async def livez() -> JSONResponse:
        """Kubernetes' liveness probe: 200 while the trainer (or a replica's poller) runs
        and is not stalled; 503 when the process should be restarted."""
        working = server.alive and not server.stalled
        return JSONResponse({"live": working}, status_code=200 if working else 503)

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        """Kubernetes' readiness probe: 200 once a model is served and the service works
        (send it traffic); 503 before, or when it is down."""
        ready = server.serving is not None and server.alive and not server.stalled
        return JSONResponse({"ready": ready}, status_code=200 if ready else 503)

    @app.get("/health")
    async def health() -> JSONResponse:
        """``ok`` (200); ``degraded`` (503, ``error`` says why) while the service rides
        out trouble (a registry that does not answer) and still answers; ``down`` (503)
        once the trainer or the replica's poller has stopped, or the trainer is stalled.
        For probes that should not restart a degraded service: ``/livez``, ``/readyz``."""
        serving = server.serving
        problems = server.problems()
        working = server.alive and not server.stalled
        status = "down" if not working else "degraded" if problems else "ok"
        role = "trainer" if trainer is not None else "replica"
        problems = problems or ([] if server.alive else [f"the {role} has stopped"])
        body = {
            "status": status,
            "role": role,
            "model_version": serving.version if serving else None,
            "events_learned": serving.events_learned if serving else 0,
            "serving_age_seconds": round(time.time() - serving.published_at, 3)
            if serving
            else None,
            "error": "; ".join(problems) if problems else None,
        }
        return JSONResponse(body, status_code=200 if status == "ok" else 503)

    @app.get("/metrics")
    def prometheus() -> Response:
        return Response(generate_latest(metrics), media_type="text/plain; version=0.0.4")

    add_dashboard(app, monitor)
    add_decide(app, server, trainer, DecisionLog(decisions))
    add_recommend(app, server)
    return app


def _service_metrics(server: Any) -> tuple[CollectorRegistry, Callable[[float], None], Counter]:
    """The service's Prometheus registry (the monitor's series, the process, liveness), a
    function that records one answer's latency from its start, and the predictions counter."""
    monitor = server.monitor
    metrics = CollectorRegistry()
    predictions = Counter("streamlearn_predictions", "Predictions served", registry=metrics)
    buckets = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5)
    histogram = Histogram(
        "streamlearn_predict_seconds", "Time to answer /predict", registry=metrics, buckets=buckets
    )
    metrics.register(MonitorCollector(monitor))
    ProcessCollector(registry=metrics)
    Gauge(
        "streamlearn_up",
        "1 while the trainer or replica works (not stopped, not stalled)",
        registry=metrics,
    ).set_function(lambda: float(server.alive and not server.stalled))
    Gauge(
        "streamlearn_seconds_since_batch",
        "Seconds since the trainer finished a micro-batch",
        registry=metrics,
    ).set_function(lambda: server.seconds_since_batch)

    def observe_latency(start: float) -> None:
        elapsed = time.perf_counter() - start
        histogram.observe(elapsed)
        monitor.predict_latency.add(elapsed)

    return metrics, observe_latency, predictions


def bearer_guard(token: str | None) -> Callable[..., None]:
    """The dependency of the mutating endpoints: a 403 when no token is configured, a 401
    without the right bearer token (compared in constant time)."""
    bearer = HTTPBearer(auto_error=False)

    async def authorized(
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
    ) -> None:
        if token is None:
            raise HTTPException(
                403,
                "mutating endpoints are off: no token is configured "
                "(service.token or STREAMLEARN_TOKEN)",
            )
        if credentials is None or not hmac.compare_digest(credentials.credentials, token):
            raise HTTPException(
                401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
            )

    return authorized


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # Where and why, without echoing the input (it may be huge, non-finite or secret).
        errors = [{k: e[k] for k in ("loc", "msg", "type") if k in e} for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(IngressFull)
    async def behind(_request: Request, exc: IngressFull) -> JSONResponse:
        # The trainer is behind: back-pressure, not memory without bound.
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
        return JSONResponse({"detail": str(exc)}, status_code=503, headers=headers)


class BodyLimit:
    """Refuses a request body over ``limit`` bytes with a 413: by its Content-Length before
    reading, and while reading one without (chunked), so memory stays bounded either way.

    Parameters
    ----------
    app
        The ASGI application it wraps.
    limit
        The largest body, in bytes.

    Example
    -------
    >>> from fastapi import FastAPI
    >>> from fastapi.testclient import TestClient
    >>> client = TestClient(BodyLimit(FastAPI(), limit=100))
    >>> client.post("/predict", content=b"x" * 1000).status_code
    413
    """

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            answer = JSONResponse({"detail": f"body over {self.limit} bytes"}, status_code=413)
            return await answer(scope, receive, send)
        read = 0

        async def limited() -> dict:
            nonlocal read
            message = await receive()
            read += len(message.get("body", b""))
            if read > self.limit:  # raised inside the endpoint: FastAPI answers with it
                raise HTTPException(413, f"body over {self.limit} bytes")
            return message

        await self.app(scope, limited, send)


def _new_id() -> str:
    import uuid

    return uuid.uuid4().hex


def _predict_columns(body: PredictRequest, serving: Any) -> dict[str, Any]:
    columns = body.columns
    lengths = {len(values) for values in columns.values()}
    n = lengths.pop() if len(lengths) == 1 else -1
    if n < 0 or (body.ids is not None and len(body.ids) != n):
        raise HTTPException(422, "every column (and 'ids') must have the same length")
    if n > MAX_COLUMN_ROWS:
        raise HTTPException(422, f"at most {MAX_COLUMN_ROWS} rows per call")
    if body.features is not None or body.events is not None:
        raise HTTPException(422, "give one of 'features' (one event), 'events' or 'columns'")
    model = serving.model
    arrays = {name: _column(values) for name, values in columns.items()}
    probabilities = isinstance(model, Classifier | MulticlassClassifier)
    scores = model.predict_proba_many(arrays) if probabilities else model.predict_many(arrays)
    scores = np.asarray(scores, np.float64)
    out: dict[str, Any] = {"ids": body.ids, "model_version": serving.version}
    if model.task == "binary":
        return out | {"predictions": (scores >= 0.5).tolist(), "probabilities": scores.tolist()}
    if isinstance(model, MulticlassClassifier):
        return out | {
            "predictions": class_predictions(model.classes, scores),
            "classes": [str(label) for label in model.classes],
            "probabilities": scores.tolist(),
        }
    return out | {"predictions": scores.tolist()}


def _column(values: list[Any]) -> Any:
    """Numbers as float64 (None → NaN), anything else as text (None stays missing)."""
    if all((isinstance(v, int | float) and not isinstance(v, bool)) or v is None for v in values):
        return np.array([math.nan if v is None else v for v in values], np.float64)
    return pa.array([None if v is None else str(v) for v in values], pa.string())


def _labels(trainer: Trainer, labels: list[Any], tasks: list[Any] | None = None) -> list[Any]:
    """Labels for the model's task: a multiclass model's name classes (text, numbers or
    bools); a binary model's are 0/1 (a multi-task model's binary tasks' too); any other
    model's are numbers (a bool counts as 0 or 1)."""
    model = trainer.runner.model
    if isinstance(model, MulticlassClassifier):
        _check_room_for_classes(model, labels)
        return labels
    if any(isinstance(label, str) for label in labels):
        raise HTTPException(422, "this model's labels are numbers (or bools), not text")
    numbers = [None if label is None else float(label) for label in labels]
    if model.task == Task.BINARY:
        if any(n not in (None, 0.0, 1.0) for n in numbers):
            raise HTTPException(422, "this model's labels are 0/1 (or bools): the task is binary")
        return numbers
    kinds = model.tasks if isinstance(model, MultiTask) else {}
    for n, task in zip(numbers, tasks or [], strict=False):
        if kinds.get(task) == "binary" and n not in (None, 0.0, 1.0):
            raise HTTPException(422, f"{task} is a binary task: its labels are 0/1 (or bools)")
    low, high = trainer.runner.champion.label_bounds
    outside = [n for n in numbers if n is not None and not low <= n <= high]
    if outside:
        raise HTTPException(
            422, f"label {outside[0]:g} is outside this run's bounds [{low:g}, {high:g}]"
        )
    return numbers


def _check_room_for_classes(model: MulticlassClassifier, labels: list[Any]) -> None:
    """A label of a class new to a model that has all the classes it may have is refused
    (the trainer would dead-letter it)."""
    index = model.index
    if len(index) < index.limit:
        return
    for label in labels:
        if label is not None and index.id_of(label, register=False) < 0:
            raise HTTPException(
                422, f"label {shown(label)} would be a new class: the model has its {index.limit}"
            )


def _check_tasks(trainer: Trainer, tasks: list[str | None]) -> None:
    """Feedback for a multi-task model names a task it has; for any other, none."""
    known = task_names(trainer.runner.model)
    if not known:
        if any(t is not None for t in tasks):
            raise HTTPException(422, "this model has one task: feedback has no 'task'")
        return
    wrong = sorted({str(t) for t in tasks if t not in known})
    if wrong:
        raise HTTPException(422, f"feedback needs a 'task', one of {sorted(known)}; got {wrong}")
