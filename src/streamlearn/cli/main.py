"""``streamlearn``: evaluate learners on files, run streams, look after versions, the demo.

Errors are one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import sys
import tempfile
import threading
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from streamlearn.base.accounting import COUNTERS
from streamlearn.base.extras import MissingExtra, require
from streamlearn.cli.logs import setup_logging
from streamlearn.cli.registry_cmd import registry_app
from streamlearn.cli.status import status_table

# The learners, numba and Arrow load when a command needs them, not for --help: a command
# that prints its help or refuses an option answers at once.
if TYPE_CHECKING:
    from streamlearn.evaluate import Report
    from streamlearn.runner import Runner, RunSummary
    from streamlearn.streams import RejectLog

# Typer carries its own copy of click in recent releases: find its usage error by name.
UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Online learning on event streams.",
)
app.add_typer(registry_app, name="registry")


def _print_version(asked: bool) -> None:
    if asked:
        from importlib.metadata import version

        print(f"streamlearn {version('streamlearn')}")
        raise typer.Exit()


@app.callback()
def options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
    log_format: Annotated[
        str, typer.Option(envvar="STREAMLEARN_LOG_FORMAT", help="Logs as text or json lines.")
    ] = "text",
    log_level: Annotated[
        str, typer.Option(envvar="STREAMLEARN_LOG_LEVEL", help="debug, info, warning, error.")
    ] = "info",
) -> None:
    """Online learning on event streams."""
    if log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise typer.BadParameter(f"{log_level!r} is not a level", param_hint="--log-level")
    try:
        setup_logging(log_format, log_level)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--log-format") from None


err = Console(stderr=True, soft_wrap=True)
log = logging.getLogger("streamlearn.cli")
out = Console()


class Adapt(StrEnum):
    """What ``--adapt`` may say: the adaptation policies' names."""

    reset = "reset"
    boost = "boost"
    shrink = "shrink"
    background = "background"


class Task(StrEnum):
    """What ``--task`` may say (``auto``: the data decide).

    Example
    -------
    >>> Task("binary").value
    'binary'
    """

    auto = "auto"
    binary = "binary"
    multiclass = "multiclass"
    regression = "regression"


class Output(StrEnum):
    """How a command prints its result: a table for people, JSON for programs.

    Example
    -------
    >>> [output.value for output in Output]
    ['table', 'json']
    """

    table = "table"
    json = "json"


def _split(values: list[str]) -> tuple[str, ...]:
    return tuple(item for value in values for item in value.split(",") if item)


def _pairs(values: list[str]) -> tuple[tuple[str, str], ...] | str:
    if _split(values) == ("all",):
        return "all"
    pairs = []
    for item in _split(values):
        left, sep, right = item.partition(":")
        if not sep or not left or not right:
            raise typer.BadParameter(f"{item!r}: write an interaction as NAMESPACE:NAMESPACE")
        pairs.append((left, right))
    return tuple(pairs)


def _progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[events]:,} events"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


def _fmt(value: float) -> str:
    return "—" if isinstance(value, float) and math.isnan(value) else f"{value:.4f}"


def _summary(title: str, reports: dict[str, Report]) -> Table:
    """One column per stream, one row per measure: stays readable in 80 columns."""
    table = Table(title=title)
    table.add_column("")
    for stream in reports:
        table.add_column(stream, justify="right")
    first = next(iter(reports.values()))
    table.add_row("events", *(f"{r.events:,}" for r in reports.values()))
    table.add_row("events/s", *(f"{r.events_per_second:,.0f}" for r in reports.values()))
    loading = (f"{r.compile_seconds:.2f}" for r in reports.values())
    table.add_row("kernels s", *loading, style="dim")  # compiling or loading: not in events/s
    for name in first.metrics:
        table.add_row(name, *(_fmt(r.metrics.get(name, math.nan)) for r in reports.values()))
    for name in first.extra:
        table.add_row(name, *(str(r.extra.get(name, "")) for r in reports.values()))
    return table


