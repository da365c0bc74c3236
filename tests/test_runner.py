"""The runner: exact per-event semantics with delayed labels, the join, checkpoints, resume."""

from __future__ import annotations

import heapq
import math

import numpy as np
import pyarrow.csv as pacsv
import pytest

from streamlearn.adaptation import adaptive
from streamlearn.datasets import elec2
from streamlearn.drift import ADWIN
from streamlearn.models import SGD, LinearRegression, LogisticRegression
from streamlearn.registry import LocalRegistry
from streamlearn.runner import MemoryJoinStore, Runner, SQLiteJoinStore
from streamlearn.runner.guards import PromotionGate, RollbackGuard
from streamlearn.runner.join import Rows
from streamlearn.streams import FileEvents
from streamlearn.streams.batch import EventBatch

LABEL, EXPIRE, LATE = 1, 2, 3


def delayed_file(path, n=3000, seed=0):
    """Events with a colour and a size; the label (sometimes missing) comes after a
    per-event delay (sometimes missing: it never comes)."""
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "blue", "green"], n)
    size = np.round(rng.normal(size=n), 3)
    label = ((colour == "red") ^ (size > 0.5) ^ (rng.random(n) < 0.1)).astype(int)
    delay = rng.integers(0, 60, n)
    lines = ["colour,size,y,delay"]
    for i in range(n):
        y = "" if rng.random() < 0.05 else str(label[i])
        d = "" if rng.random() < 0.03 else str(delay[i])
        lines.append(f"{colour[i]},{size[i]},{y},{d}")
    path.write_text("\n".join(lines) + "\n")
    return path


def reference_run(path, ttl, expiry, default_label=0.0, time_column=None):
    """The same stream event by event, with a heap of label operations: the definition the
    runner's compiled schedule must match."""
    table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
    times = table.column(time_column).to_pylist() if time_column else None
    rows = table.drop(["y", "delay", *([time_column] if time_column else [])]).to_pylist()
    labels, delays = table.column("y").to_pylist(), table.column("delay").to_pylist()
    model = LogisticRegression(bits=12, standardize=False)
    heap, waiting, counts = [], {}, {"learned": 0, "expired": 0, "late": 0}

    def settle(before):
        while heap and heap[0][0] < before:
            _, kind, offset, target = heapq.heappop(heap)
            if kind == LATE:
                counts["late"] += 1
                continue
            x = waiting.pop(offset)
            if kind == LABEL or expiry == "default":
                model.learn_one(x, target if kind == LABEL else default_label)
                counts["learned"] += 1
            counts["expired"] += kind == EXPIRE

    for i, x in enumerate(rows):
        offset = i + 1
        key = times[i] if times else offset
        settle(key)
        model.predict_proba_one(x)
        has_label = labels[i] is not None and delays[i] is not None
        reveal, deadline = key + (delays[i] or 0), key + ttl
        if has_label and reveal <= deadline:
            heapq.heappush(heap, (reveal, LABEL, offset, float(labels[i])))
            waiting[offset] = x
        elif math.isfinite(deadline):
            heapq.heappush(heap, (deadline, EXPIRE, offset, math.nan))
            waiting[offset] = x
        if has_label and reveal > deadline:
            heapq.heappush(heap, (reveal, LATE, offset, math.nan))
    settle(math.inf)
    return model, counts


@pytest.mark.parametrize("ttl,expiry", [(math.inf, "drop"), (40, "drop"), (40, "default")])
@pytest.mark.parametrize("micro_batch", [1000, 37])
def test_delayed_labels_equal_the_event_by_event_definition(tmp_path, ttl, expiry, micro_batch):
    path = delayed_file(tmp_path / "delayed.csv")
    expected, counts = reference_run(path, ttl, expiry)
    runner = Runner(
        LogisticRegression(bits=12, standardize=False),
        FileEvents(path, "y", delay_column="delay"),
        ttl=ttl,
        expiry=expiry,
        micro_batch=micro_batch,
    )
    summary = runner.run()
    np.testing.assert_array_equal(runner.model.table, expected.table)
    np.testing.assert_array_equal(runner.model.intercept, expected.intercept)
    assert (summary.learned, summary.expired, summary.late) == (
        counts["learned"],
        counts["expired"],
        counts["late"],
    )
    assert summary.served == 3000 and len(runner.join) == 0 and summary.late + 1 > 0
    if ttl == 40:
        assert summary.expired > 0 and summary.late > 0  # both paths are exercised


