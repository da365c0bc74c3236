"""A lower layer never imports a higher one (see the architecture page, docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import streamlearn

PACKAGE = Path(streamlearn.__file__).parent
ALLOWED = {
    "base": set(),
    "features": {"base"},
    "models": {"base", "features", "drift"},
    "drift": {"base"},
    "adaptation": {"base", "features", "models", "drift"},
    "evaluate": {"base", "models", "features", "drift", "adaptation", "streams"},
    "streams": {"base", "features"},
    "datasets": {"base", "streams"},
    "registry": {"base"},
    "monitor": {"base", "evaluate"},
    "interop": {"base", "features", "models"},
}
# The runner wires everything below it; the service runs the runner; the command line
# sits on top.
ALLOWED["runner"] = set(ALLOWED)
ALLOWED["scaleout"] = ALLOWED["runner"] | {"runner"}
# Offline evaluation runs a file through the runner.
ALLOWED["offline"] = ALLOWED["runner"] | {"runner"}
# The conformance suite runs learners alone and inside the runner.
ALLOWED["checks"] = ALLOWED["runner"] | {"runner"}
ALLOWED["config"] = ALLOWED["scaleout"] | {"scaleout"}
ALLOWED["service"] = ALLOWED["config"] | {"config"}
ALLOWED["cli"] = ALLOWED["service"] | {"service", "offline"}


def imported_layers(path: Path) -> set[str]:
    layers = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "streamlearn" and len(parts) > 1:
                layers.add(parts[1])
    return layers


def test_layers_only_import_downwards():
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"} == set(
        ALLOWED
    )
    for layer, allowed in ALLOWED.items():
        for path in (PACKAGE / layer).rglob("*.py"):
            wrong = imported_layers(path) - allowed - {layer}
            assert not wrong, f"{path.relative_to(PACKAGE)} imports {wrong}"
