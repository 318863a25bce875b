"""Metrics: AUC and logloss, and the per-group GAUC and NDCG@10 of grouped (ranking) data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import log_loss, ndcg_score, roc_auc_score

from harness.metrics import Metrics, binary_metrics, group_metrics, task_metrics


def test_global_auc_and_logloss_match_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(500) < 0.3).astype(float)
    p = np.clip(rng.random(500) * 0.5 + 0.3 * y, 0, 1)
    m = binary_metrics(y, p)
    assert m.auc == pytest.approx(roc_auc_score(y, p))
    assert m.logloss == pytest.approx(log_loss(y, np.clip(p, 1e-7, 1 - 1e-7)))
    assert m.gauc is None and m.ndcg10 is None


def test_one_class_has_no_auc_and_scores_have_no_logloss() -> None:
    assert math.isnan(binary_metrics(np.zeros(4), np.full(4, 0.2)).auc)
    assert math.isnan(
        binary_metrics(np.array([0, 1]), np.array([-3.0, 5.0]), logloss=False).logloss
    )


def test_a_hand_computed_grouped_example() -> None:
    # Group a: the positive ranked first (AUC 1, NDCG 1). Group b: the positive ranked last of
    # two (AUC 0, DCG 1/log2(3), ideal 1). Group c: no positive (left out of both).
    y = np.array([1, 0, 0, 0, 1, 0, 0])
    p = np.array([0.9, 0.8, 0.1, 0.9, 0.1, 0.5, 0.4])
    g = np.array([7, 7, 7, 3, 3, 9, 9])
    gauc, ndcg = group_metrics(y.astype(float), p, g)
    assert gauc == pytest.approx((3 * 1.0 + 2 * 0.0) / 5)  # weighted by rows
    assert ndcg == pytest.approx((1.0 + 1.0 / math.log2(3)) / 2)
    m = binary_metrics(y, p, g)
    assert (m.gauc, m.ndcg10) == (pytest.approx(gauc), pytest.approx(ndcg))


@pytest.mark.parametrize("decimals", [None, 1])
def test_gauc_and_ndcg_match_a_per_group_loop(decimals: int | None) -> None:
    """Against scikit-learn group by group; rounded scores have many ties."""
    rng = np.random.default_rng(decimals or 3)
    n = 4000
    g = rng.integers(0, 60, n)
    p = rng.random(n)
    if decimals is not None:
        p = np.round(p, decimals)
    y = (rng.random(n) < 0.2 + 0.5 * p).astype(float)
    gauc, ndcg = group_metrics(y, p, g)
    weighted, weights, ndcgs = 0.0, 0, []
    for key in np.unique(g):
        m = g == key
        if 0 < y[m].mean() < 1:
            weighted += m.sum() * roc_auc_score(y[m], p[m])
            weights += m.sum()
        if y[m].sum():
            ndcgs.append(ndcg_score(y[m][None], p[m][None], k=10, ignore_ties=False))
    assert gauc == pytest.approx(weighted / weights)
    assert ndcg == pytest.approx(np.mean(ndcgs))


def test_a_constant_predictor_gains_nothing_from_row_order() -> None:
    y = np.array([0, 0, 1, 1, 0, 1], dtype=float)
    g = np.zeros(6, dtype=np.uint64)
    gauc, ndcg = group_metrics(y, np.full(6, 0.5), g)
    reversed_gauc, reversed_ndcg = group_metrics(y[::-1].copy(), np.full(6, 0.5), g)
    assert gauc == reversed_gauc == 0.5
    assert ndcg == pytest.approx(reversed_ndcg)


def test_task_metrics_scores_each_column_with_the_groups() -> None:
    y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]], dtype=float)
    p = np.array([[0.9, 0.2], [0.1, 0.8], [0.8, 0.7], [0.2, 0.1]])
    first, second = task_metrics(y, p, np.array([0, 0, 1, 1]))
    assert first.auc == second.auc == 1.0
    assert first.gauc == second.gauc == 1.0
    with pytest.raises(ValueError, match="differ in shape"):
        task_metrics(y, p[:, :1])


def test_metrics_reject_impossible_values() -> None:
    with pytest.raises(ValueError, match="gauc"):
        Metrics(auc=0.5, logloss=0.1, gauc=1.5)
