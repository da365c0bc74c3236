"""Every module imports on its own, first: no import cycle hides behind the order in which
the package happens to load its modules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import streamlearn

SCRIPT = """
import importlib, sys
failed = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "streamlearn" or m.startswith("streamlearn.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as error:  # noqa: BLE001 - reported below
        failed.append(f"{name}: {type(error).__name__}: {error}")
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def test_every_module_imports_first():
    root = Path(streamlearn.__file__).parent
    names = sorted(
        ".".join(("streamlearn", *path.relative_to(root).with_suffix("").parts))
        for path in root.rglob("*.py")
        if path.name != "__init__.py"
    )
    assert len(names) > 100
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, *names], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