def test_delays_in_event_time_follow_the_time_column(tmp_path):
    path = delayed_file(tmp_path / "delayed.csv")
    rng = np.random.default_rng(2)
    times = np.cumsum(rng.exponential(0.5, 3000)).round(3)  # seconds, irregular
    lines = path.read_text().splitlines()
    path.write_text(
        "\n".join(
            [lines[0] + ",t"] + [f"{line},{t}" for line, t in zip(lines[1:], times, strict=True)]
        )
        + "\n"
    )
    expected, counts = reference_run(path, 20.0, "default", time_column="t")
    runner = Runner(
        LogisticRegression(bits=12, standardize=False),
        FileEvents(path, "y", time_column="t", delay_column="delay"),
        ttl=20.0,
        expiry="default",
        micro_batch=500,
    )
    summary = runner.run()
    np.testing.assert_array_equal(runner.model.table, expected.table)
    assert (summary.learned, summary.expired, summary.late) == (
        counts["learned"],
        counts["expired"],
        counts["late"],
    )
    assert summary.late > 0 and summary.expired > summary.late


@pytest.mark.parametrize(
    "make",
    [
        lambda: LogisticRegression(bits=16),
        lambda: adaptive(LogisticRegression(bits=16), ADWIN(direction="up"), "reset", "log_loss"),
    ],
)
def test_labels_with_their_events_equal_progressive_validation(make):
    table = pacsv.read_csv(elec2.path())
    reference = make()
    predictions = reference.predict_learn_many(table.drop(["target"]), table["target"])
    for micro_batch in (16384, 999):
        runner = Runner(make(), FileEvents(elec2.path(), "target"), micro_batch=micro_batch)
        runner.run()
        model = getattr(runner.model, "learner", runner.model)
        expected = getattr(reference, "learner", reference)
        np.testing.assert_array_equal(model.table, expected.table)
        core = ("index", "detector", "statistic", "action")
        drifts = [{k: d[k] for k in core} for d in getattr(runner.model, "drifts", [])]
        assert drifts == getattr(reference, "drifts", [])
        # The runner adds where and when: the event's offset, the label's key, the clock.
        assert all(
            d["offset"] == d["index"] + 1 == d["time"] for d in getattr(runner.model, "drifts", [])
        )
    assert predictions.shape == (45312,)


def test_a_label_learns_from_the_features_as_served():
    """The caller's feature columns change after serving (a profile updated, a buffer
    reused): the label must still learn from what the model saw."""
    model = LogisticRegression(bits=10, standardize=False)
    runner = Runner(model, source=None, delay=5)
    colours = np.array(["red"] * 3, dtype=object)
    batch = EventBatch(
        {"colour": colours},
        np.ones(3),
        ["a", "b", "c"],
        np.array([1, 2, 3]),
        np.array([1.0, 2.0, 3.0]),
    )
    runner.step(batch)
    colours[:] = "blue"  # what a re-read would now give
    greens = {"colour": np.array(["green"] * 10, dtype=object)}
    ids = [f"z{i}" for i in range(10)]
    later = EventBatch(greens, np.full(10, np.nan), ids, np.arange(4, 14), np.arange(4.0, 14.0))
    runner.step(later)
    assert runner.counters["learned"] == 3
    reference = LogisticRegression(bits=10, standardize=False)
    for _ in range(3):
        reference.learn_one({"colour": "red"}, True)
    for _ in range(10):
        reference.predict_proba_one({"colour": "green"})
    np.testing.assert_array_equal(runner.model.table, reference.table)


