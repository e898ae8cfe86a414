"""Degradation models, RUL distributions and health indicators on synthetic data, known truth."""

import numpy as np
import pytest
from fmitwin.maintenance import (
    CrossingTimeRUL,
    EmpiricalRUL,
    ExponentialDegradationModel,
    LinearDegradationModel,
    SimilarityRULModel,
    SlopeDetector,
    compute_indicator,
    health_indicator,
    operating_hours,
    state_rul,
)

PHI, LOG_THETA, BETA, SIGMA = 1.0, np.log(0.05), 0.02, 0.05
PRIOR_MEAN = np.array([LOG_THETA, BETA])
PRIOR_COV = np.array([[0.04, -0.0002], [-0.0002, 0.000016]])
THRESHOLD = PHI + 5.0


def exponential_fleet(rng, units=40, step=2.0):
    """Run-to-failure histories S = phi + exp(a + b t + eps) ending at the threshold crossing."""
    histories, parameters = [], []
    while len(histories) < units:
        a, b = rng.multivariate_normal(PRIOR_MEAN, PRIOR_COV)
        if b <= 0.005:
            continue
        failure = (np.log(THRESHOLD - PHI) - a) / b
        t = np.arange(0.0, failure, step)
        s = PHI + np.exp(a + b * t + SIGMA * rng.standard_normal(t.size))
        histories.append((t, s))
        parameters.append((a, b, failure))
    return histories, np.asarray(parameters)


def test_exponential_fit_recovers_fleet_prior_phi_and_noise():
    histories, parameters = exponential_fleet(np.random.default_rng(1), units=60)
    model = ExponentialDegradationModel.fit(histories, threshold=THRESHOLD)
    assert model.phi == pytest.approx(PHI, abs=0.05)
    assert model.noise_std == pytest.approx(SIGMA, rel=0.1)
    np.testing.assert_allclose(model.prior_mean, parameters[:, :2].mean(axis=0), rtol=0.05)
    assert model.prior_cov[1, 1] == pytest.approx(np.var(parameters[:, 1], ddof=1), rel=0.25)


def test_bayesian_update_converges_to_the_units_parameters():
    rng = np.random.default_rng(2)
    model = ExponentialDegradationModel(THRESHOLD, PHI, PRIOR_MEAN, PRIOR_COV, SIGMA)
    a, b = LOG_THETA + 0.2, BETA + 0.006
    t = np.arange(0.0, 150.0, 1.0)
    s = PHI + np.exp(a + b * t + SIGMA * rng.standard_normal(t.size))
    for time, value in zip(t, s, strict=True):  # one observation at a time
        model.update(time, value)
    mean, std = model.posterior_mean, np.sqrt(np.diag(model.posterior_cov))
    assert abs(mean[0] - a) < 3 * std[0] and abs(mean[1] - b) < 3 * std[1]
    assert std[1] < 0.1 * np.sqrt(PRIOR_COV[1, 1])
    # one batch update gives the same posterior as sequential updates
    batch = ExponentialDegradationModel(THRESHOLD, PHI, PRIOR_MEAN, PRIOR_COV, SIGMA)
    batch.update(t, s)
    np.testing.assert_allclose(batch.posterior_mean, mean, rtol=1e-9)
    true_rul = (np.log(THRESHOLD - PHI) - a) / b - t[-1]
    rul = model.rul()
    low, high = rul.interval(0.95)
    assert low <= true_rul <= high
    assert rul.median == pytest.approx(true_rul, rel=0.1)


def test_linear_model_recovers_slope_and_threshold():
    rng = np.random.default_rng(3)
    histories = []
    for _ in range(30):
        a, b = rng.normal(1.0, 0.1), rng.normal(0.05, 0.005)
        t = np.arange(0.0, (3.0 - a) / b, 1.0)
        histories.append((t, a + b * t + 0.02 * rng.standard_normal(t.size)))
    model = LinearDegradationModel.fit(histories)
    assert model.prior_mean == pytest.approx([1.0, 0.05], rel=0.05)
    assert model.noise_std == pytest.approx(0.02, rel=0.1)
    assert model.threshold == pytest.approx(3.0, abs=0.05)


@pytest.mark.parametrize("level", [0.5, 0.8, 0.9])
def test_rul_intervals_cover_at_their_nominal_rate(level):
    """Units drawn from the prior, observed for a random part of their life: the posterior RUL
    interval holds the true RUL at about its nominal rate (binomial 3-sigma band)."""
    rng = np.random.default_rng(4)
    inside, trials = 0, 400
    for _ in range(trials):
        while True:
            a, b = rng.multivariate_normal(PRIOR_MEAN, PRIOR_COV)
            failure = (np.log(THRESHOLD - PHI) - a) / b
            if b > 0.005:
                break
        t = np.arange(0.0, rng.uniform(0.3, 0.9) * failure, 2.0)
        s = PHI + np.exp(a + b * t + SIGMA * rng.standard_normal(t.size))
        model = ExponentialDegradationModel(THRESHOLD, PHI, PRIOR_MEAN, PRIOR_COV, SIGMA)
        model.update(t, s)
        low, high = model.rul(force=True).interval(level)
        inside += low <= failure - t[-1] <= high
    band = 3 * np.sqrt(level * (1 - level) / trials)
    assert abs(inside / trials - level) < band


