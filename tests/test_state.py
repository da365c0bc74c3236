"""Snapshots: atomic, checksummed, arrays + JSON, never pickle; unknown kinds refused."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from streamlearn.base import State, load_state, save_state
from streamlearn.models import LogisticRegression


def trained():
    model = LogisticRegression(bits=8)
    model.learn_many({"a": np.arange(50.0), "b": np.array(["x", "y"] * 25)}, np.arange(50) % 2)
    return model


def test_corrupted_snapshot_is_refused(tmp_path):
    path = tmp_path / "m.snap"
    save_state(trained().state(), path)
    with zipfile.ZipFile(path) as zf:
        header, arrays = zf.read("state.json"), bytearray(zf.read("arrays.npz"))
    arrays[len(arrays) // 2] ^= 0xFF
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("state.json", header)
        zf.writestr("arrays.npz", bytes(arrays))
    with pytest.raises(ValueError, match="checksum"):
        load_state(path)
    path.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a streamlearn snapshot"):
        load_state(path)


def test_object_arrays_are_never_unpickled(tmp_path):
    path = tmp_path / "evil.snap"
    save_state(State("LogisticRegression", {}, {"table": np.array([object()], dtype=object)}), path)
    with pytest.raises(ValueError, match="pickle"):
        load_state(path)


def test_unknown_kind_and_bad_arrays_are_refused():
    with pytest.raises(ValueError, match="unknown learner kind"):
        State("os.system", {}, {}).to_learner()
    state = trained().state()
    state.arrays["table"] = np.full_like(state.arrays["table"], np.nan)
    with pytest.raises(ValueError, match="non-finite"):
        state.to_learner()


def test_snapshot_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "m.snap"
    save_state(trained().state(), path)
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", fail)
    with pytest.raises(OSError, match="disk full"):
        save_state(LogisticRegression(bits=8).state(), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.snap"]  # no temp file left behind
