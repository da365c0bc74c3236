"""``streamlearn registry list|show|diff|promote|rollback``: look after model versions, in a
registry folder or in whatever registry a run's config names (a Redis one too). A version
may be named by a tag (``champion``, ``previous-champion``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # loaded by the commands that use them, not for --help
    from streamlearn.registry import Registry, Version

registry_app = typer.Typer(
    no_args_is_help=True, help="Model versions in a registry folder, or a config's registry."
)
out = Console()

Folder = Annotated[
    Path,
    typer.Argument(
        help="The registry folder, or a run's TOML config (its [checkpoint] registry, Redis too)."
    ),
]
_signing: dict[str, bytes | None] = {"key": None}  # the --key-file of this invocation


@registry_app.callback()
def _options(
    key_file: Annotated[
        Path | None,
        typer.Option(
            envvar="STREAMLEARN_REGISTRY_KEY_FILE",
            help="The registry's signing key: versions not signed with it are refused.",
        ),
    ] = None,
) -> None:
    from streamlearn.registry import read_key

    _signing["key"] = read_key(key_file) if key_file else None


def _open(folder: Path) -> Registry:
    """The registry in ``folder``, or the one the config file ``folder`` names (signed with
    the config's key, unless --key-file gives one)."""
    from streamlearn.config import build_registry, load_config
    from streamlearn.registry import LocalRegistry

    if folder.is_file() and folder.suffix == ".toml":
        config = load_config(folder)
        if _signing["key"] is not None:
            config.checkpoint.key_file = None
        registry = build_registry(config)
        if registry is None:
            raise ValueError(f"{folder}: [checkpoint] names no registry")
        if _signing["key"] is not None:
            registry.key = _signing["key"]
        return registry
    if not folder.is_dir():
        raise FileNotFoundError(f"no registry at {folder}")
    return LocalRegistry(folder, key=_signing["key"])


def _version(registry: Registry, name: str) -> str:
    """A version id, or the version a tag names."""
    return registry.tags().get(name, name)


def _when(version: Version) -> str:
    return datetime.fromtimestamp(version.created_at, UTC).strftime("%Y-%m-%d %H:%M:%S")


@registry_app.command("list")
def list_versions(folder: Folder) -> None:
    """Every version, oldest first, with its tags, events, offsets and metrics."""
    table = Table(title=str(folder))
    for name in ("version", "parent", "created (UTC)", "tags", "events", "offsets", "metrics"):
        table.add_column(name)
    for v in _open(folder).versions():
        metrics = ", ".join(f"{k} {val:.4f}" for k, val in list(v.metrics.items())[:3])
        table.add_row(
            v.id,
            v.parent or "",
            _when(v),
            ",".join(v.tags),
            f"{v.events:,}",
            json.dumps(v.offsets),
            metrics,
        )
    out.print(table)


VersionName = Annotated[str, typer.Argument(help="A version id, or a tag (champion, …).")]


@registry_app.command()
def show(folder: Folder, version: VersionName) -> None:
    """One version's whole record (checksum verified), as JSON."""
    registry = _open(folder)
    state, record = registry.load(_version(registry, version))
    payload = record.as_dict() | {"model": state.kind, "params": state.params}
    out.print_json(json.dumps(payload, default=str))


@registry_app.command()
def diff(
    folder: Folder,
    a: VersionName,
    b: VersionName,
) -> None:
    """What changed between two versions: parameters, metrics, events, weights."""
    registry = _open(folder)
    a, b = _version(registry, a), _version(registry, b)
    (state_a, va), (state_b, vb) = registry.load(a), registry.load(b)
    table = Table(title=f"{a} → {b}")
    for name in ("", a, b):
        table.add_column(name)
    table.add_row("model", state_a.kind, state_b.kind)
    table.add_row("events", f"{va.events:,}", f"{vb.events:,}")
    table.add_row("offsets", json.dumps(va.offsets), json.dumps(vb.offsets))
    for key in sorted(set(va.metrics) | set(vb.metrics)):
        table.add_row(key, _num(va.metrics.get(key)), _num(vb.metrics.get(key)))
    params = sorted(
        k
        for k in set(state_a.params) | set(state_b.params)
        if state_a.params.get(k) != state_b.params.get(k)
    )
    for key in params:
        table.add_row(f"param {key}", str(state_a.params.get(key)), str(state_b.params.get(key)))
    for key in sorted(set(state_a.arrays) & set(state_b.arrays)):
        left, right = state_a.arrays[key], state_b.arrays[key]
        if left.shape == right.shape and left.dtype.kind == "f":
            changed = int((left != right).sum())
            table.add_row(f"{key} changed", "", f"{changed:,} of {left.size:,}")
    out.print(table)


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


@registry_app.command()
def promote(folder: Folder, version: VersionName) -> None:
    """Make VERSION the champion (the served model)."""
    registry = _open(folder)
    version = _version(registry, version)
    registry.promote(version, requested=True)
    out.print(f"{version} is the champion")


@registry_app.command()
def rollback(
    folder: Folder,
    version: Annotated[
        str | None, typer.Argument(help="Default: the previous champion (else its parent).")
    ] = None,
) -> None:
    """Make an earlier version the champion again."""
    registry = _open(folder)
    chosen = registry.rollback(None if version is None else _version(registry, version))
    out.print(f"rolled back: {chosen} is the champion")


@registry_app.command()
def pin(folder: Folder, version: VersionName) -> None:
    """Serve VERSION until unpinned, whatever the trainer checkpoints (it learns on from
    VERSION meanwhile; replicas serve VERSION too)."""
    registry = _open(folder)
    version = _version(registry, version)
    registry.pin(version)
    out.print(f"{version} is pinned: it serves until `registry unpin`")


@registry_app.command()
def unpin(folder: Folder) -> None:
    """End the pin: the trainer's next checkpoint is the champion again."""
    was = _open(folder).unpin()
    out.print(f"unpinned {was}" if was else "nothing was pinned")