def test_no_rul_before_degradation_is_detected():
    rng = np.random.default_rng(5)
    model = LinearDegradationModel(3.0, [1.0, 0.05], np.diag([0.01, 1e-4]), 0.1)
    flat = 1.0 + 0.1 * rng.standard_normal(40)
    model.update(np.arange(40.0), flat)
    assert not model.degradation_detected
    assert model.rul() is None
    assert isinstance(model.rul(force=True), CrossingTimeRUL)
    rising = 1.0 + 0.05 * np.arange(40.0) + 0.1 * rng.standard_normal(40)
    model.update(np.arange(40.0, 80.0), rising)
    assert model.degradation_detected
    assert model.rul() is not None


def test_crossing_time_rul_matches_monte_carlo():
    mean, cov = np.array([-2.0, 0.01]), np.array([[0.05, -0.0004], [-0.0004, 1e-5]])
    distribution = CrossingTimeRUL(mean, cov, level=0.0, now=50.0)
    draws = np.random.default_rng(6).multivariate_normal(mean, cov, 400_000)
    failure = -draws[:, 0] / draws[:, 1]
    alive = (draws[:, 1] > 0) & (failure > 50.0)
    rul = failure[alive] - 50.0
    assert distribution.median == pytest.approx(np.median(rul), rel=0.01)
    within_100 = np.mean(rul <= 100)
    assert distribution.probability_of_failure(100.0) == pytest.approx(within_100, abs=0.01)
    low, high = distribution.interval(0.8)
    assert np.mean((rul >= low) & (rul <= high)) == pytest.approx(0.8, abs=0.01)


def test_crossing_time_rul_past_the_threshold_is_due_now():
    overdue = CrossingTimeRUL(np.array([0.0, 1.0]), np.diag([1e-4, 1e-6]), level=5.0, now=100.0)
    assert overdue.median == 0.0
    assert overdue.probability_of_failure(0.0) == 1.0


def test_empirical_rul_weighted_quantiles():
    distribution = EmpiricalRUL(np.array([30.0, 10.0, 20.0]), np.array([1.0, 1.0, 2.0]))
    assert distribution.median == 20.0
    assert distribution.probability_of_failure(15.0) == pytest.approx(0.25)
    assert distribution.interval(0.5) == (10.0, 20.0)  # F(10) = 0.25 reaches the low tail
    with pytest.raises(ValueError, match="finite"):
        EmpiricalRUL(np.array([]))


@pytest.mark.parametrize(
    ("times", "values", "message"),
    [
        ([], [], "empty"),
        ([0.0, 2.0, 1.0], [1.0, 2.0, 3.0], "not strictly increasing at index 2"),
        ([0.0, 1.0, 2.0], [1.0, np.nan, 3.0], "NaN/inf at index 1"),
        ([0.0, 1.0], [1.0], "equal length"),
    ],
)
def test_bad_histories_get_clear_errors_and_leave_state_unchanged(times, values, message):
    model = LinearDegradationModel(3.0, [1.0, 0.05], np.diag([0.01, 1e-4]), 0.1)
    model.update([0.0, 1.0], [1.0, 1.1])
    before = model.posterior_mean.copy()
    with pytest.raises(ValueError, match=message):
        model.update(times, values)
    np.testing.assert_array_equal(model.posterior_mean, before)
    with pytest.raises(ValueError, match="not after the last observation"):
        model.update(0.5, 1.0)
    np.testing.assert_array_equal(model.posterior_mean, before)
    with pytest.raises(ValueError, match=message):
        LinearDegradationModel.fit([(times, values)] * 3)


def test_exponential_model_rejects_values_below_phi():
    model = ExponentialDegradationModel(THRESHOLD, PHI, PRIOR_MEAN, PRIOR_COV, SIGMA)
    with pytest.raises(ValueError, match="phi"):
        model.update([0.0], [0.5])


