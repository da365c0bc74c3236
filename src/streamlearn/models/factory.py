"""The learner a task gets by default, and by optimizer name (what ``--model`` picks).

>>> from streamlearn.models.factory import make_learner
>>> make_learner("binary", "sgd").optimizer.name
'sgd'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, replace
from typing import Any

from streamlearn import models
from streamlearn.base import Learner
from streamlearn.base.classes import MAX_CLASSES
from streamlearn.models.linear import (
    SGD,
    AdaGrad,
    LinearModel,
    LinearRegression,
    LogisticRegression,
    SoftmaxRegression,
)
from streamlearn.models.linear.optimizers import Optimizer, make_optimizer

DEFAULT_OPTIMIZER = "ftrl"

# Defaults chosen on the streams of bench/bench_defaults.py (real and generated); "ftrl" is
# each learner's own default.
_CLASSES: dict[str, type[LinearModel]] = {
    "binary": LogisticRegression,
    "multiclass": SoftmaxRegression,
    "regression": LinearRegression,
}
_OPTIMIZERS: dict[str, dict[str, Optimizer]] = {
    "binary": {"sgd": SGD(), "adagrad": AdaGrad()},
    "multiclass": {"sgd": SGD(), "adagrad": AdaGrad(lr=0.3)},
    "regression": {"sgd": SGD(lr=0.01), "adagrad": AdaGrad(lr=0.3)},
}
MODEL_NAMES = ("ftrl", "sgd", "adagrad")
TREE_NAMES = ("tree", "forest")  # classify any number of classes, or regress
LEARNER_NAMES = (*MODEL_NAMES, *TREE_NAMES, "hat", "amf", "knn", "auto")
# The learners other than linear ones are loaded when asked for (see streamlearn.models).
_AUTO = {"binary": "AutoClassifier", "multiclass": "AutoMulticlass", "regression": "AutoRegressor"}


def check_optimizer(spec: Mapping[str, Any]) -> Optimizer:
    """The optimizer ``{"name": …, **hyper-parameters}`` describes; a clear error names an
    unknown name or a hyper-parameter it does not take."""
    name = spec.get("name")
    if name not in MODEL_NAMES:
        raise ValueError(f"optimizer.name: one of {', '.join(MODEL_NAMES)}, got {name!r}")
    kind = type(make_optimizer(name))
    unknown = sorted(set(spec) - {"name"} - {f.name for f in fields(kind)})
    if unknown:
        takes = ", ".join(f.name for f in fields(kind))
        raise ValueError(f"optimizer: {name} takes {takes}; not {', '.join(unknown)}")
    return make_optimizer(dict(spec))


def make_learner(
    task: str, model: str | Mapping[str, Any] = DEFAULT_OPTIMIZER, **features: Any
) -> Learner:
    """A linear learner for ``task`` (binary, multiclass, regression) and optimizer: its
    name, or its name and the hyper-parameters to change (``{"name": "sgd", "lr": 0.1}``;
    the others keep the task's defaults). ``"tree"`` and ``"forest"`` name a Hoeffding tree
    and an adaptive random forest, which classify (binary labels are two classes) or
    regress; ``"hat"`` a Hoeffding Adaptive Tree and ``"amf"`` an Aggregated Mondrian
    Forest (which do both too), ``"knn"`` nearest
    neighbours over a sliding window; ``"auto"`` both
    the linear default and a forest, serving the better (see :mod:`streamlearn.models.auto`).
    """
    if task not in _CLASSES:
        raise ValueError(f"unknown task {task!r}; expected one of {sorted(_CLASSES)}")
    if model in TREE_NAMES:
        return _tree(task, model, features)
    if model == "auto":
        return auto_learner(task, features)
    if model == "amf":
        return amf_learner(task, features)
    if model == "hat":
        return hat_learner(task, features)
    if model == "knn":
        return knn_learner(task, features)
    spec = {"name": model} if isinstance(model, str) else dict(model)
    if spec.get("name") not in MODEL_NAMES:
        raise ValueError(f"unknown model {spec.get('name')!r}; expected one of {list(MODEL_NAMES)}")
    cls = _CLASSES[task]
    default = _OPTIMIZERS[task].get(spec["name"], cls.default_optimizer)
    check_optimizer(spec)
    changes = {k: v for k, v in spec.items() if k != "name"}
    return cls(optimizer=replace(default, **changes), **features)


def _tree(task: str, name: str, features: Mapping[str, Any], **settings: Any) -> Learner:
    hashing = dict(features.get("features", features))
    hashing.pop("bits", None)  # trees tell whole hashes apart
    max_classes = features.get("max_classes", hashing.pop("max_classes", MAX_CLASSES))
    if task == "regression":
        return tree_learner(name, task)(features=hashing, **settings)
    hashing.pop("standardize", None)  # a classifier splits on raw numbers
    return tree_learner(name, task)(max_classes=max_classes, features=hashing, **settings)


def amf_learner(task: str, features: Mapping[str, Any], **settings: Any) -> Learner:
    """An Aggregated Mondrian Forest: a classifier (binary labels are two classes) or a
    regressor."""
    if task == "regression":
        if "dirichlet" in settings:
            raise ValueError("dirichlet: a setting of a Mondrian classifier, not a regressor")
        return models.AMFRegressor(features=_regressor_hashing(features), **settings)
    name = "an Aggregated Mondrian Forest"
    return _tree_classifier(models.AMFClassifier, name, task, features, settings)


def _regressor_hashing(features: Mapping[str, Any]) -> dict[str, Any]:
    """The featurizer settings of a tree regressor: whole hashes, no classes."""
    hashing = dict(features.get("features", features))
    for key in ("bits", "max_classes"):
        hashing.pop(key, None)
    return hashing


def hat_learner(task: str, features: Mapping[str, Any], **settings: Any) -> Learner:
    """A Hoeffding Adaptive Tree: a classifier (binary labels are two classes) or a
    regressor."""
    if task == "regression":
        hashing = _regressor_hashing(features)
        return models.HoeffdingAdaptiveTreeRegressor(features=hashing, **settings)
    kind = models.HoeffdingAdaptiveTreeClassifier
    return _tree_classifier(kind, "a Hoeffding Adaptive Tree", task, features, settings)


def _tree_classifier(
    kind: type[Learner], name: str, task: str, features: Mapping[str, Any], settings: Mapping
) -> Learner:
    """A learner that only classifies, on raw numbers (trees need no scaling)."""
    if task == "regression":
        raise ValueError(f"{name} classifies: choose tree or forest")
    hashing = dict(features.get("features", features))
    hashing.pop("bits", None)
    hashing.pop("standardize", None)
    max_classes = features.get("max_classes", hashing.pop("max_classes", MAX_CLASSES))
    return kind(max_classes=max_classes, features=hashing, **settings)


def knn_learner(task: str, features: Mapping[str, Any], **settings: Any) -> Learner:
    """k-nearest neighbours over a sliding window: a classifier (binary labels are two
    classes) or a regressor."""
    hashing = dict(features.get("features", features))
    hashing.pop("bits", None)
    if task == "regression":
        hashing.pop("max_classes", None)
        return models.KNNRegressor(features=hashing, **settings)
    max_classes = features.get("max_classes", hashing.pop("max_classes", MAX_CLASSES))
    return models.KNNClassifier(max_classes=max_classes, features=hashing, **settings)


def auto_learner(task: str, features: Mapping[str, Any], **settings: Any) -> Learner:
    """The auto learner of ``task``: the task's linear default on ``features``, a forest,
    an Aggregated Mondrian Forest and nearest neighbours (``settings``: ``window``,
    ``eta``, ``pool_rate``, ``seed``)."""
    seed = settings.get("seed", 0)
    members = {
        "linear": make_learner(task, DEFAULT_OPTIMIZER, **features),
        "forest": _tree(task, "forest", features, seed=seed),
        "mondrian": amf_learner(task, features, seed=seed, **_standardized(task)),
        "neighbors": knn_learner(task, features),
    }
    if task == "multiclass":
        settings = {"max_classes": members["forest"].max_classes, **settings}
    return getattr(models, _AUTO[task])(**members, **settings)


def _standardized(task: str) -> dict[str, Any]:
    """A Mondrian regressor splits standardized numbers (its distances need one scale)."""
    return {"standardize": True} if task == "regression" else {}


def tree_learner(name: str, task: str) -> type[Learner]:
    """The tree learner ``name`` (``"tree"`` or ``"forest"``) for ``task``."""
    if task == "regression":
        if name == "forest":
            return models.AdaptiveRandomForestRegressor
        return models.HoeffdingTreeRegressor
    if name == "tree":
        return models.HoeffdingTreeClassifier
    return models.AdaptiveRandomForestClassifier
