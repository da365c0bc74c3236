"""Builders: a validated :class:`~streamlearn.config.RunConfig` made into the learner, its
challengers, the registry, the event source and the runner."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from streamlearn import models
from streamlearn.adaptation import watched
from streamlearn.base import Learner
from streamlearn.base.extras import require
from streamlearn.config.schema import (
    CLASSIFIER_KEYS,
    FEATURE_KEYS,
    KIND_KEYS,
    REGRESSOR_KEYS,
    ConfigError,
    ModelConfig,
    RunConfig,
)
from streamlearn.evaluate import detect_task
from streamlearn.models import (
    BPRMF,
    BayesianLinearRegression,
    BiasedMF,
    EngagementRanker,
    FraudDetector,
    HedgeClassifier,
    HedgeRegressor,
    HybridLinUCB,
    LinearBandit,
    OneVsRest,
)
from streamlearn.models.factory import (
    amf_learner,
    auto_learner,
    hat_learner,
    knn_learner,
    make_learner,
    tree_learner,
)
from streamlearn.registry import LocalRegistry, RedisRegistry, Registry, read_key
from streamlearn.runner.engine import Runner
from streamlearn.runner.guards import PromotionGate, RollbackGuard
from streamlearn.runner.join import JoinStore, MemoryJoinStore, SQLiteJoinStore
from streamlearn.runner.join.redis import RedisJoinStore
from streamlearn.scaleout.mixing import ParameterMixer
from streamlearn.streams import FileSource
from streamlearn.streams.sources import FileEvents

if TYPE_CHECKING:  # the Kafka client loads only for a run that reads Kafka
    from streamlearn.streams.kafka import KafkaEvents

FIXED_TASKS = {
    "bayesian": "regression",
    "bandit": "bandit",
    "ranker": "ranking",
    "mf": "regression",
    "one_vs_rest": "multiclass",
    "fraud": "binary",
}
TREES = ("tree", "forest")  # they classify (two classes or more) or regress
CLASSIFY_ANY = (*TREES, "hat", "amf", "knn", "naive_bayes")  # binary labels are two classes to them
KNN_KEYS = ("n_neighbors", "window_size", "feature_cap")
AMF_KEYS = ("n_models", "seed", "max_nodes", "step", "dirichlet", "feature_cap")
AMF_KEYS += ("use_aggregation", "split_pure", "standardize")
LINEAR_KEYS = ("intercept_lr", "scale_target")  # the learner's defaults unless given


def _task(config: RunConfig) -> str:
    kind = config.model.kind
    if kind in FIXED_TASKS:
        return FIXED_TASKS[kind]
    if kind == "river":
        return _other_learner(config.model, "auto").task
    task = config.model.task
    if kind in CLASSIFY_ANY and task in ("auto", "binary") and config.source is None:
        task = "multiclass"
    if task == "auto" and config.source is None:
        raise ConfigError(
            "model.task: say binary, multiclass or regression (no [source] file to detect it from)"
        )
    if task == "auto":
        first = next(iter(FileSource(config.source.path, config.source.target)), None)
        if first is None:
            raise ConfigError(f"{config.source.path}: no labelled rows to detect the task from")
        task = detect_task(first.target)
    if kind in CLASSIFY_ANY and task == "binary":
        task = "multiclass"
    if task == "multiclass" and kind in ("hedge", "torch"):
        raise ConfigError(f"model.kind: a {kind} model is binary or regression, not multiclass")
    if task != "multiclass" and "max_classes" in config.model.model_fields_set:
        raise ConfigError(f"model.max_classes: a setting of a multiclass model, not a {task} one")
    return task


def _learner(
    model: ModelConfig, task: str, detector: str | None, policy: str, signal: str | None = None
) -> Learner:
    _refuse_the_other_tasks_keys(model, task)
    if model.kind != "linear":
        if detector is not None:
            raise ConfigError(f"drift: a detector needs a linear model, not a {model.kind} one")
        return _other_learner(model, task)
    classes = {"max_classes": model.max_classes} if task == "multiclass" else {}
    given = _given(model, LINEAR_KEYS)
    learner = make_learner(task, model.optimizer, features=model.features(), **classes, **given)
    if detector is None:
        return learner
    return watched(learner, detector, policy, signal)


def _given(model: ModelConfig, keys: Iterable[str]) -> dict[str, Any]:
    """The settings among ``keys`` that the config gives (the others keep the learner's
    defaults)."""
    return {key: getattr(model, key) for key in keys if key in model.model_fields_set}


def _refuse_the_other_tasks_keys(model: ModelConfig, task: str) -> None:
    """A classifier's setting given to a regressor, or the other way round, is refused."""
    regresses = task == "regression"
    others = CLASSIFIER_KEYS if regresses else REGRESSOR_KEYS
    if model.kind == "amf" and not regresses:
        others = others | {"standardize"}  # a Mondrian classifier splits raw numbers
    wrong = sorted(model.model_fields_set & others)
    if wrong:
        role = "classifier" if regresses else "regressor"
        raise ConfigError(f"model.{wrong[0]}: a setting of {role}s, not of a {task} model")


