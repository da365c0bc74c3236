"""`streamlearn evaluate` end to end, as a user runs it, and the replay runner under it."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pyarrow.csv as pacsv
import pytest

from streamlearn.datasets import elec2, synth
from streamlearn.evaluate import progressive_val_score_one
from streamlearn.models import LogisticRegression
from streamlearn.offline import evaluate_file

CLI = [sys.executable, "-m", "streamlearn.cli.main"]


def only_report(printed: str) -> dict:
    """The one model's report in ``evaluate --output json``."""
    (report,) = json.loads(printed)["models"].values()
    return report


def run(*args):
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, check=False)


def test_evaluate_prints_json_with_every_metric():
    result = run("evaluate", str(elec2.path()), "--target", "target", "--output", "json")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["file"] == str(elec2.path()) and list(printed["models"]) == ["ftrl"]
    report = printed["models"]["ftrl"]
    assert report["events"] == elec2.N_EVENTS
    for key in (
        "seconds",
        "events_per_second",
        "accuracy",
        "log_loss",
        "roc_auc",
        "rolling_accuracy",
        "rolling_log_loss",
        "rolling_roc_auc",
        "sparsity",
    ):
        assert key in report
    assert report["accuracy"] > 0.75 and report["log_loss"] < 0.5
    # Loading the kernels (a fresh process) is reported apart, not in the throughput.
    running = report["events"] / (report["seconds"] - report["compile_seconds"])
    assert 0 < report["compile_seconds"] < report["seconds"]
    assert report["events_per_second"] == pytest.approx(running, rel=1e-3)


def test_json_has_one_layout_and_says_null_for_an_undefined_number(tmp_path):
    path = tmp_path / "one_class.csv"
    path.write_text("x,y\n" + "".join(f"{i / 10},1\n" for i in range(10)))
    for models in (["--model", "ftrl"], ["--model", "ftrl,sgd"]):
        result = run("evaluate", str(path), "--target", "y", *models, "--output", "json")
        assert result.returncode == 0, result.stderr
        assert "NaN" not in result.stdout
        printed = json.loads(result.stdout)
        assert list(printed["models"]) == models[1].split(",")
        assert all("roc_auc" not in report for report in printed["models"].values())
    from streamlearn.cli.main import strict_json

    assert json.loads(strict_json({"r2": float("nan"), "x": [float("inf"), 1.5]})) == {
        "r2": None,
        "x": [None, 1.5],
    }


def test_the_adapt_choices_are_the_policies():
    from streamlearn.adaptation import POLICIES
    from streamlearn.cli.main import Adapt

    assert [a.value for a in Adapt] == list(POLICIES)


def test_evaluate_table_and_models(tmp_path):
    result = run(
        "evaluate", str(elec2.path()), "--target", "target", "--model", "sgd", "--bits", "12"
    )
    assert result.returncode == 0, result.stderr
    assert "accuracy" in result.stdout and "45,312" in result.stdout


