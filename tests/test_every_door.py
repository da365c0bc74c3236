"""Every learner of a ``[model]`` section through every door: ``streamlearn evaluate
--config``, ``streamlearn run`` (the runner on a file, delayed labels), the HTTP service
(labelled events, a tracked prediction, its label by id) and Kafka (events and labels on
topics, predictions out). The learner × door table (docs/guides/run.md) lists what this covers."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from streamlearn.cli.main import app as cli
from streamlearn.config import build_runner, load_config_text
from streamlearn.datasets import elec2, obd, synth

N = 1200  # events per stream
DELAY = 50

# The Open Bandit Dataset's items' features, as a TOML table's entries: arm → name → number
ITEMS = ", ".join(
    f'"{arm}" = {{{", ".join(f"{json.dumps(k)} = {v!r}" for k, v in features.items())}}}'
    for arm, features in obd.item_features().items()
)
# kind → the [model] section (and [drift]), the stream it learns
LEARNERS = {
    "linear-binary": ('kind = "linear"\nbits = 14', "binary"),
    "linear-multiclass": ('kind = "linear"\nbits = 14', "multiclass"),
    "linear-regression": ('kind = "linear"\nbits = 14', "regression"),
    "one-vs-rest": ('kind = "one_vs_rest"\nbits = 12\noptimizer = "adagrad"', "multiclass"),
    "hedge": ('kind = "hedge"\nbits = 12\nmembers = ["sgd", {name = "sgd", lr = 0.5}]', "binary"),
    "torch": ('kind = "torch"\nlr = 0.01\nbatch_size = 16', "binary"),
    "bayesian": ('kind = "bayesian"\nbits = 12\ncapacity = 16', "regression"),
    "fraud": (
        'kind = "fraud"\nentity = "card"\ntime = "t"\namount = "amount"\nfp_budget = 0.02',
        "fraud",
    ),
    "drift-adaptive": ('kind = "linear"\nbits = 14\n\n[drift]\ndetector = "ADWIN"', "binary"),
    "drift-background": (
        'kind = "linear"\nbits = 14\n\n[drift]\ndetector = "DDM"\npolicy = "background"',
        "binary",
    ),
    "river": (
        'kind = "river"\nriver = "preprocessing.StandardScaler | linear_model.LogisticRegression"'
        "\nallow_pickle = true",
        "binary",
    ),
    "bandit": (
        f'kind = "bandit"\narms = {list(range(80))}\narm_column = "item_id"\ncapacity = 16'
        f"\ncategorical = {json.dumps(list(obd.CONTEXT))}",
        "bandit",
    ),
    "bandit-hybrid": (
        f'kind = "bandit"\narms = {list(range(80))}\narm_column = "item_id"\ncapacity = 16'
        f"\ncategorical = {json.dumps(list(obd.CONTEXT))}"
        f"\nshared = {json.dumps(obd.item_feature_names())}\narm_features = {{{ITEMS}}}",
        "bandit",
    ),
    "mf": ('kind = "mf"\nn_factors = 4\nlr_latent = 0.05\nseed = 3', "ratings"),
    "bpr-mf": ('kind = "mf"\nimplicit = true\nn_factors = 4\nseed = 3', "ratings"),
    "tree": ('kind = "tree"\ngrace_period = 50', "multiclass"),
    "forest": ('kind = "forest"\nn_models = 3\nseed = 1\nmax_features = 2', "binary"),
    "tree-regression": ('kind = "tree"\ngrace_period = 50', "regression"),
    "forest-regression": ('kind = "forest"\nn_models = 3\nseed = 1', "regression"),
    "knn": ('kind = "knn"\nn_neighbors = 3\nwindow_size = 300', "multiclass"),
    "knn-regression": ('kind = "knn"\nwindow_size = 300', "regression"),
    "naive-bayes": ('kind = "naive_bayes"', "multiclass"),
    "bernoulli-nb": (
        'kind = "naive_bayes"\ndistribution = "bernoulli"\ntrue_threshold = 0.5',
        "binary",
    ),
    "multinomial-nb": ('kind = "naive_bayes"\ndistribution = "multinomial"', "multiclass"),
    "amf": ('kind = "amf"\nn_models = 3\nseed = 1', "multiclass"),
    "amf-regression": ('kind = "amf"\nn_models = 3\nseed = 1', "regression"),
    "hat": ('kind = "hat"\ngrace_period = 50\ndrift_window_threshold = 100', "binary"),
    "hat-regression": (
        'kind = "hat"\ngrace_period = 50\ndrift_window_threshold = 100',
        "regression",
    ),
    "auto-binary": ('kind = "auto"\nbits = 14\nwindow = 100', "binary"),
    "auto-multiclass": ('kind = "auto"\nbits = 14\nseed = 2', "multiclass"),
    "auto-regression": ('kind = "auto"\nbits = 14', "regression"),
}


@pytest.fixture(autouse=True)
def no_pickles_after():
    """A River config consents to pickled checkpoints for the process: take it back."""
    yield
    from streamlearn.interop.river import allow_pickle

    allow_pickle(False)


@pytest.fixture(scope="module")
def streams(tmp_path_factory) -> dict[str, tuple[Path, list[dict], list]]:
    """A CSV file per task and its events and labels."""
    folder = tmp_path_factory.mktemp("doors")
    binary = [(x, float(y)) for x, y in elec2.stream(limit=N)]
    multiclass = list(elec2.moves(limit=N))
    table = synth.tabular_stream(N, columns="mixed", task="regression", seed=3)
    regression = [
        ({k: v for k, v in row.items() if k != "target" and v is not None}, row["target"])
        for row in table.to_pylist()
    ]
    rng = np.random.default_rng(5)
    frauds = rng.random(N) < 0.03
    amounts = rng.lognormal(3, 1, N) * np.where(frauds, 30, 1)
    fraud = [
        ({"card": int(c), "t": 30.0 * i, "amount": float(a), "noise": float(z)}, float(f))
        for i, (c, a, z, f) in enumerate(
            zip(rng.integers(0, 80, N), amounts, rng.normal(size=N), frauds, strict=True)
        )
    ]
    log = obd.load("random", limit=N)
    bandit = [
        ({k: v[i] for k, v in log.contexts.items()} | {"item_id": int(log.actions[i])}, r)
        for i, r in enumerate(log.rewards.tolist())
    ]
    users_items, rated = synth.ratings(N, users=60, items=40, seed=2)
    ratings = [
        ({"user": int(u), "item": int(i)}, float(r))
        for u, i, r in zip(users_items["user"], users_items["item"], rated, strict=True)
    ]
    out = {}
    streams = {
        "binary": binary,
        "multiclass": multiclass,
        "regression": regression,
        "fraud": fraud,
        "bandit": bandit,
        "ratings": ratings,
    }
    for task, rows in streams.items():
        path = folder / f"{task}.csv"
        names = sorted({k for x, _ in rows for k in x})
        with open(path, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow([*names, "label"])
            writer.writerows([[x.get(k, "") for k in names] + [y] for x, y in rows])
        out[task] = (path, [x for x, _ in rows], [y for _, y in rows])
    return out


def config_text(name: str, path: Path | None, extra: str = "") -> str:
    """The config of a run of ``name`` on ``path`` (None: no file, the task is said)."""
    model, task = LEARNERS[name]
    said = ('kind = "linear"', 'kind = "hedge"', 'kind = "torch"', 'kind = "auto"')
    if path is None and (model.startswith(said) or name.endswith("-regression")):
        model = model.replace("\n", f'\ntask = "{task}"\n', 1)
    source = f'[source]\npath = "{path}"\ntarget = "label"\n\n' if path is not None else ""
    return f"{source}[model]\n{model}\n\n{extra}"


def learner_and_stream(name, streams):
    if name == "torch":
        pytest.importorskip("torch")  # CI installs it ('.[torch]')
    return streams[LEARNERS[name][1]]


@pytest.mark.parametrize("name", LEARNERS)
def test_evaluate(name, streams, tmp_path):
    path, _, labels = learner_and_stream(name, streams)
    config = tmp_path / "model.toml"
    config.write_text(config_text(name, path))
    result = CliRunner().invoke(
        cli,
        ["evaluate", str(path), "--target", "label", "--config", str(config), "--output", "json"],
    )
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.stdout)["models"].values()
    assert report["events"] == len(labels)
    assert _scored(report)


@pytest.mark.parametrize("name", LEARNERS)
def test_run(name, streams, tmp_path):
    """Delayed labels, a checkpoint, a stop and a resume: every label learned once."""
    path, _, labels = learner_and_stream(name, streams)
    labels_section = f'[labels]\ndelay = {DELAY}\nttl = 1000\nstore = "memory"\n\n'
    checkpoint = f'[checkpoint]\nregistry = "{tmp_path / "registry"}"\nevery_events = 400\n'
    config = load_config_text(config_text(name, path, labels_section + checkpoint))
    first = build_runner(config).run(limit=600)
    assert first.served == 600
    summary = build_runner(config).run()
    assert summary.resumed_from is not None
    assert summary.served == len(labels) and summary.learned == len(labels)
    assert _scored({"task": _task(name)} | summary.metrics)


# A bandit's door is /decide, with rewards by decision id: tests/test_bandit_service.py.
@pytest.mark.parametrize("name", [name for name in LEARNERS if not name.startswith("bandit")])
def test_serve(name, streams, tmp_path):
    """Labelled events posted, one tracked prediction answered with a version, its label by
    id joined (what was served is what is learned); a batch and columns answered alike."""
    from fastapi.testclient import TestClient

    from streamlearn.service.serve import build_service

    _, events, labels = learner_and_stream(name, streams)
    service = (
        '[service]\ntoken = "t"\npublish_every = 0.05\n\n[labels]\nttl = 1e9\nstore = "memory"\n'
    )
    config = load_config_text(config_text(name, None, service))
    app, trainer = build_service(config)
    client = TestClient(app)
    auth = {"Authorization": "Bearer t"}
    try:
        body = [{"features": x, "label": y} for x, y in zip(events[:600], labels, strict=False)]
        assert client.post("/learn", json={"events": body}, headers=auth).status_code == 200
        wait_for(lambda: trainer.serving.events_learned == 600)
        answer = client.post("/predict", json={"id": "q", "features": events[600]})
        assert answer.status_code == 200, answer.text
        (served,) = answer.json()["predictions"]
        assert served["id"] == "q" and served["model_version"]
        if name == "bayesian":  # with its uncertainty, centred on the prediction served
            low, high = served["interval"]
            assert served["std"] > 0 and low < served["prediction"] < high
            assert (low + high) / 2 == pytest.approx(served["prediction"], rel=1e-12)
        # A batch, and the same batch as columns: the same answers as one event at a time.
        batch = [{"features": x} for x in events[600:605]]
        answered = client.post("/predict", json={"events": batch, "track": False}).json()
        columns = {k: [x.get(k) for x in events[600:605]] for k in events[600]}
        as_columns = client.post("/predict", json={"columns": columns}).json()
        (first, *_) = answered["predictions"]
        assert len(answered["predictions"]) == 5 and first["model_version"]
        if first["model_version"] == served["model_version"]:
            assert first["prediction"] == served["prediction"]
        assert as_columns["predictions"] == [p["prediction"] for p in answered["predictions"]]
        feedback = {"id": "q", "label": labels[600]}
        assert client.post("/feedback", json=feedback, headers=auth).status_code == 200
        scored = trainer.runner.champion.recent  # the trainer scores right after counting
        wait_for(lambda: len(scored.targets) == 601)
        assert trainer.runner.counters["learned"] == 601
        assert trainer.error is None
    finally:
        trainer.stop()


@pytest.mark.parametrize("name", LEARNERS)
def test_kafka(name, streams, tmp_path, kafka_broker):
    """Events (a third with their label) and labels by id on topics; predictions out."""
    from confluent_kafka import Producer

    from tests.test_kafka import consume_all, create_topics, run_until

    path, events, labels = learner_and_stream(name, streams)
    topics = {part: f"{part}-door-{name}" for part in ("events", "labels", "predictions")}
    create_topics(kafka_broker, *topics.values())
    producer = Producer({"bootstrap.servers": kafka_broker})
    n = 600
    for i, (x, y) in enumerate(zip(events[:n], labels, strict=False)):
        record = {"id": f"e{i}", "features": x} | ({"label": y} if i % 3 == 0 else {})
        producer.produce(topics["events"], json.dumps(record).encode())
        if i % 3:
            producer.produce(topics["labels"], json.dumps({"id": f"e{i}", "label": y}).encode())
    producer.flush(30)
    kafka = (
        f'[kafka]\nbootstrap_servers = "{kafka_broker}"\ngroup = "door-{name}"\n'
        f'events_topic = "{topics["events"]}"\nlabels_topic = "{topics["labels"]}"\n'
        f'predictions_topic = "{topics["predictions"]}"\n\n[labels]\nttl = 1e9\nstore = "memory"\n'
    )
    config = load_config_text(config_text(name, path, kafka))
    from streamlearn.config import kafka_events

    runner = build_runner(config, source=kafka_events(config), drain_at_end=False)
    summary = run_until(runner, lambda s: s.learned >= n)
    assert summary.served == n and summary.learned == n and summary.rejected == 0
    published = [json.loads(v) for _, v, _ in consume_all(kafka_broker, topics["predictions"], n)]
    assert {p["id"] for p in published} == {f"e{i}" for i in range(n)}
    assert all(p["model_version"] for p in published)


def _task(name: str) -> str:
    task = LEARNERS[name][1]
    return "binary" if task == "fraud" else task


def _scored(report: dict) -> bool:
    """The task's main metric is there and finite (a reward or rating is a number)."""
    metric = "mae" if "mae" in report or report.get("task") == "regression" else "accuracy"
    return bool(np.isfinite(report.get(metric, np.nan)))


def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
