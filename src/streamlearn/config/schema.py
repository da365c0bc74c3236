"""``streamlearn run CONFIG.toml``: a run described in one file, validated before it starts.

Unknown keys and wrong values are refused with the key's full name (``model.bitz: unknown
key``). Relative paths are relative to the config file. A minimal config::

    [source]
    path = "clicks.csv"
    target = "click"

    [labels]
    delay = 1000          # in events (or in the time column's unit)

    [checkpoint]
    registry = "registry"
    every_events = 100000
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    model_validator,
)

from streamlearn.adaptation.policies import POLICIES
from streamlearn.config.model_keys import (
    BanditKeys,
    EnsembleKeys,
    LinearKeys,
    RankingKeys,
    TreeKeys,
)
from streamlearn.drift import DETECTORS
from streamlearn.models.factory import check_optimizer
from streamlearn.runner.engine import EXPIRY_POLICIES
from streamlearn.streams.batch import MAX_ABS_LABEL


class ConfigError(ValueError):
    """A config that cannot run, with every problem named by its key.

    Example
    -------
    >>> try:
    ...     load_config_text("[model]\\nbits = 99")
    ... except ConfigError as error:
    ...     print("model.bits" in str(error))
    True
    """


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceConfig(_Section):
    """``[source]``: a file to replay (CSV, JSON lines or Parquet, compressed or not).

    Parameters
    ----------
    path, target
        The file and its target column (an empty target: a label that never comes).
    categorical
        Columns of codes, not quantities.
    id_column, time_column, delay_column
        Each event's id (for labels by id), its time (the keys delays and TTLs count in;
        default: the row number) and its own label delay.

    Example
    -------
    >>> SourceConfig(path="events.csv", target="y").categorical
    []
    """

    path: Path
    target: str
    categorical: list[str] = []
    id_column: str | None = None
    time_column: str | None = None
    delay_column: str | None = None


class LabelsConfig(_Section):
    """``[labels]``: how labels join their events.

    Parameters
    ----------
    delay
        The label delay, when the source gives none per event (in the keys' unit).
    ttl
        How long a served event waits for its label (``inf``: forever).
    expiry, default_label
        At the TTL: ``drop`` the event, or learn it with ``default_label`` ("no click").
    store, store_path, redis_prefix
        Where served events wait: ``sqlite`` (that file), ``memory`` or ``redis``.
    bounds
        The lowest and highest number label taken (a regression's target, a reward);
        any other is a dead letter (HTTP: a 422).

    Example
    -------
    >>> labels = LabelsConfig(ttl=3600)
    >>> labels.ttl, labels.expiry
    (3600.0, 'drop')
    """

    delay: float = Field(0.0, ge=0)
    ttl: float = Field(math.inf, gt=0)
    expiry: Literal[EXPIRY_POLICIES] = "drop"  # type: ignore[valid-type]
    default_label: float = 0.0
    bounds: tuple[float, float] = (-MAX_ABS_LABEL, MAX_ABS_LABEL)
    store: Literal["memory", "sqlite", "redis"] = "sqlite"
    store_path: Path = Path("join.sqlite")
    redis_prefix: str = "streamlearn:join"


FEATURE_KEYS = {"bits", "categorical", "interactions", "standardize", "missing", "max_value"}
RAW_FEATURE_KEYS = FEATURE_KEYS - {"standardize", "bits"}  # trees: raw numbers, whole hashes
# Keys of a classifier only, or of a regressor only: given for the other task, refused.
CLASSIFIER_KEYS = {"n_splits", "min_branch_fraction", "weighted_vote", "split_pure", "dirichlet"}
CLASSIFIER_KEYS |= {"pool_rate"}
REGRESSOR_KEYS = {"n_bins", "bin_width", "min_samples_split", "learning_rate"}
REGRESSOR_KEYS |= {"model_selector_decay", "scale_target"}
TREE_KEYS = {"grace_period", "delta", "tau", "leaf_prediction", "max_depth", "max_leaves"}
TREE_KEYS |= {"feature_cap", "max_classes", "n_splits", "min_branch_fraction", "seed"}
TREE_KEYS |= {"n_bins", "bin_width", "min_samples_split", "learning_rate", "model_selector_decay"}
FOREST_KEYS = {"n_models", "max_features", "lambda_value", "warning_delta", "drift_delta", "seed"}
FOREST_KEYS |= {"weighted_vote"}
HAT_KEYS = {"bootstrap_sampling", "drift_window_threshold", "switch_significance", "drift_delta"}
HAT_KEYS |= {"seed"}
# The keys each kind of model reads; any other key given is refused, naming it.
KIND_KEYS = {
    "linear": {"task", "optimizer", "max_classes", "intercept_lr", "scale_target"} | FEATURE_KEYS,
    "bayesian": {"alpha", "beta", "forgetting", "covariance", "capacity"} | FEATURE_KEYS,
    "bandit": {"alpha", "forgetting", "capacity", "arms", "rule", "explore", "arm_column"}
    | {"draws", "seed", "shared", "arm_features"}
    | FEATURE_KEYS,
    "ranker": {"tasks", "weights", "defaults", "optimizer"} | FEATURE_KEYS,
    "river": {"river", "allow_pickle"},
    "mf": {"n_factors", "lr_bias", "lr_latent", "l2_bias", "l2_latent", "init_std", "seed"}
    | {"implicit", "negatives"}
    | {"user_key", "item_key"},
    "one_vs_rest": {"optimizer", "max_classes", "intercept_lr"} | FEATURE_KEYS,
    "hedge": {"task", "members", "eta", "discount"} | FEATURE_KEYS,
    "torch": {"task", "batch_size", "epochs", "lr", "seed", "network", "hidden", "device"}
    | {"freeze_base_for", "base_lr_scale"}
    | FEATURE_KEYS,
    "fraud": {"entity", "time", "amount", "half_lives", "prior", "weight", "min_frauds"}
    | {"rule_z", "fp_budget", "optimizer", "intercept_lr"}
    | FEATURE_KEYS,
    "auto": {"task", "window", "eta", "pool_rate", "seed", "max_classes"} | FEATURE_KEYS,
    "knn": {"task", "n_neighbors", "window_size", "feature_cap", "max_classes"}
    | FEATURE_KEYS - {"bits"},
    "amf": {"task", "n_models", "seed", "max_nodes", "step", "dirichlet", "feature_cap"}
    | {"max_classes", "use_aggregation", "split_pure"}
    | FEATURE_KEYS - {"bits"},
    "naive_bayes": {"task", "distribution", "alpha", "true_threshold", "feature_cap"}
    | {"max_classes"}
    | RAW_FEATURE_KEYS,
    "tree": {"task"} | TREE_KEYS | RAW_FEATURE_KEYS,
    "hat": {"task"} | TREE_KEYS | HAT_KEYS | RAW_FEATURE_KEYS,
    "forest": {"task"} | TREE_KEYS | FOREST_KEYS | RAW_FEATURE_KEYS,
}


class ModelConfig(TreeKeys, EnsembleKeys, RankingKeys, BanditKeys, LinearKeys, _Section):
    """``[model]``: the learner. Each ``kind`` reads its own keys (``KIND_KEYS``); any other
    key given is refused. The keys are documented by family: :class:`LinearKeys` (a linear
    model and the featurizer), :class:`BanditKeys`, :class:`RankingKeys`,
    :class:`EnsembleKeys` (Hedge, torch, fraud) and :class:`TreeKeys` (trees, forests,
    neighbours, naive Bayes, ``auto``, River).

    Parameters
    ----------
    kind
        ``linear``, ``one_vs_rest``, ``hedge``, ``torch``, ``fraud``, ``bayesian``,
        ``bandit``, ``ranker``, ``mf``, ``tree``, ``forest``, ``hat``, ``amf``, ``knn``,
        ``naive_bayes``, ``auto``
        or ``river``.

    Example
    -------
    >>> model = ModelConfig(kind="tree", grace_period=50)
    >>> model.tree_settings()
    {'grace_period': 50.0}
    """

    kind: Literal[
        "linear",
        "one_vs_rest",
        "hedge",
        "torch",
        "fraud",
        "bayesian",
        "bandit",
        "river",
        "ranker",
        "mf",
        "tree",
        "forest",
        "hat",
        "auto",
        "amf",
        "knn",
        "naive_bayes",
    ] = "linear"

    def features(self) -> dict[str, Any]:
        """The featurizer's settings (see :class:`~streamlearn.features.FeatureHasher`);
        a torch network's input size (``bits``) defaults to its own."""
        settings = {
            "bits": self.bits,
            "categorical": list(self.categorical),
            "interactions": self.interactions,
            "standardize": self.standardize,
            "missing": self.missing,
            "max_value": self.max_value,
        }
        if self.kind in ("torch", "fraud") and "bits" not in self.model_fields_set:
            del settings["bits"]
        if self.kind in ("tree", "forest", "hat", "amf", "naive_bayes"):  # raw, whole hashes
            del settings["bits"], settings["standardize"]
        return settings

    def tree_settings(self) -> dict[str, Any]:
        """A tree learner's settings that were given (the others keep its defaults)."""
        keys = KIND_KEYS[self.kind] - FEATURE_KEYS - {"task"}
        return {key: getattr(self, key) for key in sorted(keys) if key in self.model_fields_set}

    @model_validator(mode="after")
    def _keys_apply(self) -> ModelConfig:
        own = set(type(self).model_fields) - set(ModelConfig.model_fields)  # a challenger's
        inapplicable = sorted(self.model_fields_set - KIND_KEYS[self.kind] - own - {"kind"})
        if inapplicable:
            raise ValueError(
                f"{', '.join(inapplicable)}: not a setting of a {self.kind} model "
                f"(it takes {', '.join(sorted(KIND_KEYS[self.kind]))})"
            )
        for spec in [self.optimizer, *self.members]:
            if isinstance(spec, dict):
                check_optimizer(spec)
        return self

    @model_validator(mode="after")
    def _kind_needs(self) -> ModelConfig:
        if self.kind == "bandit" and not self.arms:
            raise ValueError("a bandit needs its arms (model.arms)")
        if self.kind == "hedge" and len(self.members) < 2:
            raise ValueError(
                'a Hedge ensemble needs two members or more (model.members = ["sgd", "ftrl"])'
            )
        if self.kind == "ranker" and not self.tasks:
            raise ValueError('a ranker needs its tasks (model.tasks = {click = "binary", …})')
        if self.kind == "river" and not (self.river and self.allow_pickle):
            raise ValueError(
                'a River model needs model.river (e.g. "linear_model.'
                'LogisticRegression") and model.allow_pickle = true (its '
                "checkpoints are pickles)"
            )
        return self


class DriftConfig(_Section):
    """``[drift]``: a detector on the model's errors and what to do on drift.

    Parameters
    ----------
    detector
        ADWIN, DDM, EDDM, KSWIN, PageHinkley, WindowErrorRate or PSI (none: no detection).
    policy
        ``reset``, ``boost``, ``shrink`` or ``background``.
    signal
        What the detector watches: ``error``, ``brier`` or ``log_loss``.

    Example
    -------
    >>> DriftConfig(detector="ADWIN").policy
    'reset'
    """

    detector: Literal[tuple(DETECTORS)] | None = None  # type: ignore[valid-type]
    policy: Literal[tuple(POLICIES)] = "reset"  # type: ignore[valid-type]
    signal: Literal["error", "brier", "log_loss"] | None = None


class ChallengerConfig(ModelConfig):
    """A model learning in shadow: the model's keys, and optionally a drift detector.

    Parameters
    ----------
    name
        What logs, metrics and the dashboard call it (default ``challenger 1``, …).
    detector, policy
        As for ``[drift]``.

    Example
    -------
    >>> ChallengerConfig(name="ftrl", bits=12).name
    'ftrl'
    """

    name: str | None = Field(None, min_length=1, max_length=64)
    detector: Literal[tuple(DETECTORS)] | None = None  # type: ignore[valid-type]
    policy: Literal[tuple(POLICIES)] = "reset"  # type: ignore[valid-type]


class GateConfig(_Section):
    """``[gate]``: when a challenger takes the champion's place (a paired test on the
    same recent labels).

    Parameters
    ----------
    enabled
        Promote at all (off by default: challengers learn and are scored in shadow, and an
        operator promotes one with ``registry promote``).
    alpha
        The test's significance level.
    margin
        The relative gain in loss it must show.
    min_events
        Labels both must have been scored on.

    Example
    -------
    >>> GateConfig().enabled, GateConfig(enabled=True).alpha
    (False, 0.01)
    """

    enabled: StrictBool = False
    alpha: float = Field(0.01, gt=0, lt=1)
    margin: float = Field(0.02, ge=0)
    min_events: int = Field(1000, ge=2)


class RollbackConfig(GateConfig):
    """``[rollback]``: back to a better earlier version when the champion gets worse.

    Parameters
    ----------
    enabled
        Check at each checkpoint.
    alpha, margin, min_events
        As for ``[gate]`` (the margin: how much worse).
    candidates
        Earlier versions scored at each checkpoint: the lowest loss when saved, and those
        1, 2, 4 … checkpoints back (see :class:`~streamlearn.runner.RollbackGuard`).

    Example
    -------
    >>> RollbackConfig(enabled=True).candidates
    8
    """

    margin: float = Field(0.05, ge=0)
    candidates: int = Field(8, ge=1, le=64)


class RedisConfig(_Section):
    """``[redis]``: the Redis that join stores, registries and mixing use.

    Parameters
    ----------
    url
        The server's URL (``redis://host:port/db``).
    timeout
        Seconds for a connection and for each command.

    Example
    -------
    >>> RedisConfig(url="redis://127.0.0.1:6379/0").timeout
    5.0
    """

    url: str = "redis://127.0.0.1:6379/0"
    timeout: float = Field(5.0, gt=0)  # seconds for a connection and for each command


class CheckpointConfig(_Section):
    """``[checkpoint]``: where versions go and when.

    Parameters
    ----------
    registry, redis_registry
        A folder, or a key prefix in ``[redis]``.
    every_events, every_seconds
        Checkpoint after this many events and/or seconds (an idle stream adds none): by
        events exactly from a file, at the end of the micro-batch that gets there from
        Kafka or the live queue.
    keep
        Newest versions kept, besides every tagged one.
    resumable
        How many of the newest versions a run can resume from exactly (the join store keeps
        what restoring them needs; resuming from an older one is refused, saying why).
    key_file
        A file holding a secret (16 bytes or more): versions are signed with it and one not
        signed with it is refused on load. Keep the file out of the config's reach of others.

    Example
    -------
    >>> CheckpointConfig(registry="registry", every_events=1000).keep
    50
    """

    registry: Path | None = None
    redis_registry: str | None = None  # a key prefix: versions go to Redis instead
    every_events: int | None = Field(100_000, ge=1)
    every_seconds: float | None = Field(None, gt=0)
    keep: int | None = Field(50, ge=1)  # newest versions kept (and every tagged one)
    resumable: int = Field(3, ge=1)
    key_file: Path | None = None


class OutputConfig(_Section):
    """``[output]``: what a run writes besides its versions.

    Parameters
    ----------
    predictions, dead_letters, decisions
        The prediction log (CSV), rejected rows (JSON lines), a bandit's decisions.
    micro_batch
        Events per compiled call.
    window
        Events in the rolling metrics.

    Example
    -------
    >>> OutputConfig(micro_batch=1000).micro_batch
    1000
    """

    predictions: Path | None = None
    dead_letters: Path | None = None
    decisions: Path | None = None  # a bandit service's decisions (JSON lines)
    micro_batch: int = Field(16384, ge=1)
    window: int = Field(1000, ge=1)


class ServiceConfig(_Section):
    """``[service]``: the HTTP service.

    Parameters
    ----------
    host, port
        Where it listens (loopback by default).
    token
        The bearer token of the mutating endpoints (else ``STREAMLEARN_TOKEN``).
    role
        ``trainer`` (learns and serves) or ``replica`` (serves the registry's champion).
    publish_every, poll_every
        Seconds between a trainer's serving copies; between a replica's looks.
    stall_seconds
        A trainer that finishes no micro-batch for this long is stalled (an idle stream
        still gives empty ones): ``/health`` says ``down`` (503), ``streamlearn_up`` is 0.
    exit_on_failure
        When the trainer stops on an error or stalls, the process exits with code 1 (its
        supervisor restarts it; it resumes from the last checkpoint). False: it keeps
        serving the last model, ``down``.

    Example
    -------
    >>> ServiceConfig(token="secret").port
    8000
    """

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    token: str | None = None  # else STREAMLEARN_TOKEN; none: mutating endpoints are off
    role: Literal["trainer", "replica"] = "trainer"
    publish_every: float = Field(0.2, gt=0)
    poll_every: float = Field(1.0, gt=0)
    stall_seconds: float = Field(60.0, gt=0)
    exit_on_failure: StrictBool = True


class KafkaConfig(_Section):
    """``[kafka]``: events, labels and predictions through Kafka.

    Parameters
    ----------
    bootstrap_servers, group
        The brokers and the consumer group.
    events_topic, labels_topic, dead_letters_topic, predictions_topic
        The topics (only the events topic is required).
    settings
        More client settings, passed to ``confluent-kafka`` as they are.

    Example
    -------
    >>> KafkaConfig(bootstrap_servers="127.0.0.1:9092", events_topic="events").group
    'streamlearn'
    """

    bootstrap_servers: str
    group: str = "streamlearn"
    events_topic: str
    labels_topic: str | None = None
    dead_letters_topic: str | None = None
    predictions_topic: str | None = None
    settings: dict[str, str | int | float | bool] = {}


class ScaleConfig(_Section):
    """One worker of several sharing a model by parameter mixing through ``[redis]``.

    Parameters
    ----------
    worker, group
        This worker's name, and the group whose workers mix.
    mix_every_events, mix_every_seconds
        When this worker mixes.
    stale_after
        Seconds after which a silent worker's weights no longer count.

    Example
    -------
    >>> ScaleConfig(worker="w1", group="fraud").mix_every_events
    10000
    """

    worker: str
    group: str = "streamlearn"
    mix_every_events: int | None = Field(10_000, ge=1)
    mix_every_seconds: float | None = Field(None, gt=0)
    stale_after: float = Field(60.0, gt=0)


class RunConfig(_Section):
    """A whole run: one section per part (see each section's class).

    Parameters
    ----------
    source, labels, model, drift, checkpoint, output
        The stream, the label join, the learner, drift handling, versions, outputs.
    challengers, gate, rollback
        Models in shadow, when one is promoted, when the champion rolls back.
    redis, service, kafka, scale
        The servers and the scale-out a run may use.

    Example
    -------
    >>> cfg = load_config_text('[source]\\npath = "a.csv"\\ntarget = "y"\\n[model]\\nbits = 18')
    >>> cfg.model.bits, cfg.labels.store, cfg.checkpoint.every_events
    (18, 'sqlite', 100000)
    >>> load_config_text('[model]\\nbitz = 18')
    Traceback (most recent call last):
    ...
    streamlearn.config.schema.ConfigError: model.bitz: unknown key
    """

    source: SourceConfig | None = None
    labels: LabelsConfig = LabelsConfig()
    model: ModelConfig = ModelConfig()
    drift: DriftConfig = DriftConfig()
    checkpoint: CheckpointConfig = CheckpointConfig()
    output: OutputConfig = OutputConfig()
    challengers: list[ChallengerConfig] = []
    gate: GateConfig = GateConfig()
    rollback: RollbackConfig = RollbackConfig()
    redis: RedisConfig = RedisConfig()
    service: ServiceConfig = ServiceConfig()
    kafka: KafkaConfig | None = None
    scale: ScaleConfig | None = None

    def check_runnable(self) -> None:
        """Refuse what only a run needs and the config lacks: a ranker's feedback window
        (``streamlearn evaluate`` takes its labels with their impressions)."""
        if self.model.kind == "ranker" and not math.isfinite(self.labels.ttl):
            raise ConfigError(
                "labels.ttl: a ranker learns each impression when its feedback window "
                "closes: set labels.ttl (seconds)"
            )


def _problems(error: ValidationError) -> str:
    parts = []
    for problem in error.errors():
        where = ".".join(str(p) for p in problem["loc"]) or "config"
        kind = problem["type"]
        message = {"extra_forbidden": "unknown key", "missing": "required"}.get(
            kind, problem["msg"].removeprefix("Value error, ")
        )
        if kind == "value_error" and message.split(":")[0].replace(", ", "").isidentifier():
            where, message = f"{where}.{message.split(':')[0]}", message.split(":", 1)[1].strip()
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def load_config_text(text: str, base: Path | None = None) -> RunConfig:
    """Parse and validate a TOML config; relative paths are taken from ``base``."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}") from None
    return config_from_dict(raw, base)


def config_from_dict(raw: dict[str, Any], base: Path | None = None) -> RunConfig:
    """Validate a config given as a TOML file's tables (what the command line's options
    make); relative paths are taken from ``base``."""
    try:
        config = RunConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_problems(exc)) from None
    if base is not None:
        _resolve_paths(config, base)
    return config


def load_config(path: str | Path) -> RunConfig:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no such config file: {path}")
    try:
        return load_config_text(path.read_text(), base=path.parent)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _resolve_paths(config: RunConfig, base: Path) -> None:
    def resolved(p: Path | None) -> Path | None:
        return p if p is None or p.is_absolute() else base / p

    if config.source is not None:
        config.source.path = resolved(config.source.path)
    config.labels.store_path = resolved(config.labels.store_path)
    config.checkpoint.registry = resolved(config.checkpoint.registry)
    config.checkpoint.key_file = resolved(config.checkpoint.key_file)
    config.output.predictions = resolved(config.output.predictions)
    config.output.dead_letters = resolved(config.output.dead_letters)
    config.output.decisions = resolved(config.output.decisions)