def test_regression_runs_with_delays(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.normal(size=2000)
    lines = ["x,y"] + [
        f"{a:.4f},{3 * a + 1 + 0.1 * b:.4f}" for a, b in zip(x, rng.normal(size=2000), strict=True)
    ]
    (tmp_path / "r.csv").write_text("\n".join(lines) + "\n")
    summary = Runner(LinearRegression(bits=8), FileEvents(tmp_path / "r.csv", "y"), delay=20).run()
    assert summary.learned == 2000 and summary.metrics["r2"] > 0.9


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_resume_after_a_stop_gives_the_uninterrupted_model(tmp_path, store):
    path = delayed_file(tmp_path / "delayed.csv", n=5000)

    def runner(folder, join=None):
        return Runner(
            LogisticRegression(bits=12),
            FileEvents(path, "y", delay_column="delay"),
            ttl=50,
            expiry="default",
            registry=LocalRegistry(folder),
            checkpoint_every=700,
            micro_batch=300,
            join=join or MemoryJoinStore(),
        )

    whole = runner(tmp_path / "whole")
    whole.run()
    parts = tmp_path / "parts"
    sqlite = (lambda: SQLiteJoinStore(tmp_path / "join.db")) if store == "sqlite" else None
    served = 0
    for limit in (1234, 1, 2000, 10_000):
        part = runner(parts, sqlite() if sqlite else None)
        summary = part.run(limit=limit)
        part.close()
        assert summary.served == min(served + limit, 5000)
        if limit == 2000:  # as if killed before the last checkpoint: resume from an older one
            sorted(parts.glob("v*.snap"))[-1].unlink()
            summary.served = LocalRegistry(parts).latest()[1].notes["counters"]["served"]
        served = summary.served
    np.testing.assert_array_equal(part.model.table, whole.model.table)
    assert summary.learned == whole.summary.learned
    assert summary.metrics == pytest.approx(whole.summary.metrics, rel=1e-12)  # sums in batches
    assert summary.resumed_from is not None


def test_a_corrupt_newest_snapshot_falls_back_to_the_one_before(tmp_path):
    path = delayed_file(tmp_path / "delayed.csv", n=4000)

    def runner():
        return Runner(
            LogisticRegression(bits=12),
            FileEvents(path, "y", delay_column="delay"),
            registry=LocalRegistry(tmp_path / "reg"),
            checkpoint_every=500,
            micro_batch=500,
        )

    whole = Runner(LogisticRegression(bits=12), FileEvents(path, "y", delay_column="delay"))
    whole.run()
    runner().run(limit=2500)
    newest = sorted((tmp_path / "reg").glob("v*.snap"))[-1]
    data = newest.read_bytes()
    newest.write_bytes(data[: len(data) // 2])  # a torn write
    with pytest.warns(UserWarning, match="falling back"):
        resumed = runner()
        summary = resumed.run()
    # v000001 is the starting model; the newest (v000006) was unusable
    assert summary.resumed_from == "v000005"
    np.testing.assert_array_equal(resumed.model.table, whole.model.table)
    flipped = bytearray(sorted((tmp_path / "reg").glob("v*.snap"))[0].read_bytes())
    flipped[-200] ^= 0xFF  # one flipped bit inside the arrays: the checksum catches it
    bad = tmp_path / "reg" / "v000001.snap"
    bad.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="unusable"):
        LocalRegistry(tmp_path / "reg").load("v000001")


def rule_file(path, n, flip=None, drift_at=None, seed=1):
    """y = (colour is red) xor (size > 0.3), 5% noise; labels flipped in ``flip`` (a bug
    upstream), or the rule inverted for good from ``drift_at`` (a real drift)."""
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "blue", "green", "grey"], n)
    size = np.round(rng.normal(size=n), 3)
    label = (colour == "red") ^ (size > 0.3) ^ (rng.random(n) < 0.05)
    index = np.arange(n)
    if flip is not None:
        label ^= (index >= flip[0]) & (index < flip[1])
    if drift_at is not None:
        label ^= index >= drift_at
    lines = ["colour,size,y"] + [
        f"{c},{s},{int(v)}" for c, s, v in zip(colour, size, label, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def guarded(path, folder, **options):
    return Runner(
        LogisticRegression(bits=12),
        FileEvents(path, "y", categorical=["colour"]),
        registry=LocalRegistry(folder),
        checkpoint_every=2000,
        micro_batch=1000,
        rollback=RollbackGuard(min_events=1000),
        **options,
    )


def test_rollback_after_a_stretch_of_bad_labels_and_not_after_a_real_drift(tmp_path):
    poisoned = rule_file(tmp_path / "poisoned.csv", 40_000, flip=(20_000, 26_000))
    summary = guarded(poisoned, tmp_path / "a").run()
    assert len(summary.rollbacks) >= 1
    first = summary.rollbacks[0]
    assert 26_000 < first["offset"] <= 32_000  # once the labels are sound again
    assert first["p_value"] < 0.01 and first["gap"] > 0.05
    assert int(first["to"][1:]) <= 10  # a version from before the bad stretch
    plain = Runner(
        LogisticRegression(bits=12), FileEvents(poisoned, "y", categorical=["colour"])
    ).run()
    assert summary.metrics["log_loss"] < plain.metrics["log_loss"]
    drifted = rule_file(tmp_path / "drifted.csv", 40_000, drift_at=20_000)
    assert guarded(drifted, tmp_path / "b").run().rollbacks == []  # old versions are worse
    steady = rule_file(tmp_path / "steady.csv", 40_000)
    assert guarded(steady, tmp_path / "c").run().rollbacks == []


def linear_file(path, n, flip):
    """y = (1.5a - b + 0.5c + noise > 0); labels flipped in ``flip``."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(n, 3))
    label = x @ np.array([1.5, -1.0, 0.5]) + rng.normal(0, 1.0, n) > 0
    index = np.arange(n)
    label ^= (index >= flip[0]) & (index < flip[1])
    rows = [f"{a:.4f},{b:.4f},{c:.4f},{int(y)}" for (a, b, c), y in zip(x, label, strict=True)]
    path.write_text("\n".join(["a,b,c,y", *rows]) + "\n")
    return path


def test_the_rollback_guard_reaches_back_past_versions_fitted_to_bad_labels(tmp_path):
    """After 6,000 flipped labels the version with the lowest loss when saved is one fitted
    to them (its loss was low *on them*): the guard scores versions further back too."""
    path = linear_file(tmp_path / "linear.csv", 30_000, flip=(12_000, 18_000))
    registry = LocalRegistry(tmp_path / "registry")
    runner = Runner(
        LogisticRegression(bits=12),
        FileEvents(path, "y"),
        registry=registry,
        checkpoint_every=1000,
        micro_batch=1000,
        rollback=RollbackGuard(min_events=1000),
    )
    summary = runner.run()
    saved = {v.id: v for v in registry.versions()}
    fitted_to_the_flip = min(
        (v for v in saved.values() if "window_loss" in v.notes and v.offsets["file"] <= 20_000),
        key=lambda v: v.notes["window_loss"],
    )
    assert 12_000 < fitted_to_the_flip.offsets["file"] <= 18_000
    first = summary.rollbacks[0]
    assert 18_000 < first["offset"] <= 22_000
    assert saved[first["to"]].offsets["file"] <= 12_000  # from before the bad labels


def test_a_better_challenger_is_promoted_and_serves(tmp_path):
    path = rule_file(tmp_path / "rule.csv", 20_000)
    weak = LogisticRegression(SGD(lr=1e-4), bits=12)
    runner = Runner(
        weak,
        FileEvents(path, "y", categorical=["colour"]),
        challengers={"ftrl": LogisticRegression(bits=12)},
        gate=PromotionGate(),
        registry=LocalRegistry(tmp_path),
        checkpoint_every=3000,
        micro_batch=1000,
    )
    summary = runner.run()
    [promotion] = summary.promotions
    assert (promotion["from"], promotion["to"]) == ("champion", "ftrl")
    assert promotion["from_model"] == promotion["to_model"] == "LogisticRegression"
    assert promotion["offset"] == 3000 and promotion["p_value"] < 0.01
    assert runner.model.optimizer.name == "ftrl"
    assert runner.lanes[1].model.optimizer.name == "sgd"  # still learning in shadow
    assert summary.challengers[0]["log_loss"] > summary.metrics["rolling_log_loss"]
    resumed = Runner(
        LogisticRegression(SGD(lr=1e-4), bits=12),
        FileEvents(path, "y", categorical=["colour"]),
        challengers=[LogisticRegression(bits=12)],
        registry=LocalRegistry(tmp_path),
    )
    resumed.resume()
    np.testing.assert_array_equal(resumed.model.table, runner.model.table)  # the promoted one


def checkpointed(path, folder, bits=12, every=2000):
    """A runner on ``path`` that checkpoints to ``folder`` every ``every`` events."""
    return Runner(
        LogisticRegression(bits=bits),
        FileEvents(path, "y"),
        registry=LocalRegistry(folder),
        checkpoint_every=every,
        micro_batch=1000,
    )


def test_moving_the_champion_tag_rolls_the_served_model_back(tmp_path):
    path = rule_file(tmp_path / "rule.csv", 10_000)

    def runner():
        return checkpointed(path, tmp_path / "reg")

    runner().run(limit=6000)
    registry = LocalRegistry(tmp_path / "reg")
    assert registry.record("v000001").events == 0  # a fresh run saves its starting model
    first_state, _ = registry.load("v000002")
    assert registry.rollback("v000002") == "v000002"
    again = runner()
    again.resume()
    np.testing.assert_array_equal(again.model.table, first_state.arrays["table"])
    summary = again.run()
    assert summary.rollbacks[0] | {"at": None} == {
        "lane": "champion",
        "offset": 6000,
        "at": None,
        "from": "v000004",
        "to": "v000002",
        "reason": "requested",
    }
    assert summary.served == 10_000
    assert registry.tagged("champion").id == summary.versions[-1]
    # The next version descends from the model rolled back to.
    assert registry.record(summary.versions[0]).parent == "v000002"


def test_old_versions_are_pruned_but_tagged_ones_stay(tmp_path):
    path = rule_file(tmp_path / "rule.csv", 10_000)
    registry = LocalRegistry(tmp_path / "reg")
    first = checkpointed(path, tmp_path / "reg", every=500)
    first.run(limit=3000)  # v000001 (the starting model) … v000007
    registry.tag("v000002", "audited")  # a person's tag: kept whatever its age
    runner = checkpointed(path, tmp_path / "reg", every=500)
    runner.versions.keep = 3
    summary = runner.run()
    ids = [v.id for v in registry.versions()]
    assert ids == ["v000002", *summary.versions[-3:]]
    assert registry.tagged("champion").id == summary.versions[-1]
    resumed = checkpointed(path, tmp_path / "reg")
    resumed.resume()
    np.testing.assert_array_equal(resumed.model.table, runner.model.table)
    with pytest.raises(ValueError, match="keep"):
        registry.prune(0)


def test_sqlite_store_answers_like_memory_across_checkpoints(tmp_path):
    rng = np.random.default_rng(5)

    def rows(n, width):
        return Rows(rng.integers(0, 2**32, (n, width), dtype=np.uint32), rng.random((n, width)))

    first, second = rows(6, 3), rows(4, 5)
    stores = [MemoryJoinStore(), SQLiteJoinStore(tmp_path / "j.db")]
    for store in stores:
        store.put(
            list(range(6)), first, np.arange(6) / 10, np.arange(6) + 100.0, list(range(1, 7)), "v1"
        )
        store.checkpoint_arrays(6)  # SQLite writes the waiting entries to its file here
        store.put(
            list(range(6, 10)),
            second,
            np.arange(6, 10) / 10,
            np.arange(6, 10) + 100.0,
            list(range(7, 11)),
            "v2",
        )
    asked = [8, 2, 42, 0, 9, 5]  # file and memory, interleaved, one unknown
    memory, sqlite = (store.take(asked, at_offset=11) for store in stores)
    assert memory.found.tolist() == sqlite.found.tolist() == [True, True, False, True, True, True]
    np.testing.assert_array_equal(memory.rows.values, sqlite.rows.values)
    np.testing.assert_array_equal(memory.rows.hashes, sqlite.rows.hashes)
    assert memory.versions == sqlite.versions == ["v2", "v1", "v1", "v2", "v1"]
    np.testing.assert_array_equal(memory.served_offsets, sqlite.served_offsets)
    ids, expired = stores[1].take_expired(104.5, at_offset=12)
    assert sorted(ids) == [1, 3, 4] and sorted(expired.predictions.tolist()) == [0.1, 0.3, 0.4]
    assert len(stores[1]) == 2  # 6 and 7 still wait
    stores[1].restore({}, offset=6)  # back to the checkpoint: v1's six wait, v2's are gone
    assert len(stores[1]) == 6


def test_a_torn_prediction_log_line_is_cut_before_appending(tmp_path):
    path = rule_file(tmp_path / "rule.csv", 3000)
    log = tmp_path / "predictions.csv"
    Runner(
        LogisticRegression(bits=8),
        FileEvents(path, "y"),
        predictions=log,
        registry=LocalRegistry(tmp_path / "reg"),
        checkpoint_every=1000,
        micro_batch=1000,
    ).run(limit=2000)
    text = log.read_text()
    log.write_text(text[: len(text) - 7])  # killed in the middle of a line …
    sorted((tmp_path / "reg").glob("v*.snap"))[-1].unlink()  # … so before that checkpoint
    Runner(
        LogisticRegression(bits=8),
        FileEvents(path, "y"),
        predictions=log,
        registry=LocalRegistry(tmp_path / "reg"),
    ).run()
    lines = log.read_text().splitlines()
    assert lines[0] == '"offset","id","prediction","version"'
    assert all(line.count(",") == 3 for line in lines)
    assert sorted({int(line.split(",")[0]) for line in lines[1:]}) == list(range(1, 3001))


def test_a_kill_between_a_checkpoint_and_its_tag_is_no_rollback_request(tmp_path):
    path = rule_file(tmp_path / "rule.csv", 6000)

    def runner():
        return checkpointed(path, tmp_path / "reg", bits=10, every=1000)

    whole = Runner(LogisticRegression(bits=10), FileEvents(path, "y"))
    whole.run()
    runner().run(limit=3000)
    registry = LocalRegistry(tmp_path / "reg")
    registry._set_tag("champion", "v000003")  # killed after saving v000004, before tagging it
    resumed = runner()
    summary = resumed.run()
    assert summary.rollbacks == [] and summary.resumed_from == "v000004"
    np.testing.assert_array_equal(resumed.model.table, whole.model.table)


def test_a_label_in_the_same_micro_batch_as_its_event_is_learned():
    """Feedback by id that came right after its event, within one micro-batch (an HTTP
    decision then its reward; an event and its label on two Kafka topics)."""
    runner = Runner(LogisticRegression(bits=8), None, ttl=60.0)
    batch = EventBatch(
        {"a": np.array([1.0, 2.0])},
        np.array([np.nan, np.nan]),
        np.array(["x", "y"], dtype=object),
        np.array([1, 2]),
        np.array([1.0, 2.0]),
        feedback_ids=np.array(["y", "gone"], dtype=object),
        feedback_labels=np.array([1.0, 0.0]),
    )
    runner.step(batch)
    runner.step(EventBatch.empty(clock=3.0))
    assert runner.counters["learned"] == 1  # y, with its label; x still waits for one
    assert runner.champion.early.held.keys() == {"gone"}  # a label for an event not seen yet


def test_the_paired_test_on_equal_or_constant_losses():
    from streamlearn.runner.guards import paired_test

    same = np.full(600, 0.3)
    verdict = paired_test(same, same.copy(), min_events=500)  # identical models: no warning
    assert not verdict.significant and verdict.p_value == 0.5
    sure = paired_test(same + 0.1, same, min_events=500)  # worse by 0.1 on every label
    assert sure.significant and sure.p_value == 0.0
    assert not paired_test(same, same + 0.1, min_events=500).significant


def test_promotion_is_opt_in_and_never_overrides_an_operator(tmp_path):
    from streamlearn.config import build_runner, load_config_text

    path = rule_file(tmp_path / "rule.csv", 12_000)

    def runner(folder: str, gate: bool):
        return build_runner(
            load_config_text(f"""
[source]
path = "{path}"
target = "y"
categorical = ["colour"]
[model]
optimizer = {{name = "sgd", lr = 0.0001}}
bits = 12
[[challengers]]
name = "ftrl"
bits = 12
[checkpoint]
registry = "{tmp_path / folder}"
every_events = 3000
[gate]
enabled = {str(gate).lower()}
""")
        )

    off = runner("off", gate=False)
    assert off.run().promotions == [] and off.lanes[1].name == "ftrl"
    promoted = runner("on", gate=True).run().promotions
    assert [(p["from"], p["to"]) for p in promoted] == [("champion", "ftrl")]
    # An operator's choice stands: the gate, on, leaves the model they asked for.
    chosen = runner("operator", gate=True)
    before = chosen.run(limit=3000).promotions  # the gate may promote at the checkpoint
    chosen.registry.promote("v000001", requested=True)  # the starting model
    summary = runner("operator", gate=True).run()
    assert summary.promotions == before and summary.rollbacks[-1]["to"] == "v000001"


def test_a_run_that_learns_nothing_adds_no_version(tmp_path):
    path = rule_file(tmp_path / "rule.csv", 3000)
    first = checkpointed(path, tmp_path / "registry", every=1000)
    first.run()
    count = len(LocalRegistry(tmp_path / "registry").versions())
    again = checkpointed(path, tmp_path / "registry", every=1000).run()
    assert again.resumed_from is not None and again.versions == []
    assert len(LocalRegistry(tmp_path / "registry").versions()) == count


def test_checkpoints_fall_at_exactly_the_configured_counts(tmp_path):
    """Batches of 4,096 events, a checkpoint every 1,500: the batches are cut where one
    falls due, and a run cut that way ends with the model of an uncut one (its metrics
    summed over other batches: equal to rounding)."""
    registry = LocalRegistry(tmp_path / "cut")
    source = FileEvents(elec2.path(), "target")
    runner = Runner(
        LogisticRegression(bits=12),
        source,
        delay=100,
        registry=registry,
        checkpoint_every=1500,
        micro_batch=4096,
    )
    summary = runner.run()
    offsets = [version.offsets["file"] for version in registry.versions()]
    assert offsets == [0, *range(1500, 45312, 1500), 45312]
    uncut = Runner(LogisticRegression(bits=12), FileEvents(elec2.path(), "target"), delay=100)
    assert uncut.run().metrics == pytest.approx(summary.metrics, rel=1e-12)
    np.testing.assert_array_equal(uncut.model.weights(), runner.model.weights())


def test_a_promoted_lane_keeps_its_drift_handling_and_survives_a_restart(tmp_path):
    """Lanes swap whole: the promoted challenger serves with its own detector, under its own
    name, and a run started again on the same config resumes with it serving (no swap back
    by config order)."""
    from streamlearn.adaptation.wrapper import watched
    from streamlearn.config import build_runner, load_config_text

    path = rule_file(tmp_path / "rule.csv", 12_000)
    config = f"""
[source]
path = "{path}"
target = "y"
categorical = ["colour"]
[model]
optimizer = {{name = "sgd", lr = 0.0001}}
bits = 12
[drift]
detector = "ADWIN"
[[challengers]]
name = "ftrl"
bits = 12
detector = "PageHinkley"
[checkpoint]
registry = "{tmp_path / "registry"}"
every_events = 3000
[gate]
enabled = true
"""
    first = build_runner(load_config_text(config))
    summary = first.run(limit=6000)
    assert [(p["from"], p["to"]) for p in summary.promotions] == [("champion", "ftrl")]
    serving = first.lanes[0]
    detector_type = type(watched(LogisticRegression(), "PageHinkley").detector)
    assert serving.name == "ftrl" and isinstance(serving.model.detector, detector_type)
    assert serving.model.learner.optimizer.name == "ftrl"

    again = build_runner(load_config_text(config))
    resumed = again.run()
    assert [lane.name for lane in again.lanes] == ["ftrl", "champion"]
    assert isinstance(again.lanes[0].model.detector, detector_type)
    assert again.lanes[0].model.learner.optimizer.name == "ftrl"
    assert resumed.promotions == summary.promotions  # recorded once, not undone nor redone
    np.testing.assert_array_equal(
        again.lanes[0].model.learner.table, resumed_table(tmp_path / "registry")
    )


def resumed_table(folder):
    """The serving model's weights in the newest version of the registry at ``folder``."""
    state, _ = LocalRegistry(folder).latest()
    return state.without_parts().to_learner().learner.table
