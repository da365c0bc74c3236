"""Optional parts of streamlearn and the extra that installs each: the core (learners,
``evaluate``, ``run`` on files) needs none of them.

>>> from streamlearn.base.extras import MissingExtra, require
>>> require("json", "serve") is not None  # a module that is there is returned
True
>>> try:
...     require("no_such_module", "kafka")
... except MissingExtra as exc:
...     print(exc.extra, "|", exc)  # doctest: +ELLIPSIS
kafka | this needs streamlearn's [kafka] extra (no_such_module is not installed): pip install ...
"""

from __future__ import annotations

import importlib
from types import ModuleType

# extra → what it brings
EXTRAS = {
    "serve": "the HTTP service and its dashboard (FastAPI, uvicorn, Prometheus)",
    "kafka": "Kafka sources and sinks (confluent-kafka)",
    "redis": "the Redis registry, label store and parameter mixing (redis-py)",
    "report": "HTML reports with charts (matplotlib)",
    "river": "River models inside streamlearn and ours inside River",
    "torch": "neural networks (PyTorch)",
}


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(
            f"this needs streamlearn's [{extra}] extra ({module} is not installed): "
            f"pip install 'streamlearn[{extra}]'"
        )
        self.extra = extra


def require(module: str, extra: str) -> ModuleType:
    """Import ``module``, or raise :class:`MissingExtra` naming ``extra``."""
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; known: {sorted(EXTRAS)}")
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module.split(".")[0] != exc.name.split(".")[0]:
            raise  # the module is there; something it imports is not
        raise MissingExtra(module, extra) from None
