"""The live service: a trainer that learns while predictions are served, the HTTP API,
Prometheus metrics, and replicas that follow the registry."""

from streamlearn.service.trainer import Replica, Serving, Trainer

__all__ = ["Replica", "Serving", "Trainer"]
