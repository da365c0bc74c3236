"""Mini-batch neural networks on PyTorch (optional: ``pip install streamlearn[torch]``).

Events are hashed as for the linear learners and fed to the network as a dense vector of
``2**bits`` inputs. Labelled events collect in a buffer; every ``batch_size`` of them the
network takes ``epochs`` optimizer steps on the buffer. Every event is predicted (eval mode,
no gradients) before it is learned, by the weights of the last update before it. Batch and
one-event calls follow the same schedule; their predictions agree to float32 rounding
(a batched forward pass may round differently from a one-row one).

The network comes from a factory named by import path (``"package.module:function"``,
called with ``inputs``, ``outputs`` and ``factory_args``), so that a snapshot — tensors and
JSON, never pickle — can rebuild it. Warm start: a network with ``base`` and ``head``
sub-modules (see :func:`warm_mlp`) trains only its head for the first ``freeze_base_for``
updates, then the base too, at ``base_lr_scale`` times the rate; :meth:`TorchLearner.rebase`
swaps in a newly batch-trained base and keeps the online head.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from typing import Any, Self

import numpy as np

from streamlearn.base import Classifier, Learner, Regressor, State, register
from streamlearn.base.extras import require
from streamlearn.features.columns import as_columns, n_rows
from streamlearn.features.hasher import FeatureHasher
from streamlearn.models.evented import EventByEvent
from streamlearn.models.hashed import HashedModel
from streamlearn.models.linear.base import regression_target, target_array

DEFAULT_FACTORY = "streamlearn.models.neural:mlp"


def _torch():
    return require("torch", "torch")


def mlp(inputs: int, outputs: int = 1, hidden: Iterable[int] = (32,)) -> Any:
    """A plain multi-layer perceptron (ReLU)."""
    nn = _torch().nn
    layers, width = [], inputs
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    return nn.Sequential(*layers, nn.Linear(width, outputs))


def warm_mlp(inputs: int, outputs: int = 1, hidden: Iterable[int] = (32,)) -> Any:
    """A linear ``base`` (to warm-start from a batch-trained linear model) plus an MLP
    ``head`` that learns what the base misses: output = base(x) + head(x)."""
    nn = _torch().nn

    class WarmNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.base = nn.Linear(inputs, outputs)
            self.head = mlp(inputs, outputs, hidden)
            nn.init.zeros_(self.head[-1].weight)  # the head starts silent: base alone
            nn.init.zeros_(self.head[-1].bias)

        def forward(self, x):
            return self.base(x) + self.head(x)

    return WarmNet()


# The factories a network may be built by. A snapshot names its factory, and a snapshot may
# come from anyone who can write to the registry: only these, and those a program allows
# (allow_factory), are ever imported.
_ALLOWED_FACTORIES = {DEFAULT_FACTORY, "streamlearn.models.neural:warm_mlp"}


def allow_factory(path: str) -> None:
    """Let networks be built by ``path`` (``package.module:function``), from code or from a
    snapshot that names it."""
    _ALLOWED_FACTORIES.add(path)


def _factory(path: str):
    if path not in _ALLOWED_FACTORIES:
        raise ValueError(
            f"network factory {path!r} is not allowed: a snapshot cannot choose code to run "
            "(allow it first: streamlearn.models.neural.allow_factory)"
        )
    module, _, name = path.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise ValueError(f"no network factory {path!r} (write package.module:function)") from None


class _Neural(EventByEvent, HashedModel):
    """What the classifier and the regressor share (see the module doc); the runner's
    schedules run event by event."""

    def __init__(
        self,
        factory: str = DEFAULT_FACTORY,
        factory_args: Mapping[str, Any] | None = None,
        batch_size: int = 32,
        epochs: int = 1,
        lr: float = 0.001,
        device: str = "auto",
        seed: int = 0,
        freeze_base_for: int = 0,
        base_lr_scale: float = 0.1,
        *,
        features: FeatureHasher | Mapping[str, Any] | None = None,
        **feature_settings: Any,
    ) -> None:
        torch = _torch()
        # The hashing seed stays 0 (the linear learners' default) whatever ``seed`` is, so
        # that a linear model can warm-start the network; ``seed`` seeds the weights. Inputs
        # are dense: 2**10 by default.
        super().__init__(features, feature_settings, bits=10)
        if self.features.bits > 16 or batch_size < 1 or epochs < 1 or not lr > 0:
            raise ValueError("need bits <= 16, batch_size >= 1, epochs >= 1 and lr > 0")
        self.factory, self.factory_args = factory, dict(factory_args or {})
        self.batch_size, self.epochs, self.lr, self.seed = batch_size, epochs, float(lr), seed
        self.freeze_base_for, self.base_lr_scale = int(freeze_base_for), float(base_lr_scale)
        self.device_name = device
        self.device = torch.device(
            "cuda"
            if device == "auto" and torch.cuda.is_available()
            else ("cpu" if device == "auto" else device)
        )
        torch.manual_seed(seed)
        self.net = _factory(factory)(inputs=self.features.size, outputs=1, **self.factory_args).to(
            self.device
        )
        self.optimizer = torch.optim.Adam(self._groups(), lr=self.lr)
        self.buffer_x = np.zeros((0, self.features.size), np.float32)
        self.buffer_y = np.zeros(0, np.float32)
        self.updates = 0

    def _groups(self) -> list[dict[str, Any]]:
        base = getattr(self.net, "base", None)
        if base is None:
            return [{"params": list(self.net.parameters()), "lr": self.lr}]
        head = [p for name, p in self.net.named_parameters() if not name.startswith("base.")]
        slow = self.lr * self.base_lr_scale
        return [{"params": head, "lr": self.lr}, {"params": list(base.parameters()), "lr": slow}]

    def params(self) -> dict[str, Any]:
        return {
            "factory": self.factory,
            "factory_args": self.factory_args,
            "batch_size": self.batch_size,
            "epochs": self.epochs,
            "lr": self.lr,
            "device": self.device_name,
            "seed": self.seed,
            "freeze_base_for": self.freeze_base_for,
            "base_lr_scale": self.base_lr_scale,
            "features": self.features.params(),
        }

    # ------------------------------------------------------------------ state
    def state(self) -> State:
        arrays, meta = self.features.state()
        for name, tensor in self.net.state_dict().items():
            arrays[f"net/{name}"] = tensor.detach().cpu().numpy().copy()
        for k, group in enumerate(self.optimizer.state_dict()["state"].values()):
            for key, value in group.items():
                arrays[f"adam/{k}/{key}"] = np.asarray(
                    value.cpu().numpy() if hasattr(value, "cpu") else value, dtype=np.float64
                ).copy()
        arrays |= {
            "buffer_x": self.buffer_x.copy(),
            "buffer_y": self.buffer_y.copy(),
            "updates": np.array([self.updates], np.int64),
        }
        return State(type(self).__name__, self.params(), arrays, meta)

    @classmethod
    def from_state(cls, state: State) -> Self:
        torch = _torch()
        if state.kind != cls.__name__:
            raise ValueError(f"state of a {state.kind} cannot make a {cls.__name__}")
        model = cls(**state.params)
        model.features.load_state(state.arrays, state.meta)
        weights = {
            k[4:]: torch.from_numpy(np.array(v))
            for k, v in state.arrays.items()
            if k.startswith("net/")
        }
        model.net.load_state_dict(weights)
        model.updates = int(state.arrays["updates"][0])
        model.buffer_x = np.asarray(state.arrays["buffer_x"], np.float32).copy()
        model.buffer_y = np.asarray(state.arrays["buffer_y"], np.float32).copy()
        model._load_adam(state.arrays)
        return model

    def _load_adam(self, arrays: Mapping[str, np.ndarray]) -> None:
        torch = _torch()
        saved = self.optimizer.state_dict()
        params = [p for group in saved["param_groups"] for p in group["params"]]
        restored = {}
        for k, param in enumerate(params):
            keys = {
                key[len(f"adam/{k}/") :]: value
                for key, value in arrays.items()
                if key.startswith(f"adam/{k}/")
            }
            if keys:
                restored[param] = {
                    name: torch.tensor(value, dtype=torch.float32).to(self.device)
                    if name != "step"
                    else torch.tensor(float(value))
                    for name, value in keys.items()
                }
        self.optimizer.load_state_dict({"state": restored, "param_groups": saved["param_groups"]})

    # ------------------------------------------------------------------ the loop
    def _dense(self, hashes: np.ndarray, values: np.ndarray) -> np.ndarray:
        out = np.zeros((len(hashes), self.features.size), np.float32)
        rows = np.repeat(np.arange(len(hashes)), hashes.shape[1])
        np.add.at(out, (rows, (hashes & (self.features.size - 1)).ravel()), values.ravel())
        return out

    def _forward(self, dense: np.ndarray) -> np.ndarray:
        torch = _torch()
        self.net.eval()
        with torch.no_grad():
            raw = self.net(torch.from_numpy(dense).to(self.device)).reshape(-1)
            return self._output(raw).double().cpu().numpy()

    def _update(self) -> None:
        torch = _torch()
        base = getattr(self.net, "base", None)
        if base is not None:
            for p in base.parameters():
                p.requires_grad_(self.updates >= self.freeze_base_for)
        self.net.train()
        x = torch.from_numpy(self.buffer_x).to(self.device)
        y = torch.from_numpy(self.buffer_y).to(self.device)
        for _ in range(self.epochs):
            self.optimizer.zero_grad()
            loss = self._loss(self.net(x).reshape(-1), y)
            if not torch.isfinite(loss):  # a poisoned batch is skipped, never learned
                break
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), 10.0)
            self.optimizer.step()
        self.updates += 1
        self.buffer_x = self.buffer_x[:0]
        self.buffer_y = self.buffer_y[:0]

    def _run(self, hashes, values, targets, out, learn: bool) -> None:
        dense = self._dense(hashes, values)
        if not learn:
            out[:] = self._forward(dense)
            return
        start = 0
        while start < len(dense):  # predict up to the next update, then learn that part
            stop = min(len(dense), start + self.batch_size - len(self.buffer_y))
            out[start:stop] = self._forward(dense[start:stop])
            self.buffer_x = np.concatenate([self.buffer_x, dense[start:stop]])
            self.buffer_y = np.concatenate([self.buffer_y, targets[start:stop].astype(np.float32)])
            if len(self.buffer_y) >= self.batch_size:
                self._update()
            start = stop

    def _one(self, x: Mapping[str, Any], target: float | None) -> float:
        event = self._encode(x)
        out = np.empty(1)
        learn = target is not None
        self._run(
            event.hashes[None, :],
            event.values[None, :],
            np.array([target if learn else 0.0]),
            out,
            learn,
        )
        if learn:
            self.features.learn_one(event)
            self._cached = None
        return float(out[0])

    def inputs(self, X: Any) -> np.ndarray:
        """The network's input matrix for a batch (hashed, scaled as the model would now):
        what a batch model (scikit-learn, say) trains on before :meth:`rebase`."""
        columns = as_columns(X)
        n = n_rows(columns)
        out = np.empty((n, self.features.size), np.float32)
        for start, stop, hashes, values in self._encoded_chunks(columns, n, learn=False):
            out[start:stop] = self._dense(hashes, values)
        return out

    def rebase(self, source: Any) -> None:
        """A newly batch-trained base replaces the network's; the online head is kept. The
        source: an ``nn.Module`` shaped like the base, one of our linear learners (hashing
        as this network does), or a scikit-learn linear model (``coef_``, ``intercept_``)
        fitted on :meth:`inputs`."""
        torch = _torch()
        base = getattr(self.net, "base", None)
        if base is None:
            raise ValueError("this network has no base to rebase (use warm_mlp)")
        if hasattr(source, "coef_") and hasattr(source, "intercept_"):
            coef = np.asarray(source.coef_, np.float32).reshape(1, -1)
            if coef.shape[1] != self.features.size:
                raise ValueError(
                    f"the model has {coef.shape[1]} coefficients, the network "
                    f"{self.features.size} inputs: fit it on .inputs(X)"
                )
            intercept = np.asarray(source.intercept_, np.float32).reshape(-1)[:1]
            state = {"weight": torch.from_numpy(coef), "bias": torch.from_numpy(intercept)}
        elif isinstance(source, Learner):
            weights = np.asarray(source.weights(), np.float32)
            if len(weights) != self.features.size or source.features.seed != self.features.seed:
                raise ValueError("the linear model must hash as this network does (bits, seed)")
            state = {
                "weight": torch.from_numpy(weights[None, :]),
                "bias": torch.tensor([float(source.intercept[0])]),
            }
        else:
            state = source.state_dict()
        base.load_state_dict(state)

    def predict_many(self, X: Any) -> np.ndarray:
        columns = as_columns(X)
        n = n_rows(columns)
        out = np.empty(n)
        for start, stop, hashes, values in self._encoded_chunks(columns, n, learn=False):
            out[start:stop] = self._forward(self._dense(hashes, values))
        return out


@register
class TorchClassifier(_Neural, Classifier):
    """A mini-batch neural binary classifier (sigmoid output, log loss); how it learns: the
    module doc of :mod:`streamlearn.models.neural`.

    Parameters
    ----------
    factory, factory_args
        The network: ``"package.module:function"``, called with ``inputs``, ``outputs``
        and ``factory_args`` (default: a small MLP).
    batch_size, epochs, lr
        Labelled events per update, optimizer steps on each buffer, Adam's rate.
    device
        ``auto`` (CUDA when there is one), ``cpu`` or ``cuda``.
    seed
        Seeds the initial weights (the hashing seed stays 0, as for the linear learners,
        so that a linear model can warm-start the network).
    freeze_base_for, base_lr_scale
        Warm start: updates during which only the head trains, then the base's rate as a
        share of ``lr``.
    features, **feature_settings
        The featurizer (``2**10`` dense inputs by default, at most ``2**16``), or its
        settings one by one.

    Example
    -------
    >>> from streamlearn.datasets import elec2
    >>> import pyarrow.csv as pacsv
    >>> table = pacsv.read_csv(elec2.path())
    >>> net = TorchLearner("binary", bits=8, batch_size=64, lr=0.01, seed=0)
    >>> p = net.predict_learn_many(table.drop(["target"]), table["target"])
    >>> bool(((p >= 0.5) == table["target"].to_numpy())[-10_000:].mean() > 0.75)
    True
    """

    def _output(self, raw):
        return _torch().sigmoid(raw)

    def _loss(self, raw, y):
        return _torch().nn.functional.binary_cross_entropy_with_logits(raw, y)

    def _target_one(self, y: Any) -> float:
        if isinstance(y, bool | np.bool_) or y in (0, 1):
            return float(y)
        raise ValueError(f"a binary label must be 0/1 or a bool, got {y!r}")

    def _targets_many(self, y: Any, n: int) -> np.ndarray:
        targets = target_array(y, n)
        if not np.isin(targets, (0.0, 1.0)).all():
            raise ValueError("binary labels must be 0/1")
        return targets

    def predict_proba_one(self, x: Mapping[str, Any]) -> dict[bool, float]:
        p = self._one(x, None)
        return {False: 1.0 - p, True: p}

    def predict_proba_many(self, X: Any) -> np.ndarray:
        return self.predict_many(X)

    def learn_one(self, x: Mapping[str, Any], y: Any) -> None:
        self._one(x, self._target_one(y))


@register
class TorchRegressor(_Neural, Regressor):
    """A mini-batch neural regressor (squared error).

    Parameters
    ----------
    **options
        As for :class:`TorchClassifier` (``factory``, ``batch_size``, ``lr``, ``features``…).

    Example
    -------
    >>> from streamlearn.datasets import synth
    >>> from streamlearn.evaluate.metrics import MAE
    >>> table = synth.tabular_stream(20_000, columns="numeric", task="regression", seed=1)
    >>> net = TorchRegressor(bits=8, batch_size=64, lr=0.01, seed=0)
    >>> predicted = net.predict_learn_many(table.drop(["target"]), table["target"])
    >>> first, last = MAE(), MAE()
    >>> y = table["target"].to_numpy()
    >>> first.update_many(y[:2000], predicted[:2000])
    >>> last.update_many(y[-2000:], predicted[-2000:])
    >>> round(first.get(), 1), round(last.get(), 1)  # it learns as the events come
    (10.3, 1.0)
    """

    def _output(self, raw):
        return raw

    def _loss(self, raw, y):
        return _torch().nn.functional.mse_loss(raw, y)

    def _target_one(self, y: Any) -> float:
        return regression_target(y)

    def _targets_many(self, y: Any, n: int) -> np.ndarray:
        return target_array(y, n)

    def predict_one(self, x: Mapping[str, Any]) -> float:
        return self._one(x, None)

    def learn_one(self, x: Mapping[str, Any], y: Any) -> None:
        self._one(x, self._target_one(y))


def TorchLearner(task: str = "binary", **options: Any) -> _Neural:
    """A :class:`TorchClassifier` (``task="binary"``) or :class:`TorchRegressor`."""
    kinds = {"binary": TorchClassifier, "regression": TorchRegressor}
    if task not in kinds:
        raise ValueError(f"task must be one of {sorted(kinds)}, got {task!r}")
    return kinds[task](**options)
