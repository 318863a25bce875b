"""Binary classification metrics: the one function every model family is scored with."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import log_loss, roc_auc_score

__all__ = ["Metrics", "binary_metrics", "task_metrics"]

# Probabilities are clipped before the logloss so one confident mistake costs a large, finite loss.
_EPS = 1e-7


@dataclass(frozen=True)
class Metrics:
    """AUC and logloss of one model on one split."""

    auc: float
    logloss: float

    def __post_init__(self) -> None:
        if not (math.isnan(self.auc) or 0.0 <= self.auc <= 1.0):
            raise ValueError(f"AUC must lie in [0, 1], got {self.auc=}")
        if not (math.isnan(self.logloss) or self.logloss >= 0.0):
            raise ValueError(f"logloss must be non-negative, got {self.logloss=}")


def binary_metrics(y_true: np.ndarray, p: np.ndarray) -> Metrics:
    """Scores predicted click probabilities against 0/1 labels.

    Args:
        y_true: labels, shape (N,) or (N, 1), values 0 or 1.
        p: predicted probabilities of label 1, same number of rows.

    Returns:
        AUC (NaN when only one class is present, where AUC is undefined) and mean logloss.
    """
    y = np.asarray(y_true, dtype=np.float64).reshape(-1)
    q = np.clip(np.asarray(p, dtype=np.float64).reshape(-1), _EPS, 1.0 - _EPS)
    if y.shape != q.shape:
        raise ValueError(f"labels and predictions differ in length: {y.shape=} {q.shape=}")
    if y.size == 0:
        raise ValueError("cannot score an empty split")
    auc = float(roc_auc_score(y, q)) if 0.0 < y.mean() < 1.0 else math.nan
    return Metrics(auc=auc, logloss=float(log_loss(y, q, labels=[0.0, 1.0])))


def task_metrics(y_true: np.ndarray, p: np.ndarray) -> tuple[Metrics, ...]:
    """`binary_metrics` of each task: labels and probabilities ``(N, tasks)``, column by column."""
    y = np.asarray(y_true).reshape(len(y_true), -1)
    q = np.asarray(p).reshape(len(p), -1)
    if y.shape != q.shape:
        raise ValueError(f"labels and predictions differ in shape: {y.shape=} {q.shape=}")
    return tuple(binary_metrics(y[:, t], q[:, t]) for t in range(y.shape[1]))
