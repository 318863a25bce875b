"""Binary classification and ranking metrics: the functions every model family is scored with.

Global AUC and logloss for every dataset; where the data has groups (queries, users), also
GAUC, the AUC within each group averaged with each group's row count as its weight (groups with
one class only are left out: their AUC is undefined), and NDCG@10, the mean over groups with at
least one positive of ``DCG@10 / ideal DCG@10`` with binary gains. Both are vectorised over
groups (one sort), so they cost about what the global AUC costs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import log_loss, roc_auc_score

__all__ = ["Metrics", "binary_metrics", "group_metrics", "task_metrics"]

# Probabilities are clipped before the logloss so one confident mistake costs a large, finite loss.
_EPS = 1e-7
_NDCG_AT = 10


@dataclass(frozen=True)
class Metrics:
    """AUC and logloss of one model on one split (and GAUC, NDCG@10 on grouped data)."""

    auc: float
    logloss: float
    gauc: float | None = None
    ndcg10: float | None = None

    def __post_init__(self) -> None:
        for name in ("auc", "gauc", "ndcg10"):
            v = getattr(self, name)
            if v is not None and not (math.isnan(v) or 0.0 <= v <= 1.0):
                raise ValueError(f"{name} must lie in [0, 1], got {name}={v!r}")
        if not (math.isnan(self.logloss) or self.logloss >= 0.0):
            raise ValueError(f"logloss must be non-negative, got {self.logloss=}")


def binary_metrics(
    y_true: np.ndarray, p: np.ndarray, group: np.ndarray | None = None, *, logloss: bool = True
) -> Metrics:
    """Scores predicted click probabilities against 0/1 labels.

    Args:
        y_true: labels, shape (N,) or (N, 1), values 0 or 1.
        p: predicted probabilities of label 1 (any scores when ``logloss`` is False), same rows.
        group: group keys per row (N,), or None: then no GAUC or NDCG.
        logloss: score the logloss (False for scores that are not probabilities: NaN).

    Returns:
        AUC (NaN when only one class is present, where AUC is undefined), mean logloss, and on
        grouped data GAUC and NDCG@10.
    """
    y = np.asarray(y_true, dtype=np.float64).reshape(-1)
    raw = np.asarray(p, dtype=np.float64).reshape(-1)
    if y.shape != raw.shape:
        raise ValueError(f"labels and predictions differ in length: {y.shape=} {raw.shape=}")
    if y.size == 0:
        raise ValueError("cannot score an empty split")
    auc = float(roc_auc_score(y, raw)) if 0.0 < y.mean() < 1.0 else math.nan
    loss = math.nan
    if logloss:
        q = np.clip(raw, _EPS, 1.0 - _EPS)
        loss = float(log_loss(y, q, labels=[0.0, 1.0]))
    if group is None:
        return Metrics(auc=auc, logloss=loss)
    gauc, ndcg = group_metrics(y, raw, np.asarray(group).reshape(-1))
    return Metrics(auc=auc, logloss=loss, gauc=gauc, ndcg10=ndcg)


def task_metrics(
    y_true: np.ndarray, p: np.ndarray, group: np.ndarray | None = None
) -> tuple[Metrics, ...]:
    """`binary_metrics` of each task: labels and probabilities ``(N, tasks)``, column by column."""
    y = np.asarray(y_true).reshape(len(y_true), -1)
    q = np.asarray(p).reshape(len(p), -1)
    if y.shape != q.shape:
        raise ValueError(f"labels and predictions differ in shape: {y.shape=} {q.shape=}")
    return tuple(binary_metrics(y[:, t], q[:, t], group) for t in range(y.shape[1]))


def group_metrics(y: np.ndarray, p: np.ndarray, group: np.ndarray) -> tuple[float, float]:
    """``(GAUC, NDCG@10)`` of scores ``p`` for labels ``y`` within ``group`` (see the module).

    NaN when no group has both classes (GAUC) or a positive (NDCG).
    """
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    n = y.size
    if not n:
        return math.nan, math.nan
    # GAUC: within each group, the rank-sum (Mann-Whitney) AUC with tied scores averaged.
    order = np.lexsort((p, group))
    g, s, t = group[order], p[order], y[order]
    starts = np.r_[True, g[1:] != g[:-1]]
    gid = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    position = np.arange(n) - first[gid]  # 0-based, within the group
    runs = starts | np.r_[True, s[1:] != s[:-1]]
    rid = np.cumsum(runs) - 1
    run_first = np.flatnonzero(runs)
    run_len = np.diff(np.r_[run_first, n])
    rank = (position[run_first] + (run_len - 1) / 2.0 + 1.0)[rid]
    sizes = np.bincount(gid).astype(np.float64)
    positives = np.bincount(gid, weights=t)
    negatives = sizes - positives
    rank_sum = np.bincount(gid, weights=rank * t)
    both = (positives > 0) & (negatives > 0)
    gauc = math.nan
    if both.any():
        auc = (rank_sum[both] - positives[both] * (positives[both] + 1) / 2) / (
            positives[both] * negatives[both]
        )
        gauc = min(1.0, max(0.0, float(np.average(auc, weights=sizes[both]))))
    # NDCG@10 with binary gains, descending scores within each group; tied scores share their
    # positions' discounts equally (a constant predictor gains nothing from row order).
    order = np.lexsort((-p, group))
    g, s, t = group[order], p[order], y[order]
    starts = np.r_[True, g[1:] != g[:-1]]
    gid = np.cumsum(starts) - 1
    position = np.arange(n) - np.flatnonzero(starts)[gid]
    discount = 1.0 / np.log2(np.arange(_NDCG_AT) + 2.0)
    at = np.where(position < _NDCG_AT, discount[np.minimum(position, _NDCG_AT - 1)], 0.0)
    runs = starts | np.r_[True, s[1:] != s[:-1]]
    rid = np.cumsum(runs) - 1
    run_gain = np.bincount(rid, weights=t) / np.bincount(rid)
    run_discount = np.bincount(rid, weights=at)
    dcg = np.bincount(gid[np.flatnonzero(runs)], weights=run_gain * run_discount)
    ideal_hits = np.minimum(np.bincount(gid, weights=t), _NDCG_AT).astype(np.int64)
    ideal = np.r_[0.0, np.cumsum(discount)][ideal_hits]
    has = ideal_hits > 0
    ndcg = min(1.0, float(np.mean(dcg[has] / ideal[has]))) if has.any() else math.nan
    return gauc, ndcg
