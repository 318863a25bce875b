"""From what a trial reported to one ``TrialResult`` row, whatever way the trial ended.

A trial ends ``complete`` (its fit returned: scores at its best epoch), ``pruned`` (stopped by
ASHA, or by its share of the time budget: the best epoch of the curve so far, with the test
score measured at that epoch where the family measured one), ``failed`` (an exception: its error
and what it reported before) or ``interrupted`` (Ctrl-C, or a run killed before it finished: the
curve so far, never ranked).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.results.table import TrialResult, package_versions
from harness.tuning.reports import FinalReport, Placement

__all__ = ["RowContext", "TrialOutcome", "make_row"]


@dataclass(frozen=True)
class RowContext:
    """What every row of one model's tuning shares."""

    suite: str
    dataset: str
    protocol: str
    family: str
    model: str
    fingerprint: str
    study: str
    seed: int
    notes: tuple[str, ...] = ()
    versions: Mapping[str, str] = field(default_factory=package_versions)


@dataclass(frozen=True)
class TrialOutcome:
    """How one trial ended and what it had reported (see the module docstring)."""

    status: str
    trial_id: str
    study_trial: int | None
    params: Mapping[str, Any]
    config: str
    curve: Sequence[Mapping[str, Any]] = ()
    final: FinalReport | None = None
    placement: Placement | None = None
    n_params: int | None = None
    error: str = ""
    reason: str = ""
    started: float = 0.0
    started_at: str = ""
    cpus: float = 1.0


def make_row(ctx: RowContext, o: TrialOutcome) -> TrialResult:
    """The trial's row: scores of its best epoch, its curve, its cost and why it ended."""
    notes = list(ctx.notes)
    if o.reason:
        notes.append(o.reason)
    test: dict[str, Any] = {}
    f = o.final
    if f is not None and o.status in ("complete", "pruned"):
        valid_auc, valid_logloss = f.valid_auc, f.valid_logloss
        test = {"auc": f.test.auc, "logloss": f.test.logloss, "gauc": f.test.gauc,
                "ndcg10": f.test.ndcg10}  # fmt: skip
        curve_json = json.dumps(list(f.curve))
        best_epoch: int | None = f.best_epoch
        epochs = f.epochs
        train_seconds: float | None = f.train_seconds
        notes += [f.notes] if f.notes else []
        if o.status == "pruned":
            notes.append(f"scored at its best epoch ({f.best_epoch}) before the stop")
    else:
        best = max(
            (p for p in o.curve if _finite(p.get("valid_auc"))),
            key=lambda p: float(p["valid_auc"]),
            default=None,
        )
        valid_auc = None if best is None else best["valid_auc"]
        valid_logloss = None if best is None else best.get("valid_logloss")
        best_epoch = None if best is None else int(best["epoch"])
        epochs = int(o.curve[-1]["epoch"]) if o.curve else 0
        curve_json = json.dumps(list(o.curve))
        # A stopped trial keeps its epochs' seconds until it stopped.
        seconds = [float(p["seconds"]) for p in o.curve if _finite(p.get("seconds"))]
        train_seconds = sum(seconds) if seconds and o.status != "failed" else None
        if o.status == "pruned" and best is not None and _finite(best.get("test_auc")):
            test = {k: best.get(f"test_{k}") for k in ("auc", "logloss", "gauc", "ndcg10")}
            notes.append(f"test scored at its best epoch ({best['epoch']})")
    placement = o.placement or (f.placement if f is not None else None) or Placement(cpus=o.cpus)
    if placement.note:
        notes.append(placement.note)
    return TrialResult(
        suite=ctx.suite,
        dataset=ctx.dataset,
        protocol=ctx.protocol,
        family=ctx.family,
        model=ctx.model,
        space_fingerprint=ctx.fingerprint,
        config=o.config,
        task_metrics=f.task_metrics if f is not None and o.status == "complete" else "{}",
        study=ctx.study,
        trial_id=o.trial_id,
        study_trial=o.study_trial,
        params=json.dumps(dict(o.params), sort_keys=True, default=str),
        seed=ctx.seed,
        status=o.status,
        error=o.error,
        valid_auc=_opt(valid_auc),
        valid_logloss=_opt(valid_logloss),
        test_auc=_opt(test.get("auc")),
        test_logloss=_opt(test.get("logloss")),
        test_gauc=_opt(test.get("gauc")),
        test_ndcg10=_opt(test.get("ndcg10")),
        best_epoch=best_epoch,
        epochs=epochs,
        curve=curve_json,
        n_params=(f.n_params if f is not None else o.n_params) if o.status != "failed" else None,
        samples_per_s=f.samples_per_s if f is not None and o.status == "complete" else None,
        train_seconds=train_seconds,
        wall_seconds=max(0.0, time.time() - o.started) if o.started else 0.0,
        device=placement.device,
        gpu_ids=placement.gpu_ids,
        cpus=placement.cpus,
        started_at=o.started_at,
        notes="; ".join(notes),
        **ctx.versions,
    )


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _opt(v: Any) -> float | None:
    return float(v) if _finite(v) else None
