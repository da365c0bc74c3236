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
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)

from streamlearn.adaptation.policies import POLICIES
from streamlearn.base.classes import MAX_CLASSES
from streamlearn.drift import DETECTORS
from streamlearn.features.hasher import MAX_ABS_VALUE
from streamlearn.models.factory import MODEL_NAMES, check_optimizer
from streamlearn.runner.engine import EXPIRY_POLICIES
from streamlearn.streams.batch import MAX_ABS_LABEL


class ConfigError(ValueError):
    """A config that cannot run, with every problem named by its key."""


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
    "auto": {"task", "window", "eta", "seed", "max_classes"} | FEATURE_KEYS,
    "knn": {"task", "n_neighbors", "window_size", "feature_cap", "max_classes"}
    | FEATURE_KEYS - {"bits"},
    "amf": {"task", "n_models", "seed", "max_nodes", "step", "dirichlet", "feature_cap"}
    | {"max_classes", "use_aggregation", "split_pure"}
    | FEATURE_KEYS - {"bits"},
    "naive_bayes": {"task", "distribution", "alpha", "true_threshold", "feature_cap"}
    | {"max_classes"}
    | RAW_FEATURE_KEYS,
    "tree": {"task"} | TREE_KEYS | RAW_FEATURE_KEYS,
    "hat": {"task"} | (TREE_KEYS - REGRESSOR_KEYS) | HAT_KEYS | RAW_FEATURE_KEYS,
    "forest": {"task"} | TREE_KEYS | FOREST_KEYS | RAW_FEATURE_KEYS,
}


