"""The live service: a trainer that learns while predictions are served, the HTTP API,
Prometheus metrics, and replicas that follow the registry (the ``[serve]`` extra)."""

from streamlearn.base.extras import require

# Before any of the service's modules: a missing [serve] extra is named in one line.
for _module in ("fastapi", "uvicorn", "prometheus_client"):
    require(_module, "serve")

from streamlearn.service.trainer import Replica, Serving, Trainer  # noqa: E402 (after the check)

__all__ = ["Replica", "Serving", "Trainer"]