@pytest.mark.parametrize(
    "args,message",
    [
        (["evaluate", "missing.csv", "--target", "y"], "error: no such file: missing.csv"),
        (["evaluate", "ELEC", "--target", "nope"], "error: "),
        (["evaluate", "ELEC", "--target", "target", "--frobnicate"], "No such option"),
        (["evaluate", "ELEC", "--target", "target", "--model", "xgb"], "error: "),
        (
            ["evaluate", "ELEC", "--target", "target", "--interactions", "feat_1:city"],
            "--interactions: no column 'city' in elec2.csv.gz (columns: feat_1,",
        ),
        (
            ["evaluate", "ELEC", "--target", "target", "--categorical", "nope"],
            "--categorical: no column 'nope'",
        ),
        (
            ["evaluate", "ELEC", "--target", "target", "--report", f"{sys.executable}/r.html"],
            "--report: cannot write",  # under a file, not a folder
        ),
        (
            ["evaluate", "ELEC", "--target", "target", "--rejects", "/no/such/folder/r.jsonl"],
            "--rejects: cannot write",
        ),
        (
            ["evaluate", "ELEC", "--target", "target", "--adapt", "nope"],
            "'nope' is not one of 'reset', 'boost', 'shrink', 'background'",
        ),
    ],
)
def test_errors_are_one_line_with_non_zero_exit(args, message):
    args = [str(elec2.path()) if a == "ELEC" else a for a in args]
    result = run(*args)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_rejected_rows_are_counted_written_and_never_learned(tmp_path):
    rows = "a,b,y\n" + "".join(f"x{i % 3},{i % 5},{i % 2}\n" for i in range(300))
    bad = rows + "x1,oops,1\nx2,3,\nx0,1,7\n"
    (tmp_path / "clean.csv").write_text(rows)
    (tmp_path / "dirty.csv").write_text(bad)
    rejects = tmp_path / "rejects.jsonl"
    result = run(
        "evaluate",
        str(tmp_path / "dirty.csv"),
        "--target",
        "y",
        "--output",
        "json",
        "--task",
        "binary",
        "--rejects",
        str(rejects),
    )
    assert result.returncode == 0, result.stderr
    report = only_report(result.stdout)
    assert report["rejected"] == 3 and report["events"] == 300
    lines = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [r["row"] for r in lines] == [301, 302, 303]
    assert "not 0/1" in lines[2]["reason"]
    clean, _ = evaluate_file(tmp_path / "clean.csv", "y")
    assert clean.metrics == {k: v for k, v in report.items() if k in clean.metrics}


def test_file_replay_equals_one_event_progressive_validation():
    report, _ = evaluate_file(elec2.path(), "target", model=LogisticRegression(bits=16))
    one = progressive_val_score_one(LogisticRegression(bits=16), elec2.stream())
    assert one.events == report.events
    for name, value in one.metrics.items():
        assert value == pytest.approx(report.metrics[name], rel=1e-12, abs=1e-15), name


def test_regression_is_detected_and_scored(tmp_path):
    rng = np.random.default_rng(0)
    n = 5000
    x = rng.normal(size=n)
    table = {"x": x, "cat": rng.choice(["a", "b"], n), "y": 3 * x + 1 + rng.normal(0, 0.1, n)}
    import pyarrow as pa

    pacsv.write_csv(pa.table(table), tmp_path / "reg.csv")
    report, _ = evaluate_file(tmp_path / "reg.csv", "y", window=500)
    assert report.task == "regression"
    assert report.metrics["rolling_mae"] < 0.2


def test_limit_and_generated_stream(tmp_path):
    path = tmp_path / "clicks.csv"
    synth.write_csv(str(path), n=5000, seed=3)
    report, _ = evaluate_file(
        path, synth.TARGET, limit=1234, features={"interactions": [("C1", "C2")]}
    )
    assert report.events == 1234
    assert 0.3 < report.metrics["log_loss"] < 0.6


def test_multiclass_text_labels_are_detected_and_scored(tmp_path):
    rng = np.random.default_rng(0)
    n = 6000
    colour = rng.choice(["red", "green", "blue"], n)
    size = rng.normal(size=n) + (colour == "blue")
    species = np.where(colour == "red", "ant", np.where(size > 0.5, "bee", "cat"))
    species[:50] = "ant"  # "bee" and "cat" only appear later
    import pyarrow as pa

    table = pa.table({"colour": colour, "size": size, "species": species})
    pacsv.write_csv(table, tmp_path / "zoo.csv")
    result = run("evaluate", str(tmp_path / "zoo.csv"), "--target", "species", "--output", "json")
    assert result.returncode == 0, result.stderr
    report = only_report(result.stdout)
    assert report["task"] == "multiclass" and report["model"] == "SoftmaxRegression"
    assert report["rolling_accuracy"] > 0.85 and 0 < report["macro_f1"] <= 1
    for name in ("log_loss", "rolling_macro_f1", "rolling_log_loss"):
        assert name in report


