"""`streamlearn run CONFIG.toml` and `streamlearn registry …` as a user runs them."""

from __future__ import annotations

import json
import re

import pytest

from streamlearn.datasets import elec2
from streamlearn.models import LogisticRegression
from tests.test_runner_cli import run

CONFIG = f"""
[source]
path = "{elec2.path()}"
target = "target"

[labels]
delay = 200
ttl = 1000
expiry = "default"
store = "sqlite"

[drift]
detector = "ADWIN"

[checkpoint]
registry = "registry"
every_events = 10000

[[challengers]]
optimizer = "sgd"

[output]
predictions = "predictions.csv"
micro_batch = 5000
"""


def test_run_resumes_and_the_registry_commands_work(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text(CONFIG)
    first = run("run", str(config), "--limit", "20000", "--output", "json")
    assert first.returncode == 0, first.stderr
    part = json.loads(first.stdout)
    assert part["served"] == 20_000 and part["resumed_from"] is None
    rest = run("run", str(config), "--output", "json")
    assert rest.returncode == 0, rest.stderr
    summary = json.loads(rest.stdout)
    assert summary["resumed_from"] == part["versions"][-1]
    assert summary["served"] == elec2.N_EVENTS and summary["learned"] == elec2.N_EVENTS
    assert summary["drifts"] and summary["challengers"][0]["model"] == "LogisticRegression"
    assert (tmp_path / "join.sqlite").exists()
    table = run("run", str(config))  # nothing left to read: the summary still prints
    assert table.returncode == 0 and "resumed from" in table.stdout

    registry = str(tmp_path / "registry")
    listing = run("registry", "list", registry)
    assert listing.returncode == 0 and "v000001" in listing.stdout and "champion" in listing.stdout
    start = json.loads(run("registry", "show", registry, "v000001").stdout)
    assert start["events"] == 0 and start["notes"]["counters"]["served"] == 0  # the start
    shown = json.loads(run("registry", "show", registry, "v000002").stdout)
    assert shown["offsets"] == {"file": 10_000} and shown["model"] == "AdaptiveClassifier"
    assert shown["notes"]["counters"]["served"] == 10_000 and len(shown["sha256"]) == 64
    diff = run("registry", "diff", registry, "v000002", "v000003")
    assert diff.returncode == 0 and "learner/table changed" in diff.stdout
    assert run("registry", "promote", registry, "v000003").returncode == 0
    back = run("registry", "rollback", registry)
    assert back.returncode == 0 and "is the champion" in back.stdout
    missing = run("registry", "show", registry, "v000099")
    assert missing.returncode == 1 and "no version" in missing.stderr


def test_config_errors_name_the_key(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text(
        '[source]\npath = "x.csv"\ntarget = "y"\n[model]\nbitz = 3\n[labels]\nexpiry = "later"\n'
    )
    result = run("run", str(config))
    assert result.returncode == 1
    assert "model.bitz: unknown key" in result.stderr
    assert "labels.expiry" in result.stderr and "Traceback" not in result.stderr
    config.write_text("[source\n")
    assert "not valid TOML" in run("run", str(config)).stderr
    assert "no such config file" in run("run", str(tmp_path / "nope.toml")).stderr


def test_run_logs_checkpoints_and_drifts_as_json_lines(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text(CONFIG)
    result = run("--log-format", "json", "run", str(config), "--limit", "30000", "--output", "json")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines()]
    assert {r["name"] for r in records} == {"streamlearn.runner"}
    checkpoints = [r for r in records if r["message"] == "checkpoint"]
    assert [c["version"] for c in checkpoints] == json.loads(result.stdout)["versions"]
    assert [c["offset"] for c in checkpoints[:2]] == [0, 10_000]  # the starting model first
    assert checkpoints[0]["level"] == "INFO" and checkpoints[0]["lane"] == "champion"
    drifts = [r for r in records if r["message"] == "drift"]
    assert drifts and all(d["detector"] == "ADWIN" and "offset" in d for d in drifts)
    assert {d["lane"] for d in drifts} == {"champion"}
    # after the command too, where a user may well put them
    quiet = run("run", str(tmp_path / "run.toml"), "--output", "json", "--log-level", "warning")
    assert quiet.returncode == 0 and "checkpoint" not in quiet.stderr
    wrong = run("run", str(config), "--log-format", "xml")
    assert wrong.returncode == 2 and "log format" in wrong.stderr


def test_a_models_hyper_parameters_are_set_from_toml_and_others_refused():
    from streamlearn.config.build import build_model
    from streamlearn.config.schema import ConfigError, load_config_text

    binary = '[model]\ntask = "binary"\n'
    model = build_model(load_config_text(binary + 'optimizer = {name = "ftrl", l1 = 1.5}'))
    default = LogisticRegression.default_optimizer.params()
    assert model.optimizer.params() == default | {"l1": 1.5}  # the rest keep their defaults
    sgd = build_model(load_config_text(binary + "[model.optimizer]\nname = 'sgd'\nlr = 0.3"))
    assert (sgd.optimizer.name, sgd.optimizer.lr) == ("sgd", 0.3)
    refused = {
        "alpha = 0.01": "model.alpha: not a setting of a linear model",  # the Bayesian prior's
        'optimizer = {name = "ftrl", lr = 0.1}': "model.optimizer: ftrl takes alpha",
        'optimizer = {name = "adam"}': "optimizer.name: one of ftrl, sgd, adagrad",
        'optimizer = {name = "sgd", lr = inf}': "lr must be a finite number",
        'optimizer = {name = "sgd", lr = "fast"}': "lr must be a finite number",
    }
    for line, message in refused.items():
        with pytest.raises(ConfigError, match=re.escape(message)):
            load_config_text(binary + line)
    with pytest.raises(ConfigError, match=r"model\.optimizer: not a setting of a bayesian model"):
        load_config_text('[model]\nkind = "bayesian"\noptimizer = "sgd"')


def test_registry_pin_and_unpin(tmp_path):
    from streamlearn.registry import LocalRegistry
    from streamlearn.service import Replica

    registry = LocalRegistry(tmp_path / "registry")
    first = registry.save(LogisticRegression(bits=4).state(), events=0)
    second = registry.save(LogisticRegression(bits=5).state(), parent=first.id, events=9)
    registry.promote(second.id)
    pinned = run("registry", "pin", str(tmp_path / "registry"), first.id)
    assert pinned.returncode == 0 and "pinned" in pinned.stdout
    assert registry.pinned() == first.id and registry.tags()["champion"] == first.id
    assert Replica(registry).serving.version == first.id
    third = registry.save(LogisticRegression(bits=6).state(), parent=second.id, events=20)
    assert Replica(registry).serving.version == first.id  # a newer version changes nothing
    unpinned = run("registry", "unpin", str(tmp_path / "registry"))
    assert unpinned.returncode == 0 and first.id in unpinned.stdout
    assert registry.pinned() is None
    registry.promote(third.id)
    assert Replica(registry).serving.version == third.id
