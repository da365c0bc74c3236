"""The mini-batch neural learner (PyTorch): the update schedule, snapshots without pickle,
warm start from a batch-trained linear model, freezing and rebasing."""

from __future__ import annotations

import numpy as np
import pyarrow.csv as pacsv
import pytest

torch = pytest.importorskip("torch")  # CI installs torch==2.13.0 ('.[torch]')

from streamlearn.base import load_state, save_state  # noqa: E402
from streamlearn.datasets import elec2  # noqa: E402
from streamlearn.models import LogisticRegression  # noqa: E402
from streamlearn.models.neural import TorchClassifier, TorchLearner, TorchRegressor  # noqa: E402
from tests.conftest import columns_of, messy_events  # noqa: E402


@pytest.fixture(scope="module")
def stream():
    table = pacsv.read_csv(elec2.path()).slice(0, 3000)
    return table.drop(["target"]), table["target"].to_numpy().astype(float)


def test_updates_every_batch_and_batches_match_one_event_calls(stream):
    X, y = stream
    many = TorchClassifier(bits=8, batch_size=50, lr=0.01, seed=1)
    one = TorchClassifier(bits=8, batch_size=50, lr=0.01, seed=1)
    batch = many.predict_learn_many(X, y)
    rows = X.to_pylist()
    single = []
    for x, target in zip(rows[:1000], y[:1000], strict=True):
        single.append(one.predict_proba_one(x)[True])
        one.learn_one(x, target)
    np.testing.assert_allclose(single, batch[:1000], rtol=1e-5, atol=1e-6)
    assert many.updates == 3000 // 50 and one.updates == 1000 // 50
    # Within a segment between updates the weights do not move.
    assert batch[0] == batch[0] and len(set(np.round(batch[:50], 12))) > 1


def test_snapshots_are_tensors_and_json_and_resume_exactly(stream, tmp_path):
    X, y = stream
    model = TorchRegressor(bits=8, batch_size=32, lr=0.01, seed=2)
    model.learn_many(X.slice(0, 1010), y[:1010])
    save_state(model.state(), tmp_path / "net.snapshot")
    assert b"pickle" not in (tmp_path / "net.snapshot").read_bytes()[:4096]
    restored = load_state(tmp_path / "net.snapshot").to_learner()
    assert len(restored.buffer_y) == 1010 % 32 and restored.updates == model.updates
    a = model.predict_learn_many(X.slice(1010, 490), y[1010:1500])
    b = restored.predict_learn_many(X.slice(1010, 490), y[1010:1500])
    np.testing.assert_array_equal(a, b)  # the same Adam state, the same next steps
    for (name, p), (_, q) in zip(
        model.net.named_parameters(), restored.net.named_parameters(), strict=True
    ):
        assert torch.equal(p, q), name


def test_bad_input_is_refused_or_harmless():
    model = TorchClassifier(bits=8, batch_size=4)
    with pytest.raises(ValueError):
        model.learn_one({"a": 1.0}, 2)
    with pytest.raises(TypeError):
        model.learn_one({"a": [1, 2]}, 1)
    events = messy_events(40)
    model.learn_many(columns_of(events), np.ones(40))
    for _ in range(10):
        model.learn_one({"a": 1e308, "b": float("nan")}, 1)
    assert all(torch.isfinite(p).all() for p in model.net.parameters())
    with pytest.raises(ValueError, match="task"):
        TorchLearner("multiclass")


def test_warm_start_from_a_batch_trained_linear_model_then_unfreeze(stream):
    X, y = stream
    linear = LogisticRegression(bits=8)
    linear.learn_many(X, y)  # "batch-trained" on the first 3,000 events
    net = TorchClassifier(
        bits=8,
        factory="streamlearn.models.neural:warm_mlp",
        batch_size=100,
        lr=0.01,
        freeze_base_for=5,
        seed=3,
    )
    net.features.load_state(*linear.features.state())  # the same input scaling
    net.rebase(linear)
    probe = X.slice(0, 200)
    np.testing.assert_allclose(
        net.predict_proba_many(probe), linear.predict_proba_many(probe), atol=1e-5
    )  # the silent head: the base alone
    base = net.net.base.weight.detach().clone()
    net.learn_many(X.slice(0, 500), y[:500])  # 5 updates: the head only
    assert torch.equal(net.net.base.weight, base)
    head = net.net.head[-1].weight.detach().clone()
    assert head.abs().sum() > 0
    net.learn_many(X.slice(500, 500), y[500:1000])  # now the base moves too
    assert not torch.equal(net.net.base.weight, base)
    # A new batch-trained base arrives; the online head stays.
    newer = LogisticRegression(bits=8)
    newer.learn_many(X.slice(1000, 2000), y[1000:3000])
    head = [p.detach().clone() for p in net.net.head.parameters()]
    net.rebase(newer)
    assert all(torch.equal(p, q) for p, q in zip(net.net.head.parameters(), head, strict=True))
    np.testing.assert_allclose(net.net.base.weight.detach().numpy()[0], newer.weights(), rtol=1e-6)
    with pytest.raises(ValueError, match="no base"):
        TorchClassifier(bits=8).rebase(newer)


def test_warm_start_from_a_scikit_learn_model(stream):
    from sklearn.linear_model import LogisticRegression as SkLogistic

    X, y = stream
    net = TorchClassifier(bits=8, factory="streamlearn.models.neural:warm_mlp", seed=4)
    inputs = net.inputs(X)
    batch = SkLogistic(max_iter=500).fit(inputs, y)
    net.rebase(batch)
    np.testing.assert_allclose(
        net.predict_proba_many(X.slice(0, 300)), batch.predict_proba(inputs[:300])[:, 1], atol=1e-5
    )
    with pytest.raises(ValueError, match="inputs"):
        net.rebase(SkLogistic().fit(inputs[:, :10], y))


@pytest.mark.parametrize("kind", [TorchClassifier, TorchRegressor])
def test_the_networks_run_in_the_engine_and_resume_bit_for_bit(kind):
    """A delayed-label run stopped at a checkpoint and resumed ends where an uninterrupted
    one does (the runner's schedules run event by event). The batch = one event check is
    to float32 rounding here (see above), so the engine's check runs on its own."""
    from streamlearn.checks import ENGINE, checks_for

    assert set(ENGINE) <= set(checks_for(kind(bits=8)))
    for check in ENGINE:
        check(lambda: kind(bits=8, batch_size=16, lr=0.01, seed=1))


def test_a_snapshot_cannot_choose_the_code_that_builds_its_network(tmp_path):
    """A forged snapshot naming another factory (os:system, say) is refused before any
    import; a factory allowed by the program loads."""
    from streamlearn.models.neural import allow_factory

    state = TorchClassifier(bits=8).state()
    forged = type(state)(
        state.kind, state.params | {"factory": "os:system"}, state.arrays, state.meta
    )
    with pytest.raises(ValueError, match="not allowed"):
        TorchClassifier.from_state(forged)
    with pytest.raises(ValueError, match="not allowed"):
        TorchClassifier(factory="tests.test_neural:tiny_net")
    allow_factory("tests.test_neural:tiny_net")
    net = TorchClassifier(bits=8, factory="tests.test_neural:tiny_net")
    assert TorchClassifier.from_state(net.state()).factory == "tests.test_neural:tiny_net"


def tiny_net(inputs: int, outputs: int):
    return torch.nn.Linear(inputs, outputs)
