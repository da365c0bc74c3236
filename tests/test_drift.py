"""Detectors: the batch path equals update(), and detections equal River's on the same streams."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from river import drift as river_drift

from streamlearn.drift import (
    ADWIN,
    DDM,
    DRIFT,
    EDDM,
    KSWIN,
    PSI,
    WARNING,
    PageHinkley,
    WindowErrorRate,
)


def error_stream(seed=0, n=20_000):
    """Errors at 10%, then 40% after the middle, then back: two changes."""
    rng = np.random.default_rng(seed)
    rate = np.where((np.arange(n) >= n // 2) & (np.arange(n) < 3 * n // 4), 0.4, 0.1)
    return (rng.random(n) < rate).astype(float)


def value_stream(seed=0, n=20_000):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(0, 1, n // 2), rng.normal(1.5, 2, n // 2)])


def shifting_stream(seed=0, n=30_000):
    """Mixed signs, heavy tails and a mean that moves every 1,500 values (about zero, so
    that the window's sums cancel): many cuts, some near the bound, for ADWIN's screen."""
    rng = np.random.default_rng(seed)
    means = rng.choice([-3.0, -0.5, 0.0, 0.5, 3.0], n // 1500 + 1)
    return np.repeat(means, 1500)[:n] + rng.standard_t(3, n)


def river_signals(detector, values):
    signals = []
    for value in values:
        detector.update(value)
        signals.append(
            DRIFT
            if detector.drift_detected
            else WARNING
            if getattr(detector, "warning_detected", False)
            else 0
        )
    return np.array(signals)


def short(stream, n=4000):
    def shortened(seed):
        values = stream(seed)
        middle = len(values) // 2  # where both streams change
        return values[middle - n // 2 : middle + n // 2]

    return shortened


PAIRS = [
    (lambda: ADWIN(), lambda: river_drift.ADWIN(), error_stream),
    (lambda: ADWIN(), lambda: river_drift.ADWIN(), value_stream),
    (
        lambda: ADWIN(delta=0.05, clock=8, max_buckets=3),
        lambda: river_drift.ADWIN(delta=0.05, clock=8, max_buckets=3),
        error_stream,
    ),
    (lambda: ADWIN(), lambda: river_drift.ADWIN(), shifting_stream),
    (
        lambda: ADWIN(delta=0.3, clock=1, min_window_length=1, grace_period=2),
        lambda: river_drift.ADWIN(delta=0.3, clock=1, min_window_length=1, grace_period=2),
        shifting_stream,
    ),
    (lambda: PageHinkley(), lambda: river_drift.PageHinkley(), value_stream),
    (
        lambda: PageHinkley(threshold=20, mode="up"),
        lambda: river_drift.PageHinkley(threshold=20, mode="up"),
        value_stream,
    ),
    (lambda: DDM(), lambda: river_drift.binary.DDM(), error_stream),
    (lambda: EDDM(), lambda: river_drift.binary.EDDM(), error_stream),
    # River's KSWIN runs a SciPy test per value (~0.3 ms): shorter streams
    (lambda: KSWIN(seed=42), lambda: river_drift.KSWIN(seed=42), short(value_stream)),
    (
        lambda: KSWIN(alpha=0.05, seed=5),
        lambda: river_drift.KSWIN(alpha=0.05, seed=5),
        short(error_stream),
    ),
    (  # a large older part: Python's sample draws with rejection instead of from a pool
        lambda: KSWIN(alpha=0.01, window_size=400, stat_size=30, seed=1),
        lambda: river_drift.KSWIN(alpha=0.01, window_size=400, stat_size=30, seed=1),
        short(value_stream),
    ),
]


@pytest.mark.parametrize("ours,theirs,stream", PAIRS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_detections_equal_rivers(ours, theirs, stream, seed):
    values = stream(seed)
    expected = river_signals(theirs(), values)
    got = ours().update_many(values)
    assert (expected == DRIFT).sum() >= 1  # the streams do change
    np.testing.assert_array_equal(np.flatnonzero(got == DRIFT), np.flatnonzero(expected == DRIFT))
    np.testing.assert_array_equal(
        np.flatnonzero(got == WARNING), np.flatnonzero(expected == WARNING)
    )


@pytest.mark.parametrize(
    "make",
    [
        ADWIN,
        PageHinkley,
        DDM,
        EDDM,
        KSWIN,
        PSI,
        lambda: WindowErrorRate(window=500, threshold=0.15),
    ],
)
def test_update_many_equals_update_and_state_round_trips(make):
    values = error_stream(5)
    one, many = make(), make()
    singles = np.array([one.update(v) for v in values])
    batch = np.concatenate([many.update_many(values[:7777]), many.update_many(values[7777:])])
    np.testing.assert_array_equal(singles, batch)
    params, state = one.state()
    restored = type(one).from_state(params, state)
    more = error_stream(6)[:3000]
    np.testing.assert_array_equal(restored.update_many(more), one.update_many(more))


def test_window_detector_baseline_and_restart():
    detector = WindowErrorRate(window=100, threshold=0.2)
    errors = np.r_[np.zeros(100), np.ones(100), np.zeros(300)]
    signals = detector.update_many(errors)
    first = int(np.flatnonzero(signals == DRIFT)[0])
    assert first == 120  # baseline 0; rate 0.21 > 0.2 once 21 of the last 100 are errors
    assert (signals[first + 1 : first + 100] == 0).all()  # a new baseline window fills first
    assert WARNING in signals[100:first]


def test_no_false_alarm_on_a_stationary_stream():
    rng = np.random.default_rng(9)
    errors = (rng.random(1_000_000) < 0.2).astype(float)
    detector = ADWIN()
    assert (detector.update_many(errors) == DRIFT).sum() == 0
    assert detector.width == 1_000_000 and abs(detector.estimation - 0.2) < 0.002
    assert (WindowErrorRate(window=2000, threshold=0.05).update_many(errors) == DRIFT).sum() == 0


def test_adwin_direction_filters_the_signal_not_the_window():
    rng = np.random.default_rng(4)
    falling = (rng.random(20_000) < np.where(np.arange(20_000) < 10_000, 0.4, 0.1)).astype(float)
    rising = falling[::-1].copy()
    assert (ADWIN().update_many(falling) == DRIFT).any()
    up = ADWIN(direction="up")
    assert not (up.update_many(falling) == DRIFT).any()
    assert up.width < 11_000  # the cut happened all the same
    assert (ADWIN(direction="up").update_many(rising) == DRIFT).any()
    assert not (ADWIN(direction="down").update_many(rising) == DRIFT).any()
    with pytest.raises(ValueError):
        ADWIN(direction="sideways")


def test_psi_sees_a_shifted_distribution_without_labels():
    rng = np.random.default_rng(11)
    stationary = rng.normal(size=500_000)
    detector = PSI(window=2000)
    assert (detector.update_many(stationary) != 0).sum() == 0
    assert detector.value < 0.05
    shifted = np.concatenate([rng.normal(size=10_000), rng.normal(0.5, 1.3, 5_000)])
    drifts = np.flatnonzero(PSI(window=2000).update_many(shifted) == DRIFT)
    assert 10_000 < drifts[0] < 12_000  # within one window of the shift
    constant = PSI(window=100).update_many(np.ones(1000))  # degenerate bins: no crash, no alarm
    assert (constant == 0).all()


def test_statistics_report_what_each_detector_tests():
    errors = error_stream(3)[:5000]
    window = WindowErrorRate(window=1000, threshold=0.5)
    window.update_many(errors)
    assert window.statistic == pytest.approx(errors[-1000:].mean())
    ddm = DDM(drift_threshold=100)
    ddm.update_many(errors)
    p = errors.mean()
    assert ddm.statistic == pytest.approx(p + np.sqrt(p * (1 - p) / len(errors)))
    adwin = ADWIN()
    adwin.update_many(errors)
    assert adwin.statistic == pytest.approx(errors[-adwin.width :].mean())
    psi = PSI(window=500)
    psi.update_many(value_stream(1)[:3000])
    assert psi.statistic == psi.value >= 0
    assert np.isnan(WindowErrorRate(window=10).statistic)
    kswin = KSWIN()
    kswin.update_many(value_stream(1)[:3000])
    assert 0 < kswin.statistic <= 1 and 0 <= kswin.p_value <= 1
    page_hinkley = PageHinkley()
    page_hinkley.update_many(value_stream(2)[:100])
    assert page_hinkley.statistic >= 0


def test_adwin_values_held_between_its_tests_change_nothing_a_reader_sees():
    """One value at a time, ADWIN holds the values between two tests and runs them at
    the next: its signals, window, mean, snapshots and copies are those of a value-by-value
    run, however updates, batches and reads interleave."""
    values = error_stream(3)
    reference = ADWIN().update_many(values)
    assert (reference == DRIFT).sum() >= 1
    detector, signals, seen = ADWIN(), [], []
    rng = np.random.default_rng(0)
    i = 0
    while i < len(values):
        if rng.random() < 0.05:  # a batch between single values
            k = int(rng.integers(1, 50))
            signals += detector.update_many(values[i : i + k]).tolist()
            i += k
            continue
        signals.append(detector.update(values[i]))
        assert detector.drift_detected == (signals[-1] == DRIFT)
        i += 1
        if rng.random() < 0.01:
            seen.append((i, detector.width, detector.estimation))
        if rng.random() < 0.01:  # a snapshot, or a copy, taken while values are held
            params, state = detector.state()
            detector = ADWIN.from_state(params, state)
        if rng.random() < 0.01:
            detector = copy.deepcopy(detector)
    np.testing.assert_array_equal(np.array(signals), reference)
    for i, width, mean in seen:
        replay = ADWIN()
        replay.update_many(values[:i])
        assert (replay.width, replay.estimation) == (width, mean)
