"""A ``[model]`` section sets every hyper-parameter of the learner it names, and refuses a
key that is unknown, inapplicable (to the kind or to its task) or out of its bounds, naming
it."""

from __future__ import annotations

import inspect
import re

import pytest

from streamlearn.config.build import build_model
from streamlearn.config.schema import KIND_KEYS, ConfigError, load_config_text

# kind → the tasks to build it for, and the lines it needs
KINDS = {
    "linear": (("binary", "multiclass", "regression"), ""),
    "one_vs_rest": (("multiclass",), ""),
    "hedge": (("binary", "regression"), 'members = ["sgd", "ftrl"]'),
    "bayesian": (("regression",), ""),
    "bandit": (("bandit",), "arms = [1, 2]"),
    "ranker": (("ranking",), 'tasks = {click = "binary"}'),
    "mf": (("regression",), ""),
    "fraud": (("binary",), ""),
    "auto": (("binary", "multiclass", "regression"), ""),
    "knn": (("multiclass", "regression"), ""),
    "amf": (("multiclass", "regression"), ""),
    "tree": (("multiclass", "regression"), ""),
    "hat": (("multiclass",), ""),
    "forest": (("multiclass", "regression"), ""),
    "torch": (("binary", "regression"), ""),
    "naive_bayes": (("multiclass",), ""),
}
FIXED = ("bayesian", "bandit", "ranker", "mf", "fraud", "one_vs_rest")
# Constructor arguments that are not keys of their own, and why.
NOT_KEYS = {
    "features": "the featurizer: bits, categorical, interactions, ... (FEATURE_KEYS)",
    "feature_settings": "the same, one by one",
    "classifier": "one-vs-rest's binary model: optimizer, intercept_lr and the featurizer",
    "linear": "auto's linear member: the task's default optimizer and the featurizer",
    "forest": "auto's forest: its defaults, seeded by seed",
    "mondrian": "auto's Mondrian forest: its defaults, seeded by seed",
    "neighbors": "auto's nearest neighbours: their defaults",
    "factory": "network",
    "factory_args": "hidden",
    "members": "hedge's members: the members key",
    "defaults": "a ranker's defaults key (HashedModel's own defaults are the featurizer's)",
    "settings": "the featurizer's settings (HashedModel)",
    "n_roots": "a forest's trees, held in one set of arrays (n_models)",
}


def built(kind: str, task: str, lines: str = "") -> object:
    said = "" if kind in FIXED else f'task = "{task}"\n'
    model = [f'kind = "{kind}"', said.strip(), KINDS[kind][1], lines]
    return build_model(load_config_text("[model]\n" + "\n".join(line for line in model if line)))


