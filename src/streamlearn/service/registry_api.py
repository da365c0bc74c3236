"""The registry's endpoints: the versions and their records, and an operator's promote, pin,
unpin and rollback (each needs the bearer token). A trainer serves the chosen version at its
next micro-batch; a replica at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Query
from pydantic import BaseModel, ConfigDict

from streamlearn.registry import Registry
from streamlearn.service.fields import Text
from streamlearn.service.trainer import Replica, Trainer


class RollbackRequest(BaseModel):
    """Serve an earlier version.

    Parameters
    ----------
    version
        The version to serve (default: the previous champion, else the champion's parent).

    Example
    -------
    >>> RollbackRequest().version is None  # the previous champion
    True
    """

    model_config = ConfigDict(extra="forbid")
    version: Text | None = None


def add_registry_routes(
    app: FastAPI,
    registry: Registry | None,
    trainer: Trainer | None,
    replica: Replica | None,
    authorized: Callable[..., None],
) -> None:
    """``/models``, ``/models/{version}``, its ``promote`` and ``pin``, ``/unpin`` and
    ``/rollback`` on ``app`` (mutating ones behind ``authorized``)."""

    @app.get("/models")
    def models(limit: int | None = Query(None, ge=1, description="Only the newest.")) -> dict:
        found = needs(registry, "a registry").versions()
        found = found[-limit:] if limit else found
        return {"versions": [v.as_dict() for v in found], "tags": registry.tags()}

    @app.get("/models/{version}")
    def model(version: str) -> dict[str, Any]:
        try:
            return needs(registry, "a registry").record(version).as_dict()
        except KeyError:
            raise HTTPException(404, f"no version {version!r}") from None

    @app.post("/models/{version}/promote", dependencies=[Depends(authorized)])
    def promote(version: str) -> dict[str, str]:
        try:
            needs(registry, "a registry").promote(version, requested=True)
        except KeyError:
            raise HTTPException(404, f"no version {version!r}") from None
        serve_version(trainer, replica, version)
        return {"champion": version}

    @app.post("/models/{version}/pin", dependencies=[Depends(authorized)])
    def pin(version: str) -> dict[str, str]:
        """Serve ``version`` until ``/unpin``, whatever the trainer checkpoints."""
        try:
            needs(registry, "a registry").pin(version)
        except KeyError:
            raise HTTPException(404, f"no version {version!r}") from None
        serve_version(trainer, replica, version)
        return {"pinned": version}

    @app.post("/unpin", dependencies=[Depends(authorized)])
    def unpin() -> dict[str, str | None]:
        return {"unpinned": needs(registry, "a registry").unpin()}

    @app.post("/rollback", dependencies=[Depends(authorized)])
    def rollback(body: RollbackRequest | None = None) -> dict[str, str]:
        body = body or RollbackRequest()  # no body: the previous champion
        try:
            chosen = needs(registry, "a registry").rollback(body.version)
        except KeyError:
            raise HTTPException(404, f"no version {body.version!r}") from None
        except ValueError as exc:
            raise HTTPException(409, str(exc)) from None
        serve_version(trainer, replica, chosen)
        return {"champion": chosen}


def needs(part: Any, what: str) -> Any:
    """``part``, or a 404 saying this service has no ``what`` (a registry, learning…)."""
    if part is None:
        raise HTTPException(404, f"this service has no {what}")
    return part


def serve_version(trainer: Trainer | None, replica: Replica | None, version: str) -> None:
    if trainer is not None:
        trainer.runner.request_rollback(version)
    elif replica is not None:
        replica.refresh()
