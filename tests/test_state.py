"""Snapshots: atomic, checksummed, arrays + JSON, never pickle; unknown kinds refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from streamlearn.base import State, load_state, save_state
from streamlearn.base import state as state_module
from streamlearn.models import LogisticRegression


def trained():
    model = LogisticRegression(bits=8)
    model.learn_many({"a": np.arange(50.0), "b": np.array(["x", "y"] * 25)}, np.arange(50) % 2)
    return model


def test_corrupted_snapshot_is_refused(tmp_path):
    path = tmp_path / "m.snap"
    save_state(trained().state(), path)
    good = path.read_bytes()
    flipped = bytearray(good)
    flipped[-len(good) // 4] ^= 0x01  # one bit inside the weights
    path.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="checksum"):
        load_state(path)
    edited = good.replace(b'"bits": 8', b'"bits": 9', 1)  # the header is covered too
    assert edited != good
    path.write_bytes(edited)
    with pytest.raises(ValueError, match="checksum"):
        load_state(path)
    path.write_bytes(good[: len(good) - 100])  # a torn write
    with pytest.raises(ValueError, match="truncated"):
        load_state(path)
    path.write_bytes(b"not a snapshot")
    with pytest.raises(ValueError, match="not a streamlearn snapshot"):
        load_state(path)


def test_object_arrays_are_never_unpickled(tmp_path):
    """Not written, and not read even from a file whose checksum was forged to match."""
    path = tmp_path / "evil.snap"
    save_state(trained().state(), path)
    data = path.read_bytes()
    header, start = state_module._read_header(data, "x")
    header["arrays"][0]["dtype"] = "|O"
    places = [(start + a["offset"], a["nbytes"]) for a in header["arrays"]]
    blobs = [data[at : at + size] for at, size in places]
    header["sha256"] = state_module._digest(header, blobs)
    text = json.dumps(header, sort_keys=True).encode()
    path.write_bytes(state_module.MAGIC + len(text).to_bytes(8, "little") + text + data[start:])
    with pytest.raises(ValueError, match="has dtype"):
        load_state(path)
    with pytest.raises(TypeError, match="cannot go in a snapshot"):
        save_state(State("LogisticRegression", {}, {"table": np.array([object()])}), path)


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


def _forged(data: bytes, edit) -> bytes:
    """``data`` with its header changed by ``edit`` and the checksum forged to match."""
    header, start = state_module._read_header(data, "x")
    edit(header)
    places = [(start + a["offset"], a["nbytes"]) for a in header["arrays"]]
    header["sha256"] = state_module._digest(header, [data[at : at + n] for at, n in places])
    text = json.dumps(header, sort_keys=True).encode()
    return state_module.MAGIC + len(text).to_bytes(8, "little") + text + data[start:]


def test_named_parts_round_trip_under_one_checksum(tmp_path):
    model = trained().state()
    runner = State("Runner", {}, {"lane0/offsets": np.arange(3)}, {"source": {"p": 7}})
    path = tmp_path / "checkpoint.snap"
    save_state(State(model.kind, model.params, model.arrays, model.meta, {"runner": runner}), path)
    back = load_state(path)
    assert back.arrays.keys() == model.arrays.keys()  # the model's arrays, as they were
    assert back.parts["runner"].meta == {"source": {"p": 7}}
    np.testing.assert_array_equal(back.parts["runner"].arrays["lane0/offsets"], np.arange(3))
    restored = back.to_learner()  # the model part alone makes the learner
    np.testing.assert_array_equal(restored.table, trained().table)
    flipped = bytearray(path.read_bytes())
    flipped[-3] ^= 0x01  # inside the runner part's arrays: the checksum covers them
    with pytest.raises(ValueError, match="checksum"):
        state_module.load_snapshot(bytes(flipped))
    with pytest.raises(ValueError, match="one level"):
        save_state(State("A", {}, parts={"b": State("B", {}, parts={"c": State("C", {})})}), path)


def test_a_forged_header_with_bad_parts_is_refused(tmp_path):
    path = tmp_path / "m.snap"
    runner = State("Runner", {}, {"x": np.ones(2)})
    save_state(State("LogisticRegression", {}, {"t": np.zeros(2)}, parts={"runner": runner}), path)
    data = path.read_bytes()
    forgeries = [
        lambda h: h.pop("parts"),  # arrays of an undescribed part
        lambda h: h.update(parts=["runner"]),  # parts of the wrong shape
        lambda h: h["parts"]["runner"].pop("kind"),
    ]
    for edit in forgeries:
        with pytest.raises(ValueError):
            state_module.load_snapshot(_forged(data, edit))


def test_a_sparse_model_checkpoints_in_proportion_to_the_weights_it_uses(tmp_path):
    """A 2^20-weight model that has learned 50k distinct features: its snapshot holds their
    places and values only, and comes back bit for bit (-0.0 and NaN in their places)."""
    import time

    model = LogisticRegression(bits=20)
    users = np.array([f"u{i}" for i in range(50_000)], dtype=object)
    model.learn_many({"user": users}, np.arange(50_000) % 2 == 0)
    used = int((model.table != 0).any(axis=1).sum())
    assert 45_000 < used <= 50_000  # a few collide
    path = tmp_path / "sparse.snap"
    save_state(model.state(), path)
    assert path.stat().st_size <= 2_000_000
    started = time.perf_counter()
    back = load_state(path).to_learner()
    assert time.perf_counter() - started < 2.0  # (the benchmark measures it: ~10 ms)
    np.testing.assert_array_equal(back.table.view(np.uint64), model.table.view(np.uint64))
    odd = np.zeros(4096)
    odd[[7, 9]] = [-0.0, np.nan]
    save_state(State("X", {}, {"odd": odd}), path)
    assert load_state(path).arrays["odd"].view(np.uint64).tolist() == odd.view(np.uint64).tolist()


def test_a_forged_sparse_layout_is_refused(tmp_path):
    path = tmp_path / "m.snap"
    values = np.zeros(4096)
    values[[10, 4000]] = [1.0, 2.0]
    save_state(State("X", {}, {"w": values}), path)
    data = path.read_bytes()
    header, _ = state_module._read_header(data, "x")
    assert header["arrays"][0]["sparse"]["count"] == 2
    forgeries = [
        lambda h: h["arrays"][0].update(shape=[2048]),  # a place beyond the shape
        lambda h: h["arrays"][0]["sparse"].update(count=3),  # more places than bytes
        lambda h: h["arrays"][0]["sparse"].update(index_dtype="<f8"),
        lambda h: h["arrays"][0]["sparse"].update(count=-1),
    ]
    for edit in forgeries:
        with pytest.raises(ValueError):
            state_module.load_snapshot(_forged(data, edit))


def test_a_format_3_snapshot_still_loads(tmp_path, monkeypatch):
    monkeypatch.setattr(state_module, "FORMAT_VERSION", 3)
    monkeypatch.setattr(state_module, "SPARSE_MIN_SIZE", 1 << 40)  # format 3: dense arrays
    path = tmp_path / "old.snap"
    save_state(trained().state(), path)
    monkeypatch.undo()
    np.testing.assert_array_equal(load_state(path).to_learner().table, trained().table)
