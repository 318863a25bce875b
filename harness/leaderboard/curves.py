"""Learning curves of a factor study's arms: where each seed's validation AUC peaked, where it
ended, and the mean curve to draw.

A trial's curve (`TrialResult.curve`) has a point per epoch. A trial trained with
``train.evals_per_epoch`` k > 1 also has, in each point's ``evals``, the validation AUC after
every 1/k of the epoch's steps as ``[epochs trained, AUC]`` (the last at the epoch's end, 1.0,
1.25, ...); `curve_points` flattens a trial's curve into those points, or into one point per
epoch end when it has no ``evals``. Per arm, over its complete trials (`arm_curves`): the
position of each seed's best point (the first, on a tie), its AUC, the AUC of its last point,
the drop between them, each as mean ± std over seeds, and the mean curve with its range at each
position (`harness.leaderboard.plots.plot_curves` draws it)::

    curves = arm_curves("freeze", rows_of_the_arm)
    curves.best_at  # MeanStd(mean=1.25, std=0.0, n=3): best a quarter into epoch 2
    curves.drop     # mean of (best - end) per seed: > 0 when the model got worse after its best
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from harness.leaderboard.stats import MeanStd, mean_std
from harness.results.table import TrialResult

__all__ = [
    "ArmCurves",
    "BandPoint",
    "CurvePoint",
    "SeedCurve",
    "arm_curves",
    "curve_points",
    "has_curves",
    "points_per_epoch",
]

# Positions (epochs trained) within this distance are one point of the mean curve.
_DIGITS = 6


@dataclass(frozen=True)
class CurvePoint:
    """One validation score of a trial.

    Attributes:
        at: epochs trained when it was scored (1.0: the end of epoch 1; 1.25: a quarter into
            epoch 2).
        auc: the validation AUC (first task).
    """

    at: float
    auc: float


def curve_points(row: TrialResult) -> tuple[CurvePoint, ...]:
    """Every validation score of ``row`` in the order it was taken (unscored points, a NaN or a
    missing AUC, are left out)."""
    points = []
    for epoch in row.curve_list:
        evals = epoch.get("evals") or [[epoch.get("epoch"), epoch.get("valid_auc")]]
        for at, auc in evals:
            if isinstance(at, int | float) and isinstance(auc, int | float) and math.isfinite(auc):
                points.append(CurvePoint(float(at), float(auc)))
    return tuple(points)


def points_per_epoch(row: TrialResult) -> int:
    """Validation scores per epoch of ``row`` (``train.evals_per_epoch``; 1 without ``evals``)."""
    return max((len(epoch.get("evals") or ()) or 1 for epoch in row.curve_list), default=1)


def has_curves(rows: Sequence[TrialResult]) -> bool:
    """Whether any of ``rows`` scored validation several times per epoch."""
    return any(points_per_epoch(r) > 1 for r in rows)


@dataclass(frozen=True)
class SeedCurve:
    """One trial's curve, with its best and last points.

    Attributes:
        seed: the trial's seed.
        points: its scores in order (at least one).
        best: the point with the highest AUC (the earliest of equal ones).
        end: the last point.
    """

    seed: int
    points: tuple[CurvePoint, ...]

    def __post_init__(self) -> None:
        if not self.points:
            raise ValueError(f"a curve needs at least one point, got {self.points=}")

    @property
    def best(self) -> CurvePoint:
        return max(self.points, key=lambda p: p.auc)  # max keeps the first of equal ones

    @property
    def end(self) -> CurvePoint:
        return self.points[-1]

    @property
    def drop(self) -> float:
        """Best minus end: what the trial lost after its best point (0: it ended at its best)."""
        return self.best.auc - self.end.auc


@dataclass(frozen=True)
class BandPoint:
    """The arm's curve at one position, over the seeds scored there.

    Attributes:
        at: epochs trained.
        mean, low, high: the mean, lowest and highest validation AUC of those seeds.
        n: how many seeds were scored there.
    """

    at: float
    mean: float
    low: float
    high: float
    n: int


@dataclass(frozen=True)
class ArmCurves:
    """An arm's learning curves over its complete trials.

    Attributes:
        arm: the arm's name.
        seeds: the seeds of its complete trials with a curve, sorted.
        best_at: epochs trained at each seed's best point, mean ± std.
        best_auc: each seed's best validation AUC, mean ± std.
        end_auc: each seed's validation AUC at its last point, mean ± std.
        drop: best minus end per seed, mean ± std.
        test_auc: the trials' test AUC (at the epoch end with the best validation AUC, whose
            weights the fit keeps), mean ± std.
        per_epoch: validation scores per epoch (the most among the seeds).
        band: the mean curve with its range, by position.
    """

    arm: str
    seeds: tuple[int, ...]
    best_at: MeanStd | None
    best_auc: MeanStd | None
    end_auc: MeanStd | None
    drop: MeanStd | None
    test_auc: MeanStd | None
    per_epoch: int
    band: tuple[BandPoint, ...]


def arm_curves(arm: str, rows: Sequence[TrialResult]) -> ArmCurves:
    """``arm``'s curves over those of ``rows`` that completed and have a scored point (pruned,
    failed and interrupted trials stopped before the end and are left out)."""
    done = [r for r in rows if r.status == "complete" and curve_points(r)]
    done.sort(key=lambda r: r.seed)
    seeds = [SeedCurve(r.seed, curve_points(r)) for r in done]
    by_position: dict[float, list[float]] = {}
    for s in seeds:
        for p in s.points:
            by_position.setdefault(round(p.at, _DIGITS), []).append(p.auc)
    band = tuple(
        BandPoint(at, math.fsum(aucs) / len(aucs), min(aucs), max(aucs), len(aucs))
        for at, aucs in sorted(by_position.items())
    )
    return ArmCurves(
        arm=arm,
        seeds=tuple(s.seed for s in seeds),
        best_at=mean_std([s.best.at for s in seeds]),
        best_auc=mean_std([s.best.auc for s in seeds]),
        end_auc=mean_std([s.end.auc for s in seeds]),
        drop=mean_std([s.drop for s in seeds]),
        test_auc=mean_std([r.test_auc for r in done if r.test_auc is not None]),
        per_epoch=max((points_per_epoch(r) for r in done), default=1),
        band=band,
    )
