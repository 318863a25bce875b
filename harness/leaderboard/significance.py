"""Is a lift real? A paired t-test over seeds and a paired bootstrap over the test rows.

Two sources of doubt, two tests:

- **Seeds** (training noise): each model's best configuration is retrained with the same seeds;
  ``paired_t`` compares the per-seed test AUCs of two models, seed by seed (two-sided, ``n - 1``
  degrees of freedom). With three seeds it has little power: a small p is evidence, a large one
  is not proof of equality.
- **Test rows** (sampling noise of the test split): ``bootstrap_auc_diff`` resamples the test
  rows (Poisson weights, the same resample for both models) and recomputes the difference of the
  seed-averaged AUCs; its 2.5 and 97.5 percentiles are the 95% confidence interval.

The weighted AUC of a resample costs two passes over the rows in their own order: each
prediction vector is ranked once (``RankedScores``), and a resample only re-weights the rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = [
    "ALPHA",
    "MAX_LEVELS",
    "BootstrapInterval",
    "PairedTest",
    "RankedScores",
    "bootstrap_auc_diff",
    "default_resamples",
    "paired_t",
    "poisson_weights",
    "significant",
    "weighted_auc",
]

# Two-sided level of both tests (and 1 - the interval's coverage).
ALPHA = 0.05


@dataclass(frozen=True)
class PairedTest:
    """A paired t-test of ``a - b`` over the seeds both ran.

    Attributes:
        mean_diff: mean of the per-seed differences.
        p_value: two-sided p-value (None with fewer than two pairs).
        n: pairs.
    """

    mean_diff: float
    p_value: float | None
    n: int


def paired_t(a: Sequence[float], b: Sequence[float]) -> PairedTest:
    """Paired t-test of equal means; ``a[i]`` and ``b[i]`` share seed ``i``.

    Differences that are all equal (deterministic models) give p = 1 when they are zero and
    p = 0 otherwise (the t statistic is infinite).
    """
    if len(a) != len(b):
        raise ValueError(f"paired samples need equal lengths, got {len(a)} and {len(b)}")
    diffs = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    n = len(diffs)
    if n == 0:
        raise ValueError("a paired test needs at least one pair")
    mean = float(diffs.mean())
    if n < 2:
        return PairedTest(mean, None, n)
    if np.ptp(diffs) == 0.0:
        return PairedTest(mean, 1.0 if mean == 0.0 else 0.0, n)
    p = float(stats.ttest_rel(np.asarray(a), np.asarray(b)).pvalue)
    return PairedTest(mean, p, n)


# Score levels at most: above it, a vector's rows are grouped into this many rank bins (pairs
# within a bin count half, an error of at most 1 / MAX_LEVELS on an AUC).
MAX_LEVELS = 1 << 18


class RankedScores:
    """One prediction vector ranked once, for weighted AUCs of many resamples.

    Each row gets the level of its score (rows with equal scores share one; with more than
    ``MAX_LEVELS`` distinct scores, consecutive ranks are grouped into ``MAX_LEVELS`` bins).
    Within a level a positive counts half of each negative (the usual tie rule). A weighted AUC
    is then two ``bincount`` passes in row order, with no sort.
    """

    def __init__(self, scores: np.ndarray, labels: np.ndarray) -> None:
        scores = np.asarray(scores, dtype=np.float64).ravel()
        labels = np.asarray(labels).ravel()
        if scores.shape != labels.shape:
            raise ValueError(f"scores and labels differ in length: {scores.shape} {labels.shape}")
        n = len(scores)
        order = np.argsort(scores, kind="stable")
        sorted_scores = scores[order]
        new_level = np.r_[True, sorted_scores[1:] != sorted_scores[:-1]]
        level = np.cumsum(new_level) - 1
        if level[-1] + 1 > MAX_LEVELS:  # group ranks; tied rows keep one bin
            first = np.flatnonzero(new_level)
            level = (first[level] * MAX_LEVELS) // n
        self.levels = np.empty(n, dtype=np.int64)
        self.levels[order] = level
        self.n_levels = int(level[-1]) + 1
        self.positive = (labels > 0.5).astype(np.float64)

    def auc(
        self, weights: np.ndarray | None = None, positive_weights: np.ndarray | None = None
    ) -> float:
        """The AUC with row weights (``None``: every row once); NaN with one class.

        ``positive_weights`` (``weights`` times the 0/1 labels) may be given when several
        vectors of the same labels share the weights: it is then computed once.
        """
        w = np.ones(len(self.levels)) if weights is None else np.asarray(weights, np.float64)
        if positive_weights is None:
            positive_weights = w * self.positive
        pos = np.bincount(self.levels, weights=positive_weights, minlength=self.n_levels)
        neg = np.bincount(self.levels, weights=w, minlength=self.n_levels) - pos
        total_pos, total_neg = pos.sum(), neg.sum()
        if total_pos <= 0 or total_neg <= 0:
            return math.nan
        below = np.cumsum(neg) - neg  # negatives at lower levels
        return float(np.dot(pos, below + 0.5 * neg) / (total_pos * total_neg))


def weighted_auc(
    scores: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None
) -> float:
    """The AUC of ``scores`` with optional row weights (ties count half)."""
    return RankedScores(scores, labels).auc(weights)


# Poisson(1) weights are drawn through a table of this many equally likely values (its
# quantiles): one 16-bit draw and one lookup per row, several times faster than a Poisson draw.
_POISSON_TABLE = stats.poisson.ppf((np.arange(1 << 16) + 0.5) / (1 << 16), 1.0).astype(np.float64)


def poisson_weights(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` Poisson(1) bootstrap weights (the probabilities rounded to 1/65536)."""
    weights: np.ndarray = _POISSON_TABLE[rng.integers(0, 1 << 16, n, dtype=np.uint16)]
    return weights


