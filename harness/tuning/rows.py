"""From what a trial reported to one ``TrialResult`` row, whatever way the trial ended.

A trial ends ``complete`` (its fit returned: scores at its best epoch), ``pruned`` (stopped by
ASHA, or by its share of the time budget: the best epoch of the curve so far, with the test
score measured at that epoch where the family measured one), ``failed`` (an exception: its error
and what it reported before) or ``interrupted`` (Ctrl-C, or a run killed before it finished: the
curve so far, never ranked).

A trial of a factor study (``harness run --study``) is tagged with the study, its arm and where
the study's base configuration came from (`StudyArm`), and carries its own training seed.
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

__all__ = ["RowContext", "StudyArm", "TrialOutcome", "make_row"]


@dataclass(frozen=True)
class StudyArm:
    """The arm of a factor study that a tuning call runs (its rows' ``factor_study``, ``arm``
    and ``base_source`` columns).

    Attributes:
        study: the study's name (``--study``, its file's stem).
        arm: the arm's name in the study file.
        base_source: one line saying where the base configuration came from (the best trial of
            a preset, or a preset's defaults); the same for every arm of one study run.
    """

    study: str
    arm: str
    base_source: str = ""

    def __post_init__(self) -> None:
        if not self.study or not self.arm:
            raise ValueError(f"a study arm needs a study and an arm, got {self.study=} {self.arm=}")


@dataclass(frozen=True)
class RowContext:
    """What every row of one model's tuning shares (flat: it is stored as JSON in the study).

    ``factor_study``, ``arm`` and ``base_source`` tag the rows of a study's arm ("" for a search).
    """

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
    factor_study: str = ""
    arm: str = ""
    base_source: str = ""
    repeat_of: str = ""


@dataclass(frozen=True)
class TrialOutcome:
    """How one trial ended and what it had reported (see the module docstring).

    ``seed`` is the trial's own training seed where it has one (a study's trials), else the
    context's; ``n_params`` and the embedding sizes are those its last epoch reported.
    """

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
    seed: int | None = None
    embedding_params: int | None = None
    embedding_bytes: int | None = None
    predictions: str = ""


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
    ended = o.status != "failed"  # a failed trial's sizes are not reported, as its n_params
    sizes = (o.embedding_params, o.embedding_bytes)
    if f is not None:
        sizes = (f.embedding_params, f.embedding_bytes)
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
        seed=ctx.seed if o.seed is None else o.seed,
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
        n_params=(f.n_params if f is not None else o.n_params) if ended else None,
        embedding_params=sizes[0] if ended else None,
        embedding_bytes=sizes[1] if ended else None,
        samples_per_s=f.samples_per_s if f is not None and o.status == "complete" else None,
        predict_samples_per_s=(
            f.predict_samples_per_s if f is not None and o.status == "complete" else None
        ),
        predictions=o.predictions if o.status == "complete" else "",
        content=f.content if f is not None else "",
        matryoshka=f.matryoshka if f is not None and o.status == "complete" else "",
        train_seconds=train_seconds,
        wall_seconds=max(0.0, time.time() - o.started) if o.started else 0.0,
        device=placement.device,
        gpu_ids=placement.gpu_ids,
        cpus=placement.cpus,
        started_at=o.started_at,
        notes="; ".join(notes),
        factor_study=ctx.factor_study,
        arm=ctx.arm,
        base_source=ctx.base_source,
        repeat_of=ctx.repeat_of,
        **ctx.versions,
    )


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _opt(v: Any) -> float | None:
    return float(v) if _finite(v) else None
