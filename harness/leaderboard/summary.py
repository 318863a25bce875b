"""From trial rows to one leaderboard row per model: its best configuration and its cost."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from harness.results.table import TrialResult

__all__ = ["ModelSummary", "summarize"]


@dataclass(frozen=True)
class ModelSummary:
    """One model on one dataset: the best trial by validation AUC and what the search cost.

    ``lift`` is the best trial's test AUC minus the test AUC of the best GBDT (by validation AUC),
    None when there is no GBDT row to compare with or a metric is missing. ``older`` counts
    trials of the model run with an earlier version of its search space (another fingerprint):
    kept in the results table, never ranked with the current space's trials. ``cut_short`` says
    why the model's result is not a finished search ("" when it is): its best trial was stopped
    by the time budget, or no trial finished. ``failures`` are the distinct errors of its failed
    trials with their counts.
    """

    model: str
    kind: str
    best: TrialResult | None
    complete: int
    pruned: int
    failed: int
    wall_seconds: float
    lift: float | None = None
    # True for the GBDT the lifts are measured against.
    reference: bool = False
    older: int = 0
    interrupted: int = 0
    asked: int = 0
    cut_short: str = ""
    failures: tuple[tuple[str, int], ...] = ()

    @property
    def trials(self) -> int:
        """Trials that ended (interrupted ones are not counted: they did not finish)."""
        return self.complete + self.pruned + self.failed


def _score(r: TrialResult) -> float:
    return r.valid_auc if r.valid_auc is not None and r.valid_auc == r.valid_auc else -1.0


def _cut_short(rows: Sequence[TrialResult], best: TrialResult | None) -> str:
    """Why a model's result is not that of a finished search ("" when it is)."""
    if rows and not any(r.status == "complete" for r in rows):
        return "no trial finished"
    if best is not None and best.status == "pruned" and "time budget" in best.notes:
        return f"its best trial was stopped by the time budget at epoch {best.epochs}"
    return ""


def summarize(
    rows: Sequence[TrialResult],
    models: Mapping[str, tuple[str, str]],
    wall_seconds: Mapping[str, float] | None = None,
    *,
    asked: int = 0,
) -> list[ModelSummary]:
    """Best configuration per model, ranked by validation AUC (models with no result last).

    Any trial with a test score can be "best": a completed one, or one stopped early (by ASHA
    or the time limit) whose family scored test at its best epoch before it was stopped.

    Args:
        rows: trial rows of one dataset and protocol.
        models: model -> (``"gbdt"`` or ``"neural"``, current search-space fingerprint), for
            every model to list (even with no rows). A fingerprint of ``""`` takes every row.
        wall_seconds: model -> tuning wall time; defaults to the sum of its trials' wall times.
        asked: the trials per model the run asked for (0: not known).
    """
    out: list[ModelSummary] = []
    for model, (kind, fingerprint) in models.items():
        everything = [r for r in rows if r.model == model]
        mine = [r for r in everything if not fingerprint or r.space_fingerprint == fingerprint]
        done = [r for r in mine if r.status in ("complete", "pruned") and r.test_auc is not None]
        best = max(done, key=_score, default=None)
        wall = (wall_seconds or {}).get(model, sum(r.wall_seconds for r in mine))
        errors = Counter(r.error for r in mine if r.status == "failed")
        out.append(
            ModelSummary(
                model=model,
                kind=kind,
                best=best,
                complete=sum(r.status == "complete" for r in mine),
                pruned=sum(r.status == "pruned" for r in mine),
                failed=sum(r.status == "failed" for r in mine),
                wall_seconds=wall,
                older=len(everything) - len(mine),
                interrupted=sum(r.status == "interrupted" for r in mine),
                asked=asked,
                cut_short=_cut_short(mine, best),
                failures=tuple(errors.most_common()),
            )
        )
    gbdts = [s.best for s in out if s.kind == "gbdt" and s.best is not None]
    best_gbdt = max(gbdts, key=_score, default=None)
    ranked = []
    for s in out:
        lift = None
        if best_gbdt is not None and s.best is not None:
            assert s.best.test_auc is not None and best_gbdt.test_auc is not None
            lift = s.best.test_auc - best_gbdt.test_auc
        reference = best_gbdt is not None and s.best is best_gbdt
        ranked.append(dataclasses.replace(s, lift=lift, reference=reference))
    ranked.sort(key=lambda s: (s.best is None, -_score(s.best) if s.best else 0.0))
    return ranked