def _print_rejects(log: RejectLog) -> None:
    if not log.count:
        return
    err.print(f"[yellow]{log.count:,} rows rejected[/yellow] (never learned from):")
    for reject in log.first[:5]:
        err.print(f"  row {reject.row}: {reject.reason}")
    if log.path is not None:
        err.print(f"  all rejects: {log.path}")
    elif log.count > 5:
        err.print("  (use --rejects PATH to write them all)")


@app.command()
def evaluate(
    file: Annotated[
        Path, typer.Argument(help="CSV, JSON lines or Parquet; .gz/.xz/.bz2 too; - for stdin.")
    ],
    *,
    target: Annotated[str, typer.Option(help="The target column.")],
    model: Annotated[
        list[str],
        typer.Option(
            help="ftrl, sgd, adagrad (linear), tree, forest, hat, amf, knn or auto; repeat "
            "(or a,b) to compare."
        ),
    ] = ["ftrl"],  # noqa: B006
    bits: Annotated[int, typer.Option(min=1, max=30, help="2**bits hashed weights.")] = 20,
    task: Annotated[Task, typer.Option(help="Detected from the target by default.")] = Task.auto,
    categorical: Annotated[list[str], typer.Option(help="Columns of codes, not numbers.")] = [],  # noqa: B006
    interactions: Annotated[
        list[str], typer.Option(help="Crosses, as A:B (repeatable), or 'all'.")
    ] = [],  # noqa: B006
    standardize: Annotated[bool, typer.Option(help="Scale numbers online (z-scores).")] = True,
    missing: Annotated[bool, typer.Option(help="Missing values as their own signal.")] = True,
    drift: Annotated[
        str | None,
        typer.Option(
            help="Drift detector: ADWIN, DDM, EDDM, KSWIN, PageHinkley, WindowErrorRate, PSI."
        ),
    ] = None,
    signal: Annotated[
        str | None,
        typer.Option(help="What the detector watches: error, brier, log_loss (binary default)."),
    ] = None,
    adapt: Annotated[Adapt, typer.Option(help="What a drift does to the model.")] = Adapt.reset,
    time_column: Annotated[
        str | None, typer.Option(help="A column of event times (not a feature) for drift records.")
    ] = None,
    window: Annotated[int, typer.Option(min=1, help="Events in the rolling metrics.")] = 1000,
    limit: Annotated[int | None, typer.Option(min=1, help="Stop after this many events.")] = None,
    rejects: Annotated[Path | None, typer.Option(help="Write rejected rows here (JSONL).")] = None,
    output: Annotated[Output, typer.Option(help="table, or one JSON object.")] = Output.table,
    report: Annotated[
        Path | None,
        typer.Option(help="Write an HTML report here (and a PNG per metric beside it)."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(help="Take the learner from this TOML file's [model] section (any kind)."),
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option(help="A CSV's delimiter (default ',', a .tsv's a tab).")
    ] = None,
    predictions: Annotated[
        Path | None,
        typer.Option(help="Write each event's prediction, made before learning it (CSV)."),
    ] = None,
    save_model: Annotated[
        Path | None, typer.Option(help="Save the learner at the end (a snapshot).")
    ] = None,
    load_model: Annotated[
        Path | None, typer.Option(help="Start from a saved learner instead of a fresh one.")
    ] = None,
    lr: Annotated[float | None, typer.Option(help="SGD's or AdaGrad's learning rate.")] = None,
    alpha: Annotated[float | None, typer.Option(help="FTRL's learning rate alpha.")] = None,
    beta: Annotated[float | None, typer.Option(help="FTRL's beta.")] = None,
    l1: Annotated[float | None, typer.Option(help="L1 regularization (linear models).")] = None,
    l2: Annotated[float | None, typer.Option(help="L2 regularization (linear models).")] = None,
    settings: Annotated[
        list[str],
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="Any [model] key of the learner (the configuration guide lists them), "
            "e.g. n_models=20; repeatable.",
        ),
    ] = [],  # noqa: B006
) -> None:
    """Progressive validation of a learner on a file: predict each event, then learn it."""
    if str(file) == "-":
        file = _spooled_stdin(delimiter)
    if not file.is_file():  # said before the learners load
        raise FileNotFoundError(f"no such file: {file}")
    _check_writable(report, "--report", makes_folders=True)
    for path, option in ((rejects, "--rejects"), (predictions, "--predictions")):
        _check_writable(path, option)
    _check_writable(save_model, "--save-model")
    tuned = {"lr": lr, "alpha": alpha, "beta": beta, "l1": l1, "l2": l2}
    tuned = {name: value for name, value in tuned.items() if value is not None}
    named = {"--categorical": _split(categorical), "--time-column": [time_column or ""]}
    crosses = _pairs(interactions)
    named["--interactions"] = [] if crosses == "all" else [c for pair in crosses for c in pair]
    _check_columns(file, target, named)
    if config is not None:
        model = [_configured_learner(config, file, target)]
    elif load_model is not None:
        model = [_loaded_learner(load_model)]
    models = _models(model) if config is None and load_model is None else model
    if len(models) > 1 and (predictions or save_model):
        raise typer.BadParameter("one model at a time", param_hint="--predictions/--save-model")
    if tuned:
        models = [_tuned(name, tuned) for name in models]
    labels = [_label(name, config, load_model) for name in models]
    hashing = {
        "bits": bits,
        "categorical": _split(categorical),
        "interactions": _pairs(interactions),
        "standardize": standardize,
        "missing": missing,
    }
    if settings:
        if config is not None or load_model is not None:
            raise typer.BadParameter(
                "a --model's keys (a learner given whole has its own)", param_hint="--set"
            )
        keys = _model_keys(settings)
        models = [_set_learner(name, keys, hashing, file, target) for name in models]
    options = dict(
        task=None if task is Task.auto else task.value,
        features=hashing,
        drift=drift,
        adapt=adapt.value,
        signal=signal,
        time_column=time_column,
        window=window,
        limit=limit,
        rejects_path=rejects,
        curves=report is not None,
        delimiter=delimiter,
        predictions=predictions,
        save_model=save_model,
    )
    if config is not None or load_model is not None or settings:
        options.pop("features")  # the learner holds them
    runs = {}
    for label, name in zip(labels, models, strict=True):
        runs[label], log = _evaluate_with_progress(
            f"{file.name} ({label})", file, target, model=name, **options
        )
    if report is not None:
        from streamlearn.monitor.report import write_report  # matplotlib: only for a report

        made = {"data file": str(file.resolve()), "target": target, "models": ", ".join(runs)}
        made |= {k: v for k, v in options.items() if k not in ("curves", "rejects_path")}
        pictures = write_report(report, runs, title=file.name, settings=made)
        err.print(f"report: {report} ({len(pictures)} plots beside it)")
    first = next(iter(runs.values()))
    if output is Output.json:
        as_dicts = {name: run.as_dict() for name, run in runs.items()}
        print(strict_json({"file": str(file), "models": as_dicts}))
    elif len(runs) == 1:
        out.print(_summary(f"{first.model} ({next(iter(runs))}), {first.task}", {file.name: first}))
    else:
        out.print(_summary(f"{file.name}: {first.model}, {first.task}", runs))
    _print_rejects(log)