def constructor_arguments(cls: type) -> set[str]:
    """Every argument a learner's constructor takes, through ``*args, **kwargs`` chains
    (``**feature_settings`` are the featurizer's: its keys are tested on their own)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if "__init__" not in klass.__dict__ or klass is object:
            continue
        parameters = inspect.signature(klass.__init__).parameters.values()
        names |= {p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
        passed_on = [p for p in parameters if p.kind == p.VAR_KEYWORD]
        if not passed_on or passed_on[0].name == "feature_settings":
            break
    return names - {"self"}


CASES = [(kind, task, "") for kind, (tasks, _) in KINDS.items() for task in tasks]
CASES += [
    ("naive_bayes", "multiclass", f'distribution = "{d}"') for d in ("multinomial", "bernoulli")
]
CASES += [("bandit", "bandit", 'shared = ["p"]')]


@pytest.mark.parametrize(
    ("kind", "task", "lines"), CASES, ids=[f"{k}-{t}-{x}" for k, t, x in CASES]
)
def test_every_constructor_argument_of_every_kind_is_a_key(kind, task, lines):
    if kind == "torch":
        pytest.importorskip("torch")  # CI installs it ('.[torch]')
    model = built(kind, task, lines)
    missing = constructor_arguments(type(model)) - KIND_KEYS[kind] - set(NOT_KEYS)
    assert not missing, f"{type(model).__name__} takes {sorted(missing)}: not settable"


SET = [
    ("linear", "binary", "intercept_lr = 0.5", lambda m: m.intercept_lr == 0.5),
    ("linear", "regression", "scale_target = false", lambda m: m.scale_target is False),
    ("one_vs_rest", "multiclass", "intercept_lr = 0.3", lambda m: m.prototype.intercept_lr == 0.3),
    ("bandit", "bandit", 'rule = "thompson"\ndraws = 7', lambda m: m.draws == 7),
    ("bandit", "bandit", "seed = 3", lambda m: m.seed == 3),
    (
        "bandit",
        "bandit",
        'shared = ["price"]\narm_features = {1 = {price = 2.0}}',
        lambda m: type(m).__name__ == "HybridLinUCB" and m.arm_features == {1: {"price": 2.0}},
    ),
    ("tree", "multiclass", "n_splits = 4\nmin_branch_fraction = 0.1", lambda m: m.n_splits == 4),
    (
        "tree",
        "regression",
        "n_bins = 8\nbin_width = 0.5\nmin_samples_split = 9\nlearning_rate = 0.1\n"
        "model_selector_decay = 0.5",
        lambda m: (m.n_bins, m.bin_width, m.min_samples_split) == (8, 0.5, 9),
    ),
    ("forest", "multiclass", "weighted_vote = false", lambda m: m.weighted_vote is False),
    ("forest", "regression", "n_bins = 8", lambda m: m.params()["n_bins"] == 8),
    ("hat", "multiclass", "n_splits = 3", lambda m: m.n_splits == 3),
    ("hat", "regression", "n_bins = 8\nseed = 4", lambda m: (m.n_bins, m.seed) == (8, 4)),
    (
        "naive_bayes",
        "multiclass",
        'distribution = "bernoulli"\nalpha = 0.5\ntrue_threshold = 0.2',
        lambda m: type(m).__name__ == "BernoulliNB" and (m.alpha, m.true_threshold) == (0.5, 0.2),
    ),
    ("naive_bayes", "multiclass", "feature_cap = 9", lambda m: m.feature_cap == 9),
    ("amf", "multiclass", "split_pure = true", lambda m: m.split_pure is True),
    ("auto", "binary", "pool_rate = 0.2\nseed = 3", lambda m: (m.pool_rate, m.seed) == (0.2, 3)),
    ("auto", "regression", "seed = 3", lambda m: m.mondrian.standardize and m.forest.seed == 3),
    (
        "amf",
        "regression",
        "standardize = true\nuse_aggregation = false",
        lambda m: (m.standardize, m.use_aggregation) == (True, False),
    ),
]


@pytest.mark.parametrize(("kind", "task", "lines", "holds"), SET, ids=[c[2] for c in SET])
def test_each_key_reaches_its_learner(kind, task, lines, holds):
    assert holds(built(kind, task, lines))


def test_a_torch_network_is_set_from_its_keys():
    pytest.importorskip("torch")
    lines = 'network = "warm_mlp"\nhidden = [8, 4]\ndevice = "cpu"\nfreeze_base_for = 5'
    model = built("torch", "binary", lines + "\nbase_lr_scale = 0.5")
    assert model.factory == "streamlearn.models.neural:warm_mlp"
    assert model.factory_args == {"hidden": [8, 4]} and model.device_name == "cpu"
    assert (model.freeze_base_for, model.base_lr_scale) == (5, 0.5)
    widths = [layer.out_features for layer in model.net.head if hasattr(layer, "out_features")]
    assert widths == [8, 4, 1]


REFUSED = [
    ("mf", "regression", 'implicit = "yes"', "model.implicit: Input should be a valid boolean"),
    ("mf", "regression", "implicit = true\nnegatives = 0", "model.negatives: Input should be"),
    ("mf", "regression", "negatives = 3", "model.negatives: a setting of implicit feedback"),
    ("hat", "multiclass", 'bootstrap_sampling = "maybe"', "model.bootstrap_sampling: Input"),
    ("hat", "multiclass", "drift_window_threshold = -1", "model.drift_window_threshold: Input"),
    ("hat", "multiclass", "switch_significance = 2", "model.switch_significance: Input"),
    ("hat", "multiclass", "n_bins = 8", "model.n_bins: a setting of regressors"),
    ("hat", "regression", "n_splits = 4", "model.n_splits: a setting of classifiers"),
    ("tree", "regression", "n_splits = 4", "model.n_splits: a setting of classifiers"),
    ("tree", "multiclass", "learning_rate = 0.1", "model.learning_rate: a setting of regressors"),
    ("tree", "regression", "n_bins = 1", "model.n_bins: Input should be greater than"),
    ("tree", "regression", "bin_width = inf", "model.bin_width: Input should be a finite"),
    ("tree", "multiclass", "min_branch_fraction = 0.7", "model.min_branch_fraction: Input"),
    ("amf", "multiclass", "standardize = true", "model.standardize: a setting of regressors"),
    ("amf", "regression", "split_pure = true", "model.split_pure: a setting of classifiers"),
    ("auto", "regression", "pool_rate = 0.1", "model.pool_rate: a setting of classifiers"),
    ("auto", "binary", "pool_rate = 0", "model.pool_rate: Input should be greater than 0"),
    ("linear", "binary", "scale_target = false", "model.scale_target: a setting of regressors"),
    ("linear", "binary", "intercept_lr = nan", "model.intercept_lr: Input should be a finite"),
    ("bandit", "bandit", "draws = 0", "model.draws: Input should be greater than"),
    ("bandit", "bandit", 'shared = ["p"]\nalpha = 2.0', "model.alpha: not a setting of a hybrid"),
    ("bandit", "bandit", "arm_features = {9 = {p = 1.0}}", "model.arm_features: '9' is not one"),
    ("bandit", "bandit", 'arm_features = {1 = {p = "x"}}', "model.arm_features.1.p: Input"),
    ("torch", "binary", 'network = "os:system"', "model.network: Input should be 'mlp'"),
    ("torch", "binary", "hidden = [0]", "model.hidden.0: Input should be greater"),
    ("torch", "binary", f"hidden = {[4] * 9}", "model.hidden: List should have at most 8"),
    ("knn", "multiclass", "n_splits = 2", "model.n_splits: not a setting of a knn model"),
    ("naive_bayes", "multiclass", "alpha = 0.5", "model.alpha: not a setting of gaussian naive"),
    ("naive_bayes", "multiclass", 'distribution = "poisson"', "model.distribution: Input"),
    ("naive_bayes", "multiclass", "true_threshold = nan", "model.true_threshold: Input should"),
    ("naive_bayes", "regression", "", "model.kind: naive Bayes classifies"),
]


@pytest.mark.parametrize(("kind", "task", "lines", "message"), REFUSED, ids=[c[2] for c in REFUSED])
def test_a_bad_or_inapplicable_key_is_refused_naming_it(kind, task, lines, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        built(kind, task, lines)
