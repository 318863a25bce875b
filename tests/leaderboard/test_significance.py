"""The tests behind "is the gain real?": weighted AUC, paired t-test, paired bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from harness.leaderboard.significance import (
    MAX_LEVELS,
    BootstrapInterval,
    PairedTest,
    bootstrap_auc_diff,
    default_resamples,
    paired_t,
    poisson_weights,
    significant,
    weighted_auc,
)


def _planted(n: int, strength: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.float32)
    return y, (strength * y + rng.normal(size=n)).astype(np.float32)


@pytest.mark.parametrize("decimals", [None, 1])  # distinct scores, and many ties
def test_weighted_auc_equals_scikit_learn(decimals: int | None) -> None:
    y, s = _planted(5000, 0.8, 0)
    if decimals is not None:
        s = np.round(s, decimals)
    w = np.random.default_rng(1).poisson(1.0, len(y)).astype(np.float64)
    assert weighted_auc(s, y) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert weighted_auc(s, y, w) == pytest.approx(roc_auc_score(y, s, sample_weight=w), abs=1e-12)


def test_weighted_auc_with_more_levels_than_kept_is_within_its_bound() -> None:
    y, s = _planted(MAX_LEVELS + 50_000, 0.5, 2)
    assert abs(weighted_auc(s, y) - roc_auc_score(y, s)) <= 1.0 / MAX_LEVELS


def test_weighted_auc_of_one_class_is_nan() -> None:
    assert np.isnan(weighted_auc(np.arange(5.0), np.ones(5)))


def test_poisson_weights_have_the_poisson_moments() -> None:
    w = poisson_weights(np.random.default_rng(0), 1_000_000)
    assert w.mean() == pytest.approx(1.0, abs=0.005)
    assert w.var() == pytest.approx(1.0, abs=0.01)
    assert (w == 0).mean() == pytest.approx(np.exp(-1), abs=0.002)


def test_paired_t_matches_scipy_and_handles_constant_differences() -> None:
    a, b = [0.781, 0.779, 0.784], [0.775, 0.776, 0.777]
    got = paired_t(a, b)
    assert got.p_value == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert got.mean_diff == pytest.approx(np.mean(np.subtract(a, b)))
    assert got.n == 3
    assert paired_t([0.7, 0.7], [0.6, 0.6]).p_value == 0.0  # deterministic, different
    assert paired_t([0.7, 0.7], [0.7, 0.7]).p_value == 1.0
    assert paired_t([0.7], [0.6]).p_value is None
    with pytest.raises(ValueError, match="equal lengths"):
        paired_t([0.7], [0.6, 0.5])


def test_bootstrap_finds_a_truly_better_model() -> None:
    """Planted: the better model's scores carry twice the label signal (AUC ~0.80 vs ~0.69)."""
    y, _ = _planted(4000, 0.0, 3)
    rng = np.random.default_rng(4)
    better = [1.2 * y + rng.normal(size=len(y)) for _ in range(3)]
    worse = [0.7 * y + rng.normal(size=len(y)) for _ in range(3)]
    interval = bootstrap_auc_diff(y, better, worse, resamples=300, seed=0)
    assert interval.low > 0.05 and interval.excludes_zero
    truth = np.mean([roc_auc_score(y, p) for p in better]) - np.mean(
        [roc_auc_score(y, p) for p in worse]
    )
    assert interval.low < truth < interval.high


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_bootstrap_of_two_equal_models_includes_zero(seed: int) -> None:
    """Planted: both models draw their scores from the same process (fixed seeds)."""
    y, _ = _planted(4000, 0.0, seed)
    rng = np.random.default_rng(seed + 100)
    a = [0.9 * y + rng.normal(size=len(y)) for _ in range(3)]
    b = [0.9 * y + rng.normal(size=len(y)) for _ in range(3)]
    interval = bootstrap_auc_diff(y, a, b, resamples=300, seed=0)
    assert interval.low < 0.0 < interval.high
    assert interval.high - interval.low < 0.04


def test_bootstrap_is_reproducible_and_paired() -> None:
    y, s = _planted(3000, 0.8, 8)
    first = bootstrap_auc_diff(y, [s], [s + 0.0], resamples=50, seed=1)
    assert first == BootstrapInterval(0.0, 0.0, 50)  # the same model: every difference is 0
    other = np.random.default_rng(9).normal(size=len(y))
    assert bootstrap_auc_diff(y, [s], [other], resamples=50, seed=1) == bootstrap_auc_diff(
        y, [s], [other], resamples=50, seed=1
    )


def test_significant_needs_every_measured_test() -> None:
    small_p, large_p = PairedTest(0.01, 0.01, 3), PairedTest(0.001, 0.4, 3)
    positive, straddles = BootstrapInterval(0.002, 0.01, 100), BootstrapInterval(-0.001, 0.01, 100)
    assert significant(small_p, positive) is True
    assert significant(small_p, straddles) is False
    assert significant(large_p, positive) is False
    assert significant(small_p, None) is True
    assert significant(PairedTest(0.01, None, 1), None) is None


def test_default_resamples_shrink_on_full_size_data() -> None:
    assert default_resamples(20_000, 6) == 1000
    assert default_resamples(4_584_062, 6) == 218
    assert default_resamples(400_000_000, 6) == 200