def printable(text: str, limit: int = 500) -> str:
    """An error message fit for a terminal: what a file's bytes put in it (control
    characters, undecodable bytes) escaped, and at most ``limit`` characters."""
    shown = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def strict_json(value: Any) -> str:
    """JSON that any parser reads: an undefined number (NaN, ±inf) is ``null``."""
    return json.dumps(_finite(value), indent=2, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _check_writable(path: Path | None, option: str, makes_folders: bool = False) -> None:
    """A file to write, refused before the run if no folder can take it (``makes_folders``:
    the writer makes missing folders, so the nearest existing one must be writable)."""
    if path is None:
        return
    folder = path.absolute().parent
    while makes_folders and not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if path.is_dir() or not folder.is_dir() or not os.access(folder, os.W_OK):
        raise typer.BadParameter(
            f"cannot write {path} (no such folder, or not writable)", param_hint=option
        )


def _check_columns(file: Path, target: str, named: dict[str, list[str]]) -> None:
    """Columns the options name must be in the file (read from its first rows)."""
    wanted = {option: [c for c in columns if c] for option, columns in named.items()}
    if not any(wanted.values()):
        return
    from streamlearn.streams.files import FileSource

    first = next(iter(FileSource(file, target, batch_rows=256)), None)
    known = set() if first is None else set(first.features)
    for option, columns in wanted.items():
        unknown = [c for c in columns if c not in known]
        if unknown:
            names = ", ".join(sorted(known)) or "none"
            raise typer.BadParameter(
                f"no column {unknown[0]!r} in {file.name} (columns: {names})", param_hint=option
            )


def _label(model: Any, config: Path | None, loaded: Path | None) -> str:
    """What a run is called: the model's name, else the file its learner came from."""
    if isinstance(model, str):
        return model
    if isinstance(model, dict):
        return model["name"]
    return (config or loaded).name


def _tuned(name: Any, settings: dict[str, float]) -> dict[str, Any]:
    """A linear model's optimizer with the hyper-parameters given on the command line."""
    from streamlearn.models.factory import MODEL_NAMES

    if not isinstance(name, str) or name not in MODEL_NAMES:
        option = "--" + next(iter(settings))
        raise typer.BadParameter(
            f"a setting of linear models ({', '.join(MODEL_NAMES)})", param_hint=option
        )
    return {"name": name, **settings}


def _model_keys(pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs as a ``[model]`` table: each value read as TOML (``20``,
    ``0.5``, ``true``, ``[1, 2]``), else taken as text."""
    import tomllib

    keys: dict[str, Any] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key.strip().isidentifier():
            raise typer.BadParameter(f"{printable(pair)!r} is not KEY=VALUE", param_hint="--set")
        try:
            keys[key.strip()] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            keys[key.strip()] = value
    return keys


def _set_learner(
    name: Any, keys: dict[str, Any], hashing: dict[str, Any], file: Path, target: str
) -> Any:
    """The learner ``--model`` names with ``--set``'s keys, built and checked as a config's
    ``[model]`` section is (an unknown key or a bad value is refused by name)."""
    from dataclasses import fields

    from streamlearn.config import ModelConfig, build_model, config_from_dict
    from streamlearn.models.factory import MODEL_NAMES
    from streamlearn.models.linear.optimizers import make_optimizer

    optimizer = dict(name) if isinstance(name, dict) else {"name": name}
    defaults = {key: ModelConfig.model_fields[key].default for key in hashing}
    section = {k: v for k, v in hashing.items() if v != defaults[k] and v != []}
    if optimizer["name"] in MODEL_NAMES:  # the optimizer's own keys go to it
        takes = {f.name for f in fields(type(make_optimizer(optimizer["name"])))}
        optimizer |= {k: v for k, v in keys.items() if k in takes}
        keys = {k: v for k, v in keys.items() if k not in takes}
        section |= {"kind": "linear", "optimizer": optimizer}
    else:
        section["kind"] = optimizer["name"]
    section |= keys
    source = {"path": str(file), "target": target}
    return build_model(config_from_dict({"model": section, "source": source}))


def _loaded_learner(path: Path) -> Any:
    """A learner from a snapshot ``--save-model`` wrote (arrays + JSON: no code runs)."""
    import streamlearn.models  # noqa: F401 (the learner kinds a snapshot may name)
    from streamlearn.base import load_state

    return load_state(path).to_learner()


def _spooled_stdin(delimiter: str | None) -> Path:
    """Standard input, copied to a temporary file (the reader needs a file; gzip is
    recognised by its first bytes)."""
    import atexit
    import shutil

    head = sys.stdin.buffer.peek(2)[:2] if hasattr(sys.stdin.buffer, "peek") else b""
    suffix = ".csv.gz" if head == b"\x1f\x8b" else (".tsv" if delimiter == "\t" else ".csv")
    spool = tempfile.NamedTemporaryFile(prefix="stdin-", suffix=suffix, delete=False)  # noqa: SIM115
    with spool:
        shutil.copyfileobj(sys.stdin.buffer, spool)
    path = Path(spool.name)
    atexit.register(path.unlink, missing_ok=True)
    return path


def _configured_learner(config: Path, file: Path, target: str):
    """The learner of a config's ``[model]``, its task read from ``file`` if need be."""
    from streamlearn.config import SourceConfig, build_model, load_config

    settings = load_config(config)
    source = {"path": file, "target": target}
    if settings.source is not None:
        source = settings.source.model_dump() | source
    return build_model(settings.model_copy(update={"source": SourceConfig(**source)}))


def _models(values: list[str]) -> list[str]:
    from streamlearn.models.factory import LEARNER_NAMES

    names = list(dict.fromkeys(_split(values)))
    unknown = [name for name in names if name not in LEARNER_NAMES]
    if unknown or not names:
        wrong = unknown[0] if unknown else ""
        choices = ", ".join(LEARNER_NAMES)
        raise typer.BadParameter(
            f"unknown model {wrong!r}; choose from {choices}", param_hint="--model"
        )
    return names


@app.command()
def demo(
    events: Annotated[
        int, typer.Option(min=1000, help="Events in the generated click stream.")
    ] = 200_000,
) -> None:
    """Progressive evaluation of the default learners (binary, multiclass, regression), then
    the runner on real and generated streams: delayed labels, drift handling, checkpoints,
    a stop and a resume, a challenger, rollback guard."""
    import pyarrow.csv as pacsv

    from streamlearn.cli.demo import demo_configs
    from streamlearn.config import build_runner, load_config_text
    from streamlearn.datasets import elec2, synth

    quiet = logging.getLogger("streamlearn")
    quiet.setLevel(max(quiet.level, logging.WARNING))  # the tables tell the story
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        err.print(f"generating a click-through stream of {events:,} events and two tables …")
        clicks = folder / "clicks.csv"
        synth.write_csv(str(clicks), n=events)
        tables = {}
        for task in ("multiclass", "regression"):
            tables[task] = folder / f"{task}.csv"
            pacsv.write_csv(synth.tabular_stream(100_000, task=task, seed=5), tables[task])
        runs = {
            "binary": {
                "elec2 (embedded)": (elec2.path(), elec2.TARGET, ()),
                "clicks (generated)": (clicks, synth.TARGET, (("C1", "C2"), ("C3", "C4"))),
            },
            "multiclass": {"mixed table (generated)": (tables["multiclass"], "target", ())},
            "regression": {"mixed table (generated)": (tables["regression"], "target", ())},
        }
        for task, streams in runs.items():
            reports = {
                name: _evaluate_with_progress(
                    name, path, target, features={"interactions": crosses}
                )[0]
                for name, (path, target, crosses) in streams.items()
            }
            learner = next(iter(reports.values())).model
            out.print(_summary(f"{task}: {learner} (FTRL), progressive validation", reports))
        pacsv.write_csv(synth.delayed_clicks(events, seed=1), folder / "delayed.csv")
        for name, config in demo_configs(folder, elec2.path(), events).items():
            out.print(f"[bold]{name}[/bold]")
            runner = build_runner(load_config_text(config, base=folder))
            if "stopped" in name:
                first = _run_with_progress(runner, name, limit=events // 2)
                out.print(
                    f"stopped after {first.served:,} events at {first.versions[-1]}; "
                    "a new runner resumes from it:"
                )
                runner = build_runner(load_config_text(config, base=folder))
            out.print(_run_table(name, _run_with_progress(runner, name)))


def _evaluate_with_progress(name: str, path: Path, target: str, **options) -> tuple:
    """``evaluate_file`` with a progress bar on a terminal."""
    from streamlearn.offline import evaluate_file

    with _progress_bar() as bar:
        job = bar.add_task(name, total=None, events=0)

        def on_progress(done: int, total: int, events: int) -> None:
            bar.update(job, completed=done, total=total, events=events)

        return evaluate_file(path, target, on_progress=on_progress, **options)


@app.command()
def run(
    config: Annotated[Path, typer.Argument(help="The run's TOML file (see docs/guides/run.md).")],
    limit: Annotated[int | None, typer.Option(min=1, help="Stop after this many events.")] = None,
    output: Annotated[Output, typer.Option(help="table, or one JSON object.")] = Output.table,
) -> None:
    """Run a stream through the runner: predict, join delayed labels, learn, checkpoint.
    A run whose registry already has versions resumes after the newest one."""
    from streamlearn.config import build_runner, load_config

    settings = load_config(config)
    _claim_registry(settings)
    summary = _run_with_progress(build_runner(settings), config.name, limit)
    if output is Output.json:
        out.print_json(json.dumps(summary.as_dict(), default=str))
        return
    out.print(_run_table(config.name, summary))


@app.command()
def serve(
    config: Annotated[
        Path, typer.Argument(help="The service's TOML file (see docs/guides/serve.md).")
    ],
) -> None:
    """Serve predictions over HTTP while learning (from HTTP, a file, or Kafka). Stops
    cleanly on SIGTERM / Ctrl-C, with a checkpoint."""
    from streamlearn.config import load_config
    from streamlearn.service.serve import build_service  # or: which extra is missing

    uvicorn = require("uvicorn", "serve")

    settings = load_config(config)
    host, port = settings.service.host, settings.service.port
    _check_port_free(host, port)  # before the model loads and the trainer starts
    if settings.service.role == "trainer":
        _claim_registry(settings)
    api, server = build_service(settings)
    doing = "learning" if hasattr(server, "runner") else "following the registry"
    # uvicorn runs in a thread (so it leaves signals alone); SIGTERM / Ctrl-C end it here,
    # then the trainer learns what is queued and checkpoints.
    http = uvicorn.Server(uvicorn.Config(api, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=http.run, name="http", daemon=True)
    done = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: done.set()) for sig in (signal.SIGTERM, signal.SIGINT)
    }
    thread.start()
    while not http.started and thread.is_alive():  # uvicorn gives up if it cannot listen
        time.sleep(0.02)
    if not http.started:
        server.stop(timeout=5.0)
        raise OSError(f"cannot listen on {host}:{port} (is another service there?)")
    err.print(f"serving on http://{host}:{port} (docs at /docs); {doing}")
    log.info(
        "serving",
        extra={"event": "serving", "host": host, "port": port, "role": settings.service.role},
    )
    title = f"serving on http://{host}:{port}"
    failed: str | None = None
    try:
        with Live(
            status_table(server.monitor, title), console=err, transient=True, auto_refresh=False
        ) as live:
            while not done.wait(0.5) and thread.is_alive():
                if err.is_terminal:
                    live.update(status_table(server.monitor, title), refresh=True)
                failed = _failure(server) if settings.service.exit_on_failure else None
                if failed:
                    break
    finally:
        http.should_exit = True
        thread.join(30)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.stop(timeout=5.0 if failed else 60.0)  # a stalled trainer may never return
        summary = getattr(server, "summary", None)
        if summary is not None:
            last = summary.versions[-1] if summary.versions else "—"
            err.print(
                f"stopped: {summary.served:,} events served, {summary.learned:,} learned, "
                f"last version {last}"
            )
    if failed:
        log.error("exiting", extra={"event": "exiting", "error": failed})
        err.print(f"error: {failed}; exiting for the supervisor to restart", markup=False)
        raise typer.Exit(1)


_CLAIMS: list[Any] = []  # the lock files this process holds, open until it exits


def _claim_registry(settings: Any) -> None:
    """One trainer per registry folder: a second is refused in one line (two writers would
    interleave their versions)."""
    folder = settings.checkpoint.registry
    if not folder or settings.checkpoint.redis_registry:
        return
    import fcntl

    Path(folder).mkdir(parents=True, exist_ok=True)
    claim = open(Path(folder) / ".trainer.lock", "a+")  # noqa: SIM115 (held until exit)
    try:
        fcntl.flock(claim, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        claim.seek(0)
        holder = claim.read().strip() or "?"
        claim.close()
        raise OSError(
            f"registry {folder} is in use by another trainer (pid {holder}): stop it, or "
            "give this one a registry of its own"
        ) from None
    claim.truncate(0)
    claim.write(str(os.getpid()))
    claim.flush()
    _CLAIMS.append(claim)


def _check_port_free(host: str, port: int) -> None:
    """Refuse, in one line, a port another process listens on."""
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise OSError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def _failure(server: Any) -> str | None:
    """Why a service must exit (its trainer stopped on an error, or stalled), else None."""
    if server.stalled:
        idle = server.seconds_since_batch
        return f"the trainer stalled: no micro-batch finished for {idle:.0f} s"
    if not server.alive:
        return f"the {type(server).__name__.lower()} stopped: " + "; ".join(server.problems())
    return None


def _run_with_progress(runner: Runner, name: str, limit: int | None = None) -> RunSummary:
    """Run with a progress bar and a live status on a terminal; SIGTERM / Ctrl-C stop it
    cleanly after a checkpoint."""

    def stop(signum: int, _frame: object) -> None:
        err.print(f"{signal.Signals(signum).name}: stopping after this batch, with a checkpoint")
        runner.request_stop()

    from streamlearn.monitor import Monitor

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    bar = _progress_bar()
    job = bar.add_task(name, total=runner.source.size, events=0)
    monitor, last = Monitor(), [0.0]

    def screen() -> Group:
        return Group(bar, status_table(monitor, f"run {name}"))

    with Live(
        screen(), console=err, transient=True, refresh_per_second=4, auto_refresh=err.is_terminal
    ) as live:

        def progress(summary: RunSummary) -> None:
            bar.update(job, completed=runner.source.position, events=summary.served)
            if summary.batch_events:
                monitor.learn_latency.add(summary.batch_seconds)
            if err.is_terminal and time.monotonic() - last[0] >= 0.5:
                monitor.observe(runner.status())
                live.update(screen())
                last[0] = time.monotonic()

        try:
            return runner.run(limit=limit, on_batch=progress)
        finally:
            runner.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _run_table(name: str, summary: RunSummary) -> Table:
    table = Table(title=f"run {name}")
    table.add_column("")
    table.add_column("", justify="right")
    if summary.resumed_from:
        table.add_row("resumed from", summary.resumed_from)
    if summary.stopped:
        table.add_row("stopped", "on request, after a checkpoint")
    for key in COUNTERS:
        table.add_row(key, f"{getattr(summary, key):,}")
    table.add_row("events/s", f"{summary.events_per_second:,.0f}")
    table.add_row("kernels s", f"{summary.compile_seconds:.2f}", style="dim")
    for key, value in summary.metrics.items():
        table.add_row(key, _fmt(value))
    table.add_row("drifts", str(len(summary.drifts)))
    for drift in summary.drifts[:3]:
        table.add_row("  drift at event", f"{drift['index']:,} ({drift['action']})")
    table.add_row("rollbacks", str(len(summary.rollbacks)))
    for rollback in summary.rollbacks[:3]:
        table.add_row("  rolled back", f"at offset {rollback['offset']:,} to {rollback['to']}")
    table.add_row("promotions", str(len(summary.promotions)))
    for challenger in summary.challengers:
        loss = challenger.get("log_loss", challenger.get("rmse", math.nan))
        table.add_row(f"  challenger {challenger['model']}", _fmt(loss))
    table.add_row(
        "versions",
        f"{len(summary.versions)} this run, last {summary.versions[-1]}"
        if summary.versions
        else "—",
    )
    return table


GLOBAL_OPTIONS = ("--log-format", "--log-level")


def global_options_first(args: list[str]) -> list[str]:
    """The logging options wherever they are given (``run x.toml --log-format json``),
    moved before the command, where they are read.

    >>> global_options_first(["run", "x.toml", "--log-format", "json", "--log-level=debug"])
    ['--log-format', 'json', '--log-level=debug', 'run', 'x.toml']
    """
    front, rest = [], []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest += args[i:]
            break
        if arg in GLOBAL_OPTIONS and i + 1 < len(args):
            front += args[i : i + 2]
            i += 2
            continue
        (front if arg.split("=")[0] in GLOBAL_OPTIONS else rest).append(arg)
        i += 1
    return front + rest


def main() -> None:
    """Entry point: click's usage errors become one line, as do data errors."""
    try:
        code = app(args=global_options_first(sys.argv[1:]), standalone_mode=False)
    except UsageError as exc:
        hint = f" (see {exc.ctx.command_path} --help)" if exc.ctx else ""
        err.print(f"error: {exc.format_message()}{hint}", markup=False, highlight=False)
        sys.exit(2)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    except MissingExtra as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        sys.exit(1)
    except (FileNotFoundError, KeyError, ValueError, TypeError, OSError) as exc:  # ConfigError too
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        err.print(f"error: {printable(str(message))}", markup=False, highlight=False)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