def test_similarity_model_on_synthetic_fleet_with_calibrated_intervals():
    rng = np.random.default_rng(7)
    histories, parameters = exponential_fleet(rng, units=60)
    # health index falling from ~1 to 0 at failure
    library = [(t, 1.0 - (s - PHI) / (THRESHOLD - PHI)) for t, s in histories]
    model = SimilarityRULModel(neighbours=5).calibrate(library[:50], cuts_per_unit=4)
    errors, inside = [], 0
    queries = 0
    for (t, hi), (_, _, failure) in zip(library[50:], parameters[50:], strict=True):
        for cut in rng.integers(len(t) // 3, len(t) - 1, size=4):
            distribution = model.predict_rul(t[:cut], hi[:cut])
            truth = failure - t[cut - 1]
            errors.append(distribution.median - truth)
            low, high = distribution.interval(0.8)
            inside += low <= truth <= high
            queries += 1
    mean_life = parameters[:, 2].mean()
    assert np.sqrt(np.mean(np.square(errors))) < 0.15 * mean_life
    assert 0.6 <= inside / queries <= 0.97


def test_operating_hours_from_timestamps_count_only_running_time():
    stamps = np.array(
        ["2024-01-01T00:00", "2024-01-01T01:00", "2024-01-01T03:00", "2024-01-02T03:00"],
        dtype="datetime64[s]",
    )
    hours = operating_hours(stamps)
    np.testing.assert_allclose(hours, [0.0, 1.0, 3.0, 27.0])
    hours = operating_hours(stamps, running=[True, False, True, True], max_gap_hours=4.0)
    np.testing.assert_allclose(hours, [0.0, 1.0, 1.0, 5.0])
    with pytest.raises(ValueError, match="not strictly increasing at index 2"):
        operating_hours(np.array([0.0, 3600.0, 3600.0]))
    with pytest.raises(ValueError, match="NaT"):
        operating_hours(np.array(["2024-01-01", "NaT"], dtype="datetime64[s]"))


def test_registered_health_indicators():
    signal = np.ones((20, 2)) * 3.0
    np.testing.assert_allclose(compute_indicator("rms", signal, window=5), 3.0)
    np.testing.assert_allclose(compute_indicator("component", signal, index=1), 3.0)

    @health_indicator("test_peak_to_peak")
    def _peak(values):
        return np.ptp(values, axis=1)

    np.testing.assert_allclose(compute_indicator("test_peak_to_peak", signal), 0.0)
    with pytest.raises(KeyError, match="unknown health indicator"):
        compute_indicator("nope", signal)
    with pytest.raises(ValueError, match="NaN"):
        compute_indicator("rms", [1.0, np.nan])


def test_slope_detector_rejects_bad_settings():
    with pytest.raises(ValueError, match="alpha"):
        SlopeDetector(alpha=1.5)
    with pytest.raises(ValueError, match="min_points"):
        SlopeDetector(min_points=2)


def test_uncertain_observations_weigh_less():
    model = LinearDegradationModel(3.0, [1.0, 0.05], np.diag([0.01, 1e-4]), 0.1)
    vague = LinearDegradationModel(3.0, [1.0, 0.05], np.diag([0.01, 1e-4]), 0.1)
    model.update([1.0, 2.0], [2.0, 2.1])
    vague.update([1.0, 2.0], [2.0, 2.1], std=[10.0, 10.0])
    assert np.all(np.diag(vague.posterior_cov) > np.diag(model.posterior_cov))
    np.testing.assert_allclose(vague.posterior_mean, [1.0, 0.05], atol=0.01)
    with pytest.raises(ValueError, match="std must be finite"):
        model.update([3.0], [2.2], std=[-1.0])


def test_state_rul_propagates_the_twin_state_through_a_failure_law():
    # linear wear D(t) = D + r t failing at 1: RUL = (1 - D) / r
    distribution = state_rul(
        np.array([0.5, 0.01]), np.diag([0.01**2, 0.001**2]), lambda x: (1 - x[:, 0]) / x[:, 1]
    )
    assert distribution.median == pytest.approx(50.0, rel=0.02)
    low, high = distribution.interval(0.9)
    assert low < 50.0 < high
    with pytest.raises(ValueError, match="must return"):
        state_rul(np.zeros(2), np.eye(2), lambda x: x)
    with pytest.raises(ValueError, match="mean"):
        state_rul(np.zeros(2), np.eye(3), lambda x: x[:, 0])


def test_similarity_matches_unevenly_sampled_queries():
    """A query with missing samples takes the general matching path and agrees with the evenly
    sampled one (the curve fits and weights are the same)."""
    rng = np.random.default_rng(8)
    histories, _ = exponential_fleet(rng, units=20)
    library = [(t, 1.0 - (s - PHI) / (THRESHOLD - PHI)) for t, s in histories]
    model = SimilarityRULModel(neighbours=5).fit(library[:15])
    t, hi = library[15]
    cut = 2 * len(t) // 3
    even = model.predict_rul(t[:cut], hi[:cut])
    keep = np.ones(cut, dtype=bool)
    keep[1 : cut - 1 : 7] = False  # drop every 7th sample, not the last
    gappy = model.predict_rul(t[:cut][keep], hi[:cut][keep])
    assert gappy.median == pytest.approx(even.median, abs=0.1 * even.median + 2.0)