def test_multiclass_file_replay_equals_one_event_validation(tmp_path):
    from streamlearn.models import SoftmaxRegression

    path = tmp_path / "codes.csv"
    rng = np.random.default_rng(1)
    x = rng.normal(size=3000)
    label = np.digitize(x + rng.normal(0, 0.3, 3000), [-0.5, 0.5]) + 1  # 1, 2, 3
    path.write_text("x,label\n" + "".join(f"{a},{b}\n" for a, b in zip(x, label, strict=True)))
    report, _ = evaluate_file(path, "label", model=SoftmaxRegression(bits=10))
    assert report.task == "multiclass"
    events = [({"x": float(a)}, int(b)) for a, b in zip(x, label, strict=True)]
    one = progressive_val_score_one(SoftmaxRegression(bits=10), events)
    for name, value in one.metrics.items():
        assert value == pytest.approx(report.metrics[name], rel=1e-9, abs=1e-12), name


def test_demo_runs_every_task():
    result = run("demo", "--events", "2000")
    assert result.returncode == 0, result.stderr
    for text in (
        "binary: LogisticRegression",
        "multiclass: SoftmaxRegression",
        "regression: LinearRegression",
        "elec2 (embedded)",
        "macro_f1",
        "r2",
    ):
        assert text in result.stdout


def test_drift_detection_and_adaptation_from_the_command_line():
    result = run(
        "evaluate",
        str(elec2.path()),
        "--target",
        "target",
        "--drift",
        "DDM",
        "--adapt",
        "boost",
        "--output",
        "json",
    )
    assert result.returncode == 0, result.stderr
    report = only_report(result.stdout)
    assert report["drifts"] == len(report["drift_events"]) > 10
    first = report["drift_events"][0]
    assert first["detector"] == "DDM" and first["action"] == "boost" and first["index"] > 30
    assert first["time"].startswith("20")  # no time column: when it was processed (UTC)
    plain = only_report(
        run("evaluate", str(elec2.path()), "--target", "target", "--output", "json").stdout
    )
    assert report["log_loss"] < plain["log_loss"]  # Elec2 drifts: adapting pays
    bad = run("evaluate", str(elec2.path()), "--target", "target", "--drift", "ESP")
    assert bad.returncode == 1 and "unknown detector" in bad.stderr


def test_drift_events_carry_the_event_time_from_a_column(tmp_path):
    rows = 6000
    lines = ["when,colour,y"]
    for i in range(rows):  # the label rule flips at 3000: a drift
        colour = "red" if i % 3 else "blue"
        lines.append(f"t{i},{colour},{int((colour == 'red') ^ (i >= rows // 2))}")
    path = tmp_path / "flip.csv"
    path.write_text("\n".join(lines) + "\n")
    result = run(
        "evaluate",
        str(path),
        "--target",
        "y",
        "--categorical",
        "colour",
        "--time-column",
        "when",
        "--drift",
        "ADWIN",
        "--output",
        "json",
    )
    assert result.returncode == 0, result.stderr
    [event, *_] = [e for e in only_report(result.stdout)["drift_events"] if e["index"] >= 3000]
    assert event["time"] == f"t{event['index']}" and event["index"] < 3200


def test_a_saved_model_continues_where_it_stopped_and_predictions_are_written(tmp_path):
    table = pacsv.read_csv(elec2.path()).slice(0, 4000)
    for name, part in (("a", table.slice(0, 2500)), ("b", table.slice(2500)), ("all", table)):
        pacsv.write_csv(part, tmp_path / f"{name}.csv")
    common = ["--target", "target", "--output", "json"]
    first = run(
        "evaluate",
        str(tmp_path / "a.csv"),
        *common,
        "--save-model",
        str(tmp_path / "m"),
        "--predictions",
        str(tmp_path / "pa.csv"),
    )
    assert first.returncode == 0, first.stderr
    then = run(
        "evaluate",
        str(tmp_path / "b.csv"),
        *common,
        "--load-model",
        str(tmp_path / "m"),
        "--predictions",
        str(tmp_path / "pb.csv"),
    )
    assert then.returncode == 0, then.stderr
    whole = run(
        "evaluate", str(tmp_path / "all.csv"), *common, "--predictions", str(tmp_path / "p.csv")
    )
    assert whole.returncode == 0, whole.stderr
    read = lambda name: pacsv.read_csv(tmp_path / name).column("prediction").to_numpy()  # noqa: E731
    np.testing.assert_array_equal(read("pb.csv"), read("p.csv")[2500:])  # bit for bit
    np.testing.assert_array_equal(read("pa.csv"), read("p.csv")[:2500])


