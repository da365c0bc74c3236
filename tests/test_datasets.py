"""The embedded and generated data the demo and examples stand on."""

import numpy as np

from streamlearn.datasets import elec2, synth
from tests.conftest import data_dir


def test_embedded_elec2_is_the_shared_file():
    events = list(elec2.stream())
    assert len(events) == elec2.N_EVENTS
    assert np.mean([y for _, y in events]) == pytest_approx(0.4245, 1e-3)
    shared = data_dir() / "elec2.csv.gz"
    assert shared.read_bytes() == elec2.path().read_bytes()


def pytest_approx(value, tol):
    import pytest

    return pytest.approx(value, abs=tol)


def test_click_stream_is_deterministic_and_drifts():
    a, b = synth.click_stream(20_000, seed=4), synth.click_stream(20_000, seed=4)
    assert a.equals(b)
    assert not a.equals(synth.click_stream(20_000, seed=5))
    cardinalities = [len(set(a.column(f"C{j}").to_pylist())) for j in (1, 20)]
    assert cardinalities[0] <= 10 < 1000 < cardinalities[1]
    # The same value of a drifting field has another click rate after the midpoint.
    c1 = np.array(a.column("C1").to_pylist())
    clicks = a.column("click").to_numpy()
    top = c1 == c1[0]
    half = np.arange(len(c1)) >= len(c1) // 2
    before, after = clicks[top & ~half].mean(), clicks[top & half].mean()
    assert abs(before - after) > 0.02
