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


HELP_WITHOUT_KERNELS = """
import sys
sys.argv = ["streamlearn", "--help"]
from streamlearn.cli.main import main
try:
    main()
except SystemExit:
    pass
heavy = sorted(m for m in ("numpy", "numba", "pyarrow", "pydantic") if m in sys.modules)
print("loaded:" + ",".join(heavy))
"""


def test_help_loads_no_numerical_module():
    """``streamlearn --help`` answers without numpy, numba, Arrow or pydantic: a user who asks
    for the help waits for Python and the command line parser only."""
    done = subprocess.run(
        [sys.executable, "-c", HELP_WITHOUT_KERNELS], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "evaluate" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "loaded:"
