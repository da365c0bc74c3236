"""SIGKILL the runner at random points while it replays a file; restart it each time. The
final model must be bit-identical to an uninterrupted run's, with no event learned twice or
skipped."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from streamlearn.config import build_runner, load_config
from streamlearn.datasets import synth
from streamlearn.registry import LocalRegistry

N_EVENTS = 300_000
CONFIG = """
[source]
path = "clicks.csv"
target = "click"
[labels]
delay = 500
ttl = 2000
expiry = "default"
store = "{store}"
[model]
bits = 18
interactions = [["C1", "C2"]]
[drift]
detector = "ADWIN"
[checkpoint]
registry = "{registry}"
every_events = 5000
[output]
micro_batch = 2500
predictions = "{predictions}"
"""


def write_config(folder: Path, name: str, store: str) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(
        CONFIG.format(store=store, registry=f"reg-{name}", predictions=f"predictions-{name}.csv")
    )
    return path


def _versions(registry: Path) -> int:
    return len(list(registry.glob("v*.snap"))) if registry.exists() else 0


def _wait_for_a_new_checkpoint(process: subprocess.Popen, registry: Path) -> bool:
    """Wait until the run has written a checkpoint of its own (False if it ended first)."""
    before = _versions(registry)
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        if _versions(registry) > before:
            return True
        time.sleep(0.02)
    return False


def test_sigkill_at_random_points_then_resume_equals_an_uninterrupted_run(tmp_path):
    synth.write_csv(str(tmp_path / "clicks.csv"), n=N_EVENTS, seed=2)
    uninterrupted = build_runner(load_config(write_config(tmp_path, "whole", "memory")))
    expected = uninterrupted.run()
    rng = np.random.default_rng(7)
    for store in ("memory", "sqlite"):
        config = write_config(tmp_path, f"killed-{store}", store)
        registry = tmp_path / f"reg-killed-{store}"
        kills = stops = 0
        while True:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "streamlearn.cli.main",
                    "run",
                    str(config),
                    "--output",
                    "json",
                ],
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            if kills < 4 and _wait_for_a_new_checkpoint(process, registry):
                # Somewhere after it: in a batch, a checkpoint, a prediction log write …
                time.sleep(rng.uniform(0.0, 0.4))
                if process.poll() is None:
                    process.send_signal(signal.SIGKILL)
                    process.wait()
                    kills += 1
                    continue
            if stops < 1 and _wait_for_a_new_checkpoint(process, registry):
                process.send_signal(signal.SIGTERM)  # a clean stop: checkpoint, then exit
                out, err = process.communicate(timeout=120)
                assert process.returncode == 0, err.decode()
                assert json.loads(out)["stopped"] and b"SIGTERM" in err
                stops += 1
                continue
            _, err = process.communicate(timeout=300)
            assert process.returncode == 0, err.decode()
            break
        assert kills == 4 and stops == 1
        state, version = LocalRegistry(registry).latest()
        model = state.arrays["learner/table"]
        np.testing.assert_array_equal(model, uninterrupted.model.learner.table)
        counters = version.notes["counters"]
        assert counters["served"] == expected.served == N_EVENTS
        assert counters["learned"] == expected.learned  # none twice, none skipped
        assert version.offsets == {"file": N_EVENTS}  # data rows are numbered from 1
        # The prediction log is at least once: a restart repeats what followed the snapshot.
        logged = (tmp_path / f"predictions-killed-{store}.csv").read_text().splitlines()
        whole_lines = [line.split(",") for line in logged[1:] if line.count(",") == 3]
        offsets = {int(fields[0]) for fields in whole_lines}
        assert offsets == set(range(1, N_EVENTS + 1))