class ModelConfig(_Section):
    """``[model]``: the learner. Each ``kind`` reads its own keys (``KIND_KEYS``); any other
    key given is refused.

    Parameters
    ----------
    kind
        ``linear``, ``one_vs_rest``, ``hedge``, ``torch``, ``fraud``, ``bayesian``,
        ``bandit``, ``ranker``, ``mf``, ``tree``, ``forest``, ``hat``, ``amf``, ``knn``,
        ``naive_bayes``, ``auto``
        or ``river``.
    task, optimizer
        A linear, Hedge or torch model's task (``auto``: from the data) and a linear
        model's optimizer: its name or ``{name, **hyper-parameters}`` (one-vs-rest: each
        class's logistic regression's).
    intercept_lr, scale_target
        A linear model's intercept rate (one-vs-rest: each class's) and whether a linear
        regression learns its target standardized; unset, the learner's defaults.
    n_neighbors, window_size
        Nearest neighbours' count and the last events they are searched among (see
        :class:`~streamlearn.models.KNNClassifier`; ``feature_cap`` as for a tree).
    distribution, true_threshold
        Naive Bayes (``naive_bayes``, a classifier): ``gaussian`` numbers
        (:class:`~streamlearn.models.GaussianNB`), ``multinomial`` counts or ``bernoulli``
        present-or-not features (above ``true_threshold``), both smoothed by ``alpha``;
        ``feature_cap`` as for a tree.
    max_nodes, step, dirichlet
        An Aggregated Mondrian Forest's nodes per tree, aggregation step and prior (see
        :class:`~streamlearn.models.AMFClassifier`; ``n_models``, ``seed``,
        ``feature_cap`` as for a forest). It classifies, or regresses (``dirichlet`` is a
        classifier's; see :class:`~streamlearn.models.AMFRegressor`).
    use_aggregation, split_pure
        An AMF's aggregation of its nodes' predictions, and (classifier) whether a node of
        one class still splits; ``standardize``: whether a regressor scales its inputs.
    window
        An ``auto`` model's memory of its members' losses, in events (``eta``: how
        sharply its mix follows them; see :class:`~streamlearn.models.AutoClassifier`;
        ``seed`` seeds its forest). Unset, the learner's defaults.
    members, eta, discount
        A Hedge ensemble's members (linear models of the task, one per optimizer name or
        ``{name, **hyper-parameters}``), how sharply its weights follow losses and how
        fast old losses fade (see :class:`~streamlearn.models.HedgeClassifier`).
    batch_size, epochs, lr
        A torch network's mini-batch, passes per mini-batch and Adam's learning rate
        (``seed`` seeds its weights; ``pip install 'streamlearn[torch]'``).
    network, hidden, device, freeze_base_for, base_lr_scale
        A torch network: ``mlp`` or ``warm_mlp`` (a linear base and an MLP head), its hidden
        layers' widths, where it runs, and (``warm_mlp``) how many updates its base waits
        and its share of the learning rate (see
        :class:`~streamlearn.models.neural.TorchClassifier`).
    entity, time, amount, half_lives, prior, weight, min_frauds, rule_z, fp_budget, intercept_lr
        The fraud detector's columns, entity store, cold-start rule, false-positive budget
        and intercept rate (see :class:`~streamlearn.models.FraudDetector`; its optimizer
        and ``bits`` default to its own, ``sgd`` and 18).
    max_classes
        A multiclass model's classes at most (1000): a label that would be one more is a
        dead letter.
    bits, categorical, interactions, standardize, missing, max_value
        The featurizer (see :class:`~streamlearn.features.FeatureHasher`; a number beyond
        ±``max_value``, 1e12 by default, is absent).
    alpha, beta, forgetting, covariance, capacity
        The Bayesian regression's prior, noise, forgetting and covariance (the bandit's
        ridge ``alpha``, ``forgetting`` and ``capacity`` too).
    arms, rule, explore, arm_column
        A bandit's arms, rule, exploration and logged-arm column.
    draws, seed
        A bandit's draws per propensity (``thompson``) and random seed.
    shared, arm_features
        A hybrid LinUCB (:class:`~streamlearn.models.HybridLinUCB`): the names of the arm
        features all arms share, and each arm's (arm → name → number). Its rule is UCB.
    tasks, weights, defaults
        A ranker's tasks, their weights in its score and their labels when no feedback came.
    n_factors, lr_bias, lr_latent, l2_bias, l2_latent, init_std, seed, user_key, item_key
        A factorization's settings (see :class:`~streamlearn.models.BiasedMF`).
    implicit, negatives
        Implicit feedback (``kind = "mf"``): a :class:`~streamlearn.models.BPRMF` ranks
        each interaction (a label above 0) above ``negatives`` sampled items.
    grace_period, delta, tau, leaf_prediction, max_depth, max_leaves, feature_cap
        A Hoeffding tree's (``tree``) or each tree of an adaptive random forest's
        (``forest``): see :class:`~streamlearn.models.HoeffdingTreeClassifier`; unset
        ``grace_period`` and ``delta`` take the learner's defaults (200 and 1e-7 for a
        tree, 50 and 0.01 for a forest's trees). Trees classify (any number of classes;
        ``leaf_prediction`` ``mc``, ``nb`` or ``nba``) unless ``task = "regression"``
        (or the data say so): then see :class:`~streamlearn.models.HoeffdingTreeRegressor`
        (``leaf_prediction`` ``mean``, ``model`` or ``adaptive``).
    n_splits, min_branch_fraction
        A classifying tree's split candidates per number and the least share of a branch.
    n_bins, bin_width, min_samples_split, learning_rate, model_selector_decay
        A regression tree's histogram (bins and their first width), the events a leaf needs
        to split, and its linear leaves' rate and model selector (see
        :class:`~streamlearn.models.HoeffdingTreeRegressor`). Given to a model of the other
        task, either kind of key is refused.
    n_models, max_features, lambda_value, warning_delta, drift_delta, weighted_vote
        A forest's trees, features per leaf (``"sqrt"``, ``"log2"``, a count or a
        fraction), Poisson rate of its online bagging and its detectors' confidences (see
        :class:`~streamlearn.models.AdaptiveRandomForestClassifier`; ``seed`` seeds it;
        a classifying forest's votes are weighted by its trees' accuracy unless
        ``weighted_vote = false``).
    bootstrap_sampling, drift_window_threshold, switch_significance
        A Hoeffding Adaptive Tree's (``hat``, with the tree's keys, ``drift_delta`` and
        ``seed``): see :class:`~streamlearn.models.HoeffdingAdaptiveTreeClassifier`.
    river, allow_pickle
        A River estimator (``"module.Class | module.Class"``) and the consent to its
        pickled checkpoints.
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
    task: Literal["auto", "binary", "multiclass", "regression"] = "auto"
    # A name, or a table with the name and hyper-parameters: {name = "ftrl", alpha = 0.1}
    optimizer: Literal[MODEL_NAMES] | dict[str, StrictStr | float] = "ftrl"  # type: ignore[valid-type]
    bits: int = Field(20, ge=1, le=30)
    categorical: list[str] = []
    interactions: list[list[str]] | Literal["all"] = []
    standardize: StrictBool = True
    missing: StrictBool = True
    max_value: float = Field(MAX_ABS_VALUE, gt=0, allow_inf_nan=False)
    # kind = "bayesian" (BayesianLinearRegression) and "bandit" (LinearBandit)
    alpha: float = Field(1.0, gt=0)
    beta: float = Field(1.0, gt=0)
    forgetting: float = Field(1.0, gt=0, le=1)
    covariance: Literal["full", "diagonal"] = "full"
    capacity: int = Field(64, ge=1, le=4096)
    max_classes: int = Field(MAX_CLASSES, ge=2, le=100_000)
    arms: list[StrictStr | StrictInt] = []
    rule: Literal["greedy", "ucb", "thompson", "softmax"] = "ucb"
    explore: float | None = Field(None, ge=0)
    arm_column: str = "arm"
    draws: int = Field(100, ge=1, le=100_000)  # Thompson sampling's draws per propensity
    # A hybrid LinUCB (HybridLinUCB): the arms' features shared by all, and each arm's
    shared: list[str] = []
    arm_features: dict[str, dict[str, float]] = {}
    # kind = "ranker" (EngagementRanker): task → binary|regression, its score weight, and
    # its label when the feedback window (labels.ttl) closes without feedback for it
    tasks: dict[str, Literal["binary", "regression"]] = {}
    weights: dict[str, float] = {}
    defaults: dict[str, float] = {}
    # kind = "mf" (BiasedMF: ratings, or 1 for a click, of user × item events)
    n_factors: int = Field(10, ge=1, le=1024)
    lr_bias: float = Field(0.05, ge=0)
    lr_latent: float = Field(0.1, ge=0)
    l2_bias: float = Field(0.0, ge=0)
    l2_latent: float = Field(0.0, ge=0)
    init_std: float = Field(0.1, ge=0)
    seed: int = 0
    user_key: str = "user"
    item_key: str = "item"
    implicit: StrictBool = False  # BPRMF: interactions (label > 0) ranked above sampled items
    negatives: int = Field(1, ge=1, le=1000)
    # kind = "hedge": linear members (an optimizer each) mixed by their discounted losses
    members: list[Literal[MODEL_NAMES] | dict[str, StrictStr | float]] = []  # type: ignore[valid-type]
    eta: float = Field(1.0, gt=0)
    discount: float = Field(0.999, gt=0, le=1)
    # kind = "torch": a feed-forward network trained on mini-batches
    batch_size: int = Field(32, ge=1, le=65536)
    epochs: int = Field(1, ge=1, le=100)
    lr: float = Field(0.001, gt=0)
    network: Literal["mlp", "warm_mlp"] = "mlp"  # warm_mlp: a linear base plus an MLP head
    hidden: list[Annotated[int, Field(ge=1, le=4096)]] = Field([32], max_length=8)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    freeze_base_for: int = Field(0, ge=0)  # warm_mlp: updates before its base learns
    base_lr_scale: float = Field(0.1, ge=0, allow_inf_nan=False)
    # kind = "fraud": entity features, a cold-start rule, a logistic model, an FP budget
    entity: str = "entity"
    time: str = "Time"
    amount: str = "Amount"
    half_lives: list[float] = Field([3600.0, 86400.0], min_length=1, max_length=8)
    prior: float = Field(0.002, gt=0, lt=1)
    weight: float = Field(20.0, ge=0)
    min_frauds: int = Field(5, ge=0)
    rule_z: float = Field(3.0, gt=0)
    fp_budget: float = Field(0.005, gt=0, lt=1)
    intercept_lr: float = Field(0.1, ge=0, allow_inf_nan=False)  # unset: the learner's own
    scale_target: StrictBool = True  # a linear regression learns the target standardized
    # kind = "tree" (HoeffdingTreeClassifier or -Regressor), "forest" (AdaptiveRandomForest…)
    grace_period: float | None = Field(None, gt=0)  # None: the learner's default
    delta: float | None = Field(None, gt=0, lt=1)
    tau: float = Field(0.05, ge=0)
    leaf_prediction: Literal["mc", "nb", "nba", "mean", "model", "adaptive"] = "nba"
    max_depth: int | None = Field(None, ge=1)
    max_leaves: int = Field(1000, ge=1, le=1_000_000)
    feature_cap: int = Field(256, ge=1, le=1 << 20)
    n_models: int = Field(10, ge=1, le=1000)
    max_features: Literal["sqrt", "log2"] | StrictInt | float = "sqrt"
    lambda_value: float = Field(6.0, gt=0)
    warning_delta: float = Field(0.01, gt=0, lt=1)
    drift_delta: float = Field(0.001, gt=0, lt=1)
    weighted_vote: StrictBool = True
    # A classifier tree's split candidates per number, and the least share of a branch
    n_splits: int = Field(10, ge=1, le=1024)
    min_branch_fraction: float = Field(0.01, ge=0, lt=0.5)
    # A regression tree's histogram bins, their first width, its linear leaves' settings
    n_bins: int = Field(32, ge=2, le=4096)
    bin_width: float = Field(0.1, gt=0, allow_inf_nan=False)
    min_samples_split: int = Field(5, ge=1)
    learning_rate: float = Field(0.01, gt=0, allow_inf_nan=False)
    model_selector_decay: float = Field(0.95, gt=0, le=1)
    # kind = "hat" (HoeffdingAdaptiveTreeClassifier): its tree's keys, and its alternates'
    bootstrap_sampling: StrictBool = True
    drift_window_threshold: int = Field(300, ge=0)
    switch_significance: float = Field(0.05, gt=0, lt=1)
    # kind = "knn" (KNNClassifier, KNNRegressor): neighbours, and the window searched
    n_neighbors: int = Field(5, ge=1, le=1000)
    window_size: int = Field(1000, ge=1, le=1_000_000)
    # kind = "naive_bayes" (GaussianNB, MultinomialNB, BernoulliNB; alpha: their smoothing)
    distribution: Literal["gaussian", "multinomial", "bernoulli"] = "gaussian"
    true_threshold: float = Field(0.0, allow_inf_nan=False)
    # kind = "amf" (AMFClassifier, AMFRegressor): nodes per tree, aggregation step, prior
    max_nodes: int = Field(50_000, ge=3, le=10_000_000)
    step: float = Field(1.0, gt=0)
    dirichlet: float = Field(0.5, gt=0)
    use_aggregation: StrictBool = True
    split_pure: StrictBool = False
    # kind = "auto" (AutoClassifier, -Multiclass, -Regressor): linear and forest, the better
    window: float | None = Field(None, ge=1)  # None: the learner's default
    # kind = "river": any River estimator, as "module.Class | module.Class"
    river: str | None = None
    allow_pickle: StrictBool = False  # River models checkpoint as pickles: say yes explicitly

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
