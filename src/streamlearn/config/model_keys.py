"""The keys of ``[model]``, by family of learners: :class:`~streamlearn.config.schema.ModelConfig`
holds them all (a config stays one flat table), and each kind reads its own
(``KIND_KEYS``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from streamlearn.base.classes import MAX_CLASSES
from streamlearn.features.hasher import MAX_ABS_VALUE
from streamlearn.models.factory import MODEL_NAMES


class _Keys(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LinearKeys(_Keys):
    """A linear model's keys and the featurizer's (most kinds read these).

    Parameters
    ----------
    task, optimizer
        A linear, Hedge or torch model's task (``auto``: from the data) and a linear
        model's optimizer: its name or ``{name, **hyper-parameters}`` (one-vs-rest: each
        class's logistic regression's).
    intercept_lr, scale_target
        A linear model's intercept rate (one-vs-rest: each class's) and whether a linear
        regression learns its target standardized; unset, the learner's defaults.
    max_classes
        A multiclass model's classes at most (1000): a label that would be one more is a
        dead letter.
    bits, categorical, interactions, standardize, missing, max_value
        The featurizer (see :class:`~streamlearn.features.FeatureHasher`; a number beyond
        ±``max_value``, 1e12 by default, is absent).

    Example
    -------
    >>> LinearKeys(bits=18, categorical=["colour"]).bits
    18
    """

    task: Literal["auto", "binary", "multiclass", "regression"] = "auto"
    # A name, or a table with the name and hyper-parameters: {name = "ftrl", alpha = 0.1}
    optimizer: Literal[MODEL_NAMES] | dict[str, StrictStr | float] = "ftrl"  # type: ignore[valid-type]
    bits: int = Field(20, ge=1, le=30)
    categorical: list[str] = []
    interactions: list[list[str]] | Literal["all"] = []
    standardize: StrictBool = True
    missing: StrictBool = True
    max_value: float = Field(MAX_ABS_VALUE, gt=0, allow_inf_nan=False)
    max_classes: int = Field(MAX_CLASSES, ge=2, le=100_000)
    intercept_lr: float = Field(0.1, ge=0, allow_inf_nan=False)  # unset: the learner's own
    scale_target: StrictBool = True  # a linear regression learns the target standardized


class BanditKeys(_Keys):
    """The Bayesian regression's and the bandits' keys.

    Parameters
    ----------
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

    Example
    -------
    >>> BanditKeys(arms=["a", "b"], rule="thompson").draws
    100
    """

    alpha: float = Field(1.0, gt=0)
    beta: float = Field(1.0, gt=0)
    forgetting: float = Field(1.0, gt=0, le=1)
    covariance: Literal["full", "diagonal"] = "full"
    capacity: int = Field(64, ge=1, le=4096)
    arms: list[StrictStr | StrictInt] = []
    rule: Literal["greedy", "ucb", "thompson", "softmax"] = "ucb"
    explore: float | None = Field(None, ge=0)
    arm_column: str = "arm"
    draws: int = Field(100, ge=1, le=100_000)  # Thompson sampling's draws per propensity
    # A hybrid LinUCB (HybridLinUCB): the arms' features shared by all, and each arm's
    shared: list[str] = []
    arm_features: dict[str, dict[str, float]] = {}


class RankingKeys(_Keys):
    """A ranker's and a factorization's keys.

    Parameters
    ----------
    tasks, weights, defaults
        A ranker's tasks, their weights in its score and their labels when no feedback came.
    n_factors, lr_bias, lr_latent, l2_bias, l2_latent, init_std, seed, user_key, item_key
        A factorization's settings (see :class:`~streamlearn.models.BiasedMF`).
    implicit, negatives
        Implicit feedback (``kind = "mf"``): a :class:`~streamlearn.models.BPRMF` ranks
        each interaction (a label above 0) above ``negatives`` sampled items.

    Example
    -------
    >>> RankingKeys(tasks={"click": "binary"}).defaults
    {}
    """

    # its label when the feedback window (labels.ttl) closes without feedback for it
    tasks: dict[str, Literal["binary", "regression"]] = {}
    weights: dict[str, float] = {}
    defaults: dict[str, float] = {}
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


class EnsembleKeys(_Keys):
    """A Hedge ensemble's, a torch network's and the fraud detector's keys.

    Parameters
    ----------
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

    Example
    -------
    >>> EnsembleKeys(members=["sgd", "ftrl"]).discount
    0.999
    """

    members: list[Literal[MODEL_NAMES] | dict[str, StrictStr | float]] = []  # type: ignore[valid-type]
    eta: float = Field(1.0, gt=0)
    discount: float = Field(0.999, gt=0, le=1)
    batch_size: int = Field(32, ge=1, le=65536)
    epochs: int = Field(1, ge=1, le=100)
    lr: float = Field(0.001, gt=0)
    network: Literal["mlp", "warm_mlp"] = "mlp"  # warm_mlp: a linear base plus an MLP head
    hidden: list[Annotated[int, Field(ge=1, le=4096)]] = Field([32], max_length=8)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    freeze_base_for: int = Field(0, ge=0)  # warm_mlp: updates before its base learns
    base_lr_scale: float = Field(0.1, ge=0, allow_inf_nan=False)
    entity: str = "entity"
    time: str = "Time"
    amount: str = "Amount"
    half_lives: list[float] = Field([3600.0, 86400.0], min_length=1, max_length=8)
    prior: float = Field(0.002, gt=0, lt=1)
    weight: float = Field(20.0, ge=0)
    min_frauds: int = Field(5, ge=0)
    rule_z: float = Field(3.0, gt=0)
    fp_budget: float = Field(0.005, gt=0, lt=1)


class TreeKeys(_Keys):
    """The trees', forests', neighbours', naive Bayes', ``auto``'s and River's keys.

    Parameters
    ----------
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
    window, pool_rate
        An ``auto`` model's memory of its members' losses, in events (``eta``: how
        sharply its mix follows them; ``pool_rate``: the step of a classifier's pool
        weights; see :class:`~streamlearn.models.AutoClassifier`; ``seed`` seeds its
        forests). Unset, the learner's defaults.
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

    Example
    -------
    >>> TreeKeys(grace_period=50).max_leaves
    1000
    """

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
    bootstrap_sampling: StrictBool = True
    drift_window_threshold: int = Field(300, ge=0)
    switch_significance: float = Field(0.05, gt=0, lt=1)
    n_neighbors: int = Field(5, ge=1, le=1000)
    window_size: int = Field(1000, ge=1, le=1_000_000)
    distribution: Literal["gaussian", "multinomial", "bernoulli"] = "gaussian"
    true_threshold: float = Field(0.0, allow_inf_nan=False)
    max_nodes: int = Field(50_000, ge=3, le=10_000_000)
    step: float = Field(1.0, gt=0)
    dirichlet: float = Field(0.5, gt=0)
    use_aggregation: StrictBool = True
    split_pure: StrictBool = False
    window: float | None = Field(None, ge=1)  # None: the learner's default
    pool_rate: float = Field(0.05, gt=0, le=1, allow_inf_nan=False)
    river: str | None = None
    allow_pickle: StrictBool = False  # River models checkpoint as pickles: say yes explicitly