def _other_learner(model: ModelConfig, task: str) -> Learner:
    if model.kind == "river":
        from streamlearn.interop.river import RiverModel, allow_pickle, river_estimator

        allow_pickle(model.allow_pickle)
        return RiverModel(river_estimator(model.river))
    if model.kind == "mf":
        return _factorization(model)
    if model.kind == "one_vs_rest":
        given = _given(model, ("intercept_lr",))
        binary = make_learner("binary", model.optimizer, features=model.features(), **given)
        return OneVsRest(binary, max_classes=model.max_classes)
    if model.kind == "hedge":
        members = [make_learner(task, spec, features=model.features()) for spec in model.members]
        kind = HedgeClassifier if task == "binary" else HedgeRegressor
        return kind(members, eta=model.eta, discount=model.discount)
    if model.kind == "torch":
        return _torch_learner(model, task)
    if model.kind == "fraud":
        return _fraud_detector(model)
    if model.kind == "naive_bayes":
        return _naive_bayes(model, task)
    if model.kind == "knn":
        given = _given(model, KNN_KEYS)
        classes = {"max_classes": model.max_classes} if task == "multiclass" else {}
        return knn_learner(task, {"features": model.features(), **classes}, **given)
    if model.kind == "hat":
        features = {"features": model.features(), "max_classes": model.max_classes}
        settings = model.tree_settings()
        settings.pop("max_classes", None)
        return hat_learner(task, features, **settings)
    if model.kind == "amf":
        given = _given(model, AMF_KEYS)
        features = {"features": model.features(), "max_classes": model.max_classes}
        return amf_learner(task, features, **given)
    if model.kind == "auto":
        classes = {"max_classes": model.max_classes} if task == "multiclass" else {}
        features = {"features": model.features(), **classes}
        given = _given(model, ("window", "eta", "pool_rate"))
        return auto_learner(task, features, seed=model.seed, **given)
    if model.kind in TREES:
        kind = tree_learner(model.kind, task)
        return kind(**model.tree_settings(), features=model.features())
    common = {"alpha": model.alpha, "forgetting": model.forgetting, "capacity": model.capacity}
    if model.kind == "ranker":
        return EngagementRanker(
            model.tasks,
            weights=model.weights,
            defaults=model.defaults,
            optimizer=model.optimizer,
            features=model.features(),
        )
    if model.kind == "bayesian":
        return BayesianLinearRegression(
            beta=model.beta, covariance=model.covariance, **common, features=model.features()
        )
    return _bandit(model, common)


