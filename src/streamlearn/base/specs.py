"""Small named settings (optimizers, policies) built from themselves, a name or a dict.

>>> from dataclasses import dataclass
>>> from streamlearn.base.specs import from_spec
>>> @dataclass
... class Step:
...     size: float = 1.0
>>> from_spec({"name": "step", "size": 2.0}, {"step": Step}, Step, "step rule")
Step(size=2.0)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def from_spec(spec: Any, registry: Mapping[str, type], base: type, what: str) -> Any:
    """``spec`` itself if it is a ``base``; else ``registry[name](**rest)`` from ``"name"``
    or ``{"name": ..., **rest}``, with a clear error for anything else."""
    if isinstance(spec, base):
        return spec
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, Mapping) or spec.get("name") not in registry:
        raise ValueError(f"unknown {what} {spec!r}; choose one of {sorted(registry)}")
    args = {k: v for k, v in spec.items() if k != "name"}
    try:
        return registry[spec["name"]](**args)
    except TypeError as exc:
        raise ValueError(f"bad {what} parameters {args}: {exc}") from None
