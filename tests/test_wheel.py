"""The wheel a user installs with pip: without extras it pulls none of the service or
peer packages, and its first commands work; a command that needs an extra says which, in
one line. Built from this tree and installed in a fresh virtual environment."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXTRAS_ONLY = ("fastapi", "uvicorn", "confluent-kafka", "redis", "matplotlib", "prometheus-client")
HEAVY_MODULES = ("fastapi", "uvicorn", "confluent_kafka", "redis", "matplotlib", "river", "torch")


def run(*command: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, cwd=cwd, timeout=900
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh environment with the wheel of this tree, no extras: its ``bin``."""
    work = tmp_path_factory.mktemp("wheel")
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", work, ROOT)
    assert built.returncode == 0, built.stderr
    (wheel,) = work.glob("streamlearn-*.whl")
    venv.create(work / "env", with_pip=True)
    bin_ = work / "env" / "bin"
    done = run(bin_ / "pip", "install", "-q", "--disable-pip-version-check", wheel)
    assert done.returncode == 0, done.stderr
    return bin_


def test_the_core_install_pulls_no_extra(installed):
    listed = run(installed / "pip", "list", "--format=freeze").stdout.lower()
    names = {line.split("==")[0] for line in listed.splitlines()}
    assert {"streamlearn", "numba", "pyarrow"} <= names
    assert not names & set(EXTRAS_ONLY), names & set(EXTRAS_ONLY)
    assert (Path(run(installed / "python", "-c", TYPED).stdout.strip())).is_file()


TYPED = (
    "import streamlearn, pathlib; print(pathlib.Path(streamlearn.__file__).with_name('py.typed'))"
)


def test_the_first_commands_work_from_the_wheel(installed, tmp_path):
    version = run(installed / "streamlearn", "--version")
    assert version.returncode == 0 and version.stdout.startswith("streamlearn 0.")
    data = run(
        installed / "python", "-c", "from streamlearn.datasets import elec2; print(elec2.path())"
    )
    evaluated = run(
        installed / "streamlearn",
        "evaluate",
        data.stdout.strip(),
        "--target",
        "target",
        "--limit",
        "3000",
        "--output",
        "json",
        cwd=tmp_path,
    )
    assert evaluated.returncode == 0, evaluated.stderr
    assert '"accuracy"' in evaluated.stdout
    demo = run(installed / "streamlearn", "demo", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    assert "versions" in demo.stdout


def test_a_command_that_needs_an_extra_names_it_in_one_line(installed, tmp_path):
    config = tmp_path / "serve.toml"
    config.write_text('[model]\nkind = "linear"\n')
    served = run(installed / "streamlearn", "serve", config, cwd=tmp_path)
    assert served.returncode == 1
    lines = served.stderr.strip().splitlines()
    assert lines == [
        "error: this needs streamlearn's [serve] extra (fastapi is not installed): "
        "pip install 'streamlearn[serve]'"
    ]


def test_importing_the_core_loads_no_service_or_peer_package():
    code = (
        "import sys\n"
        "import streamlearn.models, streamlearn.runner, streamlearn.evaluate\n"
        "import streamlearn.streams, streamlearn.registry, streamlearn.config\n"
        "import streamlearn.cli.main\n"
        f"print(sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules))\n"
    )
    assert run(sys.executable, "-c", code).stdout.strip() == "[]"