def _bandit(model: ModelConfig, common: dict[str, Any]) -> Learner:
    """A linear bandit, or (``shared`` arm features given) a hybrid LinUCB."""
    settings = {"arm_column": model.arm_column, "seed": model.seed, **common}
    settings["features"] = model.features()
    if not model.shared and not model.arm_features:
        rule = {"rule": model.rule, "explore": model.explore, "draws": model.draws}
        return LinearBandit(model.arms, **rule, **settings)
    linear_only = sorted(model.model_fields_set & {"rule", "draws", "alpha", "forgetting"})
    if linear_only:
        raise ConfigError(
            f"model.{linear_only[0]}: not a setting of a hybrid LinUCB (shared arm features)"
        )
    by_name = {str(arm): arm for arm in model.arms}
    unknown = sorted(set(model.arm_features) - set(by_name))
    if unknown:
        raise ConfigError(f"model.arm_features: {unknown[0]!r} is not one of the arms")
    arm_features = {by_name[name]: f for name, f in model.arm_features.items()}
    explore = {} if model.explore is None else {"explore": model.explore}
    del settings["forgetting"], settings["alpha"]
    return HybridLinUCB(
        model.arms, shared=model.shared, arm_features=arm_features, **explore, **settings
    )


NAIVE_BAYES = {  # distribution → the learner, and the keys it reads besides the featurizer's
    "gaussian": ("GaussianNB", ("feature_cap",)),
    "multinomial": ("MultinomialNB", ("alpha", "feature_cap")),
    "bernoulli": ("BernoulliNB", ("alpha", "true_threshold", "feature_cap")),
}


def _naive_bayes(model: ModelConfig, task: str) -> Learner:
    if task == "regression":
        raise ConfigError("model.kind: naive Bayes classifies; a regression needs another kind")
    name, keys = NAIVE_BAYES[model.distribution]
    wrong = sorted(model.model_fields_set & ({"alpha", "true_threshold"} - set(keys)))
    if wrong:
        raise ConfigError(f"model.{wrong[0]}: not a setting of {model.distribution} naive Bayes")
    kind = getattr(models, name)
    return kind(**_given(model, keys), max_classes=model.max_classes, features=model.features())


def _factorization(model: ModelConfig) -> Learner:
    """Biased MF of ratings, or (``implicit``) BPR-MF of interactions."""
    keys = sorted(KIND_KEYS["mf"] - {"implicit", "negatives"})
    settings = {key: getattr(model, key) for key in keys}
    if model.implicit:
        return BPRMF(**settings, negatives=model.negatives)
    if "negatives" in model.model_fields_set:
        raise ConfigError("model.negatives: a setting of implicit feedback (implicit = true)")
    return BiasedMF(**settings)


def _fraud_detector(model: ModelConfig) -> Learner:
    settings = {key: getattr(model, key) for key in sorted(KIND_KEYS["fraud"] - FEATURE_KEYS)}
    if "optimizer" not in model.model_fields_set:
        del settings["optimizer"]  # the detector's own default
    return FraudDetector(**settings, features=model.features())


def _torch_learner(model: ModelConfig, task: str) -> Learner:
    try:
        from streamlearn.models.neural import TorchClassifier, TorchRegressor
    except ImportError as exc:  # the optional extra
        raise ConfigError(
            f"model.kind = torch needs PyTorch: pip install 'streamlearn[torch]' ({exc})"
        ) from None
    kind = TorchClassifier if task == "binary" else TorchRegressor
    settings = {"batch_size": model.batch_size, "epochs": model.epochs, "lr": model.lr}
    settings |= {"device": model.device, "seed": model.seed}
    settings |= {"freeze_base_for": model.freeze_base_for, "base_lr_scale": model.base_lr_scale}
    network = {"factory": f"streamlearn.models.neural:{model.network}"}
    network["factory_args"] = {"hidden": list(model.hidden)}
    return kind(**network, **settings, features=model.features())


def build_model(config: RunConfig) -> Learner:
    """The learner the config describes (the task read from the data when ``auto``)."""
    drift = config.drift
    return _learner(config.model, _task(config), drift.detector, drift.policy, drift.signal)


