"""The durable join stores restore exactly to any of the newest versions a run may resume
from, refuse an older one, and a join file deleted or swapped is found at resume."""

from __future__ import annotations

import numpy as np
import pytest

from streamlearn.models import LogisticRegression
from streamlearn.registry import LocalRegistry
from streamlearn.runner import RedisJoinStore, Runner, SQLiteJoinStore
from streamlearn.runner.join import JoinStoreMismatch
from streamlearn.streams import FileEvents
from tests.test_runner import delayed_file
from tests.test_runner_cli import run


def make_runner(path, folder, join):
    return Runner(
        LogisticRegression(bits=12),
        FileEvents(path, "y", delay_column="delay"),
        ttl=50,
        expiry="default",
        registry=LocalRegistry(folder),
        checkpoint_every=400,
        micro_batch=200,
        join=join,
    )


def snapshots(folder):
    return sorted(folder.glob("v*.snap"))


@pytest.fixture
def stores(tmp_path, request):
    """Opens the durable join store under test, the same one each call."""
    if request.param == "sqlite":
        return lambda: SQLiteJoinStore(tmp_path / "join.sqlite")
    client = request.getfixturevalue("redis_client")
    return lambda: RedisJoinStore(client, f"join-{tmp_path.name}")


@pytest.mark.parametrize("stores", ["sqlite", "redis"], indirect=True)
def test_resuming_two_versions_back_loses_no_label(tmp_path, stores):
    path = delayed_file(tmp_path / "delayed.csv", n=4000)
    whole = make_runner(path, tmp_path / "whole", None)
    whole.run()
    folder = tmp_path / "parts"
    first = make_runner(path, folder, stores())
    first.run(limit=2600)  # checkpoints every 400 events and at the end (2600)
    first.close()
    for torn in snapshots(folder)[-2:]:  # the two newest unreadable: back to offset 2000
        torn.write_bytes(torn.read_bytes()[:100])
    with pytest.warns(UserWarning, match="falling back"):
        second = make_runner(path, folder, stores())
        summary = second.run()
    assert LocalRegistry(folder).record(summary.resumed_from).offsets["file"] == 2000
    np.testing.assert_array_equal(second.model.table, whole.model.table)
    assert summary.learned == whole.summary.learned
    second.close()


@pytest.mark.parametrize("stores", ["sqlite", "redis"], indirect=True)
def test_resuming_older_than_the_store_keeps_is_refused(tmp_path, stores):
    path = delayed_file(tmp_path / "delayed.csv", n=4000)
    folder = tmp_path / "reg"
    first = make_runner(path, folder, stores())
    first.run(limit=3000)
    first.close()
    # The store keeps what the newest three need (four until the next checkpoint prunes).
    for torn in snapshots(folder)[-4:]:
        torn.write_bytes(b"")
    with pytest.warns(UserWarning), pytest.raises(JoinStoreMismatch, match="cannot resume"):
        make_runner(path, folder, stores()).resume()


def test_a_deleted_join_file_is_found_at_resume(tmp_path):
    path = delayed_file(tmp_path / "delayed.csv", n=3000)
    folder, join_file = tmp_path / "reg", tmp_path / "join.sqlite"
    first = make_runner(path, folder, SQLiteJoinStore(join_file))
    first.run(limit=2000)
    first.close()
    waiting = LocalRegistry(folder).latest()[1].notes["pending"]
    assert waiting > 0
    for part in tmp_path.glob("join.sqlite*"):
        part.unlink()
    with pytest.raises(JoinStoreMismatch, match=f"holds 0 entries .* says {waiting}"):
        make_runner(path, folder, SQLiteJoinStore(join_file)).resume()


def test_the_cli_names_a_lost_join_file(tmp_path):
    path = delayed_file(tmp_path / "delayed.csv", n=3000)
    config = tmp_path / "run.toml"
    config.write_text(
        f"""
[source]
path = "{path}"
target = "y"
delay_column = "delay"
[labels]
store = "sqlite"
store_path = "{tmp_path / "join.sqlite"}"
ttl = 50
[checkpoint]
registry = "{tmp_path / "reg"}"
every_events = 500
"""
    )
    assert run("run", str(config), "--limit", "2000").returncode == 0
    (tmp_path / "join.sqlite").unlink()
    failed = run("run", str(config))
    assert failed.returncode == 1
    assert "join store" in failed.stderr and "Traceback" not in failed.stderr