@dataclass(frozen=True)
class BootstrapInterval:
    """The bootstrap distribution of a difference of mean AUCs.

    Attributes:
        low, high: the 2.5 and 97.5 percentiles (a 95% interval).
        resamples: how many resamples were drawn.
    """

    low: float
    high: float
    resamples: int

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0.0 or self.high < 0.0


def bootstrap_auc_diff(
    labels: np.ndarray,
    a: Sequence[np.ndarray],
    b: Sequence[np.ndarray],
    *,
    resamples: int = 1000,
    seed: int = 0,
) -> BootstrapInterval:
    """95% interval of ``mean AUC(a) - mean AUC(b)`` over resamples of the test rows.

    Args:
        labels: the test labels (0/1), row order.
        a, b: each model's test predictions, one vector per seed, row order.
        resamples: bootstrap resamples (Poisson(1) weight per row, shared by every vector).
        seed: the resampling seed (the interval is reproducible).
    """
    if not a or not b:
        raise ValueError("each side needs at least one prediction vector")
    if resamples < 2:
        raise ValueError(f"resamples must be at least 2, got {resamples}")
    ranked_a = [RankedScores(p, labels) for p in a]
    ranked_b = [RankedScores(p, labels) for p in b]
    rng = np.random.default_rng(seed)
    n = len(np.asarray(labels).ravel())
    diffs = np.empty(resamples)
    for i in range(resamples):
        w = poisson_weights(rng, n)
        w_pos = w * ranked_a[0].positive
        mean_a = np.mean([r.auc(w, w_pos) for r in ranked_a])
        mean_b = np.mean([r.auc(w, w_pos) for r in ranked_b])
        diffs[i] = mean_a - mean_b
    diffs = diffs[np.isfinite(diffs)]
    if len(diffs) == 0:
        raise ValueError("every resample had one class only: too few test rows")
    low, high = np.quantile(diffs, [ALPHA / 2, 1 - ALPHA / 2])
    return BootstrapInterval(float(low), float(high), resamples)


# Rows x vectors x resamples a bootstrap may cost (about 0.03 s per million rows and vector
# here): full-size data gets fewer resamples.
_WORK = 6e9


def default_resamples(rows: int, vectors: int) -> int:
    """Bootstrap resamples for a test split of ``rows`` and ``vectors`` prediction vectors:
    1000, down to 200 on full-size data (each resample is a pass over every vector's rows)."""
    return int(min(1000, max(200, _WORK / max(1, rows * vectors))))


def significant(test: PairedTest | None, interval: BootstrapInterval | None) -> bool | None:
    """Whether a lift is significant: p < ``ALPHA`` and the interval excludes 0 (each where
    measured; None when neither is)."""
    verdicts = []
    if test is not None and test.p_value is not None:
        verdicts.append(test.p_value < ALPHA)
    if interval is not None:
        verdicts.append(interval.excludes_zero)
    return all(verdicts) if verdicts else None