def build_challengers(config: RunConfig) -> dict[str, Learner]:
    """The challengers, by name."""
    task = _task(config)
    named: dict[str, Learner] = {}
    for k, challenger in enumerate(config.challengers, start=1):
        name = challenger.name or f"challenger {k}"
        if name in named or name == "champion":
            raise ConfigError(f"challengers: the name {name!r} is taken")
        named[name] = _learner(challenger, task, challenger.detector, challenger.policy)
    return named


def _redis(config: RunConfig):
    redis = require("redis", "redis")

    # Timeouts: without them a Redis that stops answering (frozen, a dropped connection)
    # would stall the trainer for good instead of failing a checkpoint it retries.
    return redis.Redis.from_url(
        config.redis.url,
        socket_timeout=config.redis.timeout,
        socket_connect_timeout=config.redis.timeout,
    )


def build_registry(config: RunConfig) -> Registry | None:
    checkpoint = config.checkpoint
    key = read_key(checkpoint.key_file) if checkpoint.key_file else None
    if checkpoint.redis_registry:
        return RedisRegistry(_redis(config), checkpoint.redis_registry, key=key)
    if checkpoint.registry:
        return LocalRegistry(checkpoint.registry, key=key)
    return None


def file_events(config: RunConfig) -> FileEvents:
    source = config.source
    if source is None:
        raise ConfigError("source: required (a file to run)")
    return FileEvents(
        source.path,
        source.target,
        source.categorical,
        source.id_column,
        source.time_column,
        source.delay_column,
    )


def build_runner(config: RunConfig, source: Any = None, **options: Any) -> Runner:
    """A runner wired as the config says (on ``source``, else the config's file)."""
    config.check_runnable()
    labels = config.labels
    join: JoinStore = MemoryJoinStore()
    if labels.store == "sqlite":
        join = SQLiteJoinStore(labels.store_path)
    elif labels.store == "redis":
        join = RedisJoinStore(_redis(config), labels.redis_prefix)
    registry = build_registry(config)
    events = source if source is not None else file_events(config)
    predictions: Any = config.output.predictions
    if config.kafka is not None and config.kafka.predictions_topic:
        from streamlearn.streams.kafka import KafkaPredictions

        predictions = KafkaPredictions(
            {"bootstrap.servers": config.kafka.bootstrap_servers}, config.kafka.predictions_topic
        )
    rollback = config.rollback
    guard = (
        RollbackGuard(rollback.alpha, rollback.margin, rollback.min_events, rollback.candidates)
        if rollback.enabled
        else None
    )
    gate = config.gate
    return Runner(
        build_model(config),
        events,
        challengers=build_challengers(config),
        gate=PromotionGate(gate.alpha, gate.margin, gate.min_events) if gate.enabled else None,
        rollback=guard,
        delay=labels.delay,
        ttl=labels.ttl,
        expiry=labels.expiry,
        default_label=labels.default_label,
        label_bounds=labels.bounds,
        join=join,
        registry=registry,
        checkpoint_every=config.checkpoint.every_events,
        checkpoint_seconds=config.checkpoint.every_seconds,
        window=config.output.window,
        keep_versions=config.checkpoint.keep,
        resumable_versions=config.checkpoint.resumable,
        predictions=predictions,
        dead_letters=config.output.dead_letters,
        micro_batch=config.output.micro_batch,
        mixer=_mixer(config),
        **options,
    )


def _mixer(config: RunConfig) -> ParameterMixer | None:
    scale = config.scale
    if scale is None:
        return None
    return ParameterMixer(
        _redis(config),
        scale.group,
        scale.worker,
        scale.mix_every_events,
        scale.mix_every_seconds,
        scale.stale_after,
    )


def kafka_events(config: RunConfig) -> KafkaEvents:
    """The topics to read; a multiclass model's labels name classes."""
    from streamlearn.streams.kafka import KafkaEvents

    kafka = config.kafka
    settings = {"bootstrap.servers": kafka.bootstrap_servers, "group.id": kafka.group}
    return KafkaEvents(
        settings | kafka.settings,
        kafka.events_topic,
        kafka.labels_topic,
        kafka.dead_letters_topic,
        class_labels=_task(config) == "multiclass",
    )