def test_stdin_a_delimiter_and_hyper_parameters_from_the_command_line(tmp_path):
    table = pacsv.read_csv(elec2.path()).slice(0, 2000)
    pacsv.write_csv(table, tmp_path / "plain.csv")
    semicolons = (tmp_path / "plain.csv").read_text().replace(",", ";")
    (tmp_path / "semi.txt").write_text(semicolons)
    common = ["--target", "target", "--output", "json", "--model", "sgd", "--lr", "0.2"]
    from_file = only_report(run("evaluate", str(tmp_path / "plain.csv"), *common).stdout)
    piped = subprocess.run(
        [*CLI, "evaluate", "-", *common, "--delimiter", ";"],
        input=semicolons.encode(),
        capture_output=True,
        timeout=300,
    )
    assert piped.returncode == 0, piped.stderr
    assert only_report(piped.stdout.decode())["log_loss"] == from_file["log_loss"]
    default = only_report(
        run("evaluate", str(tmp_path / "plain.csv"), *common[:-2], "--model", "sgd").stdout
    )
    assert default["log_loss"] != from_file["log_loss"]  # the rate was used
    saved = tmp_path / "tuned"
    assert (
        run(
            "evaluate",
            str(tmp_path / "plain.csv"),
            *common,
            "--l2",
            "0.01",
            "--save-model",
            str(saved),
        ).returncode
        == 0
    )
    from streamlearn.base import load_state

    optimizer = load_state(saved).params["optimizer"]
    assert (optimizer["lr"], optimizer["l2"]) == (0.2, 0.01)
    wrong = run(
        "evaluate", str(tmp_path / "plain.csv"), *common[:-4], "--alpha", "0.1", "--model", "tree"
    )
    assert wrong.returncode == 2 and "--alpha: a setting of linear models" in wrong.stderr


def test_a_file_of_garbage_is_one_printable_line_of_error(tmp_path):
    rng = np.random.default_rng(11)
    for k in range(4):
        path = tmp_path / f"garbage{k}.csv"
        path.write_bytes(rng.integers(0, 256, 4000, dtype=np.uint8).tobytes())
        result = run("evaluate", str(path), "--target", "y")
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-500:]
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("error: ") and line.isprintable() and len(line) < 600
    header = tmp_path / "header.csv"
    header.write_bytes(b"a\x1b[31m,b\n1,2\n")  # a terminal escape in a column name
    result = run("evaluate", str(header), "--target", "y")
    assert result.returncode == 1 and "\x1b" not in result.stderr
    assert "no target column 'y'" in result.stderr and "\\x1b" in result.stderr


def test_set_reaches_any_learners_keys_as_a_config_would(tmp_path):
    table = pacsv.read_csv(elec2.path()).slice(0, 1500)
    pacsv.write_csv(table, tmp_path / "plain.csv")
    common = [str(tmp_path / "plain.csv"), "--target", "target", "--output", "json"]
    knn = ["--model", "knn", "--save-model", str(tmp_path / "knn")]
    assert run("evaluate", *common, *knn, "--set", "n_neighbors=3").returncode == 0
    from streamlearn.base import load_state

    assert load_state(tmp_path / "knn").params["n_neighbors"] == 3
    sgd = ["--model", "sgd", "--bits", "16", "--save-model", str(tmp_path / "sgd")]
    assert run("evaluate", *common, *sgd, "--set", "lr=0.3", "--set", "l2=0.001").returncode == 0
    saved = load_state(tmp_path / "sgd")
    assert (saved.params["optimizer"]["lr"], saved.params["optimizer"]["l2"]) == (0.3, 0.001)
    assert len(saved.arrays["table"]) == 1 << 16  # the other options still hold
    for pair, said in [
        ("n_neighbours=3", "model.n_neighbours: unknown key"),
        ("n_neighbors=three", "model.n_neighbors: Input should be a valid integer"),
        ("n_neighbors", "'n_neighbors' is not KEY=VALUE"),
    ]:
        refused = run("evaluate", *common, "--model", "knn", "--set", pair)
        assert refused.returncode in (1, 2) and said in refused.stderr, refused.stderr
