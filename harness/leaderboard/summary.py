"""From trial rows to one leaderboard row per model (its best configuration, its repeats over
seeds, how it compares with the best GBDT, its cost), and to one section per factor study (each
arm's mean ± std over seeds)."""

from __future__ import annotations

import dataclasses
import functools
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.leaderboard.compression import CompressionView, compression_view
from harness.leaderboard.curves import ArmCurves, arm_curves, has_curves
from harness.leaderboard.significance import (
    BootstrapInterval,
    PairedTest,
    bootstrap_auc_diff,
    default_resamples,
    paired_t,
    significant,
)
from harness.leaderboard.sizes import SizeRow, size_rows
from harness.leaderboard.stats import MeanStd, mean_std
from harness.repeats import TEST_LABELS, repeat_key
from harness.results.table import TrialResult, best_trial, is_search_trial
from harness.studies.files import StudyFile

__all__ = [
    "ArmSummary",
    "Comparison",
    "MeanStd",
    "ModelSummary",
    "Repeats",
    "StudySummary",
    "compare",
    "mean_std",
    "summarize",
    "summarize_studies",
]


@dataclass(frozen=True)
class ModelSummary:
    """One model on one dataset: the best trial by validation AUC and what the search cost.

    ``lift`` is the best trial's test AUC minus the test AUC of the best GBDT (by validation AUC),
    None when there is no GBDT row to compare with or a metric is missing. ``older`` counts
    trials of the model run with an earlier version of its search space (another fingerprint):
    kept in the results table, never ranked with the current space's trials. ``cut_short`` says
    why the model's result is not a finished search ("" when it is): its best trial was stopped
    by the time budget, or no trial finished. ``failures`` are the distinct errors of its failed
    trials with their counts. ``repeats`` are its best trial's seeds (`harness.repeats`), and
    ``comparison`` how it compares with the reference GBDT over the seeds both ran (None when
    either has no repeat); ``lift`` is then the difference of their mean test AUCs over those
    seeds, else of the two single-seed search scores.
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
    repeats: Repeats | None = None
    comparison: Comparison | None = None

    @property
    def trials(self) -> int:
        """Trials that ended (interrupted ones are not counted: they did not finish)."""
        return self.complete + self.pruned + self.failed


def _score(r: TrialResult) -> float:
    return r.valid_auc if r.valid_auc is not None and r.valid_auc == r.valid_auc else -1.0


@dataclass(frozen=True)
class Repeats:
    """A model's best search configuration trained again with new seeds (the repeat stage).

    Attributes:
        of: the search trial repeated (``repeat_key``).
        seeds: the seeds of its complete repeats (those averaged), sorted.
        valid_auc, test_auc, test_logloss: mean ± std over them.
        train_seconds, samples_per_s, predict_samples_per_s: their mean training time,
            training throughput and inference throughput (test rows per second).
        test_aucs: seed -> test AUC.
        predictions: seed -> the kept test predictions (relative to the run folder).
        asked: repeats recorded for it (complete or not), pruned and failed among them.
    """

    of: str
    seeds: tuple[int, ...]
    valid_auc: MeanStd | None
    test_auc: MeanStd | None
    test_logloss: MeanStd | None
    train_seconds: float | None
    samples_per_s: float | None
    predict_samples_per_s: float | None
    test_aucs: Mapping[int, float]
    predictions: Mapping[int, str]
    asked: int = 0
    pruned: int = 0
    failed: int = 0


@dataclass(frozen=True)
class Comparison:
    """A model against the reference GBDT over the repeat seeds both completed.

    Attributes:
        seeds: the seeds compared (the same seed of both models is one pair).
        lift: mean test AUC of the model minus the reference's, over ``seeds``.
        test: the paired t-test over those seeds.
        interval: the paired bootstrap interval over the test rows (None where a model's
            predictions are not in the run folder).
        significant: p < 0.05 and the interval excludes 0 (each where measured).
    """

    seeds: tuple[int, ...]
    lift: float
    test: PairedTest
    interval: BootstrapInterval | None
    significant: bool | None


def _mean(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.fmean(known) if known else None


def _repeats(rows: Sequence[TrialResult], best: TrialResult | None) -> Repeats | None:
    """The repeats of ``best`` among ``rows`` (None: no repeat recorded)."""
    if best is None:
        return None
    key = repeat_key(best)
    mine = [r for r in rows if r.repeat_of == key and r.status != "interrupted"]
    if not mine:
        return None
    done = sorted(
        (r for r in mine if r.status == "complete" and r.test_auc is not None),
        key=lambda r: r.seed,
    )
    return Repeats(
        of=key,
        seeds=tuple(r.seed for r in done),
        valid_auc=mean_std([r.valid_auc for r in done if r.valid_auc is not None]),
        test_auc=mean_std([r.test_auc for r in done if r.test_auc is not None]),
        test_logloss=mean_std([r.test_logloss for r in done if r.test_logloss is not None]),
        train_seconds=_mean([r.train_seconds for r in done]),
        samples_per_s=_mean([r.samples_per_s for r in done]),
        predict_samples_per_s=_mean([r.predict_samples_per_s for r in done]),
        test_aucs={r.seed: r.test_auc for r in done if r.test_auc is not None},
        predictions={r.seed: r.predictions for r in done if r.predictions},
        asked=len(mine),
        pruned=sum(r.status == "pruned" for r in mine),
        failed=sum(r.status == "failed" for r in mine),
    )


def compare(
    model: Repeats, reference: Repeats, run_dir: Path | None, *, resamples: int | None = None
) -> Comparison | None:
    """``model`` against ``reference`` over the seeds both completed (None: no common seed).

    The bootstrap runs where ``run_dir`` holds the test labels and both models' predictions
    for every common seed; ``resamples`` defaults to `default_resamples` of the test size.
    """
    seeds = tuple(sorted(set(model.test_aucs) & set(reference.test_aucs)))
    if not seeds:
        return None
    test = paired_t([model.test_aucs[s] for s in seeds], [reference.test_aucs[s] for s in seeds])
    interval = None
    if run_dir is not None and all(
        s in model.predictions and s in reference.predictions for s in seeds
    ):
        interval = _interval(
            str(run_dir),
            tuple(model.predictions[s] for s in seeds),
            tuple(reference.predictions[s] for s in seeds),
            resamples,
        )
    return Comparison(seeds, test.mean_diff, test, interval, significant(test, interval))


@functools.lru_cache(maxsize=64)
def _interval(
    run_dir: str, a: tuple[str, ...], b: tuple[str, ...], resamples: int | None
) -> BootstrapInterval | None:
    """The bootstrap interval from the kept files (None when one is missing or mismatched).
    Cached: the leaderboard is rewritten after every model, the files never change."""
    folder = Path(run_dir)
    labels_file = folder / "predictions" / TEST_LABELS
    files = [folder / f for f in (*a, *b)]
    if not labels_file.exists() or not all(f.exists() for f in files):
        return None
    labels = np.load(labels_file)
    vectors = [np.load(f) for f in files]
    if any(v.shape != labels.shape for v in vectors):
        return None
    n = resamples or default_resamples(len(labels), len(vectors))
    return bootstrap_auc_diff(labels, vectors[: len(a)], vectors[len(a) :], resamples=n)


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
    run_dir: Path | None = None,
    resamples: int | None = None,
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
        run_dir: the run folder holding the repeats' predictions (None: no bootstrap).
        resamples: bootstrap resamples (default: `default_resamples` of the test size).
    """
    out: list[ModelSummary] = []
    for model, (kind, fingerprint) in models.items():
        # A factor study's trials are summarised per study (`summarize_studies`), never here.
        everything = [r for r in rows if r.model == model and is_search_trial(r)]
        mine = [r for r in everything if not fingerprint or r.space_fingerprint == fingerprint]
        best = best_trial(mine)
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
                repeats=_repeats([r for r in rows if r.model == model], best),
            )
        )
    gbdts = [s for s in out if s.kind == "gbdt" and s.best is not None]
    reference = max(gbdts, key=lambda s: _score(s.best) if s.best else -1.0, default=None)
    ranked = []
    for s in out:
        lift, comparison = None, None
        if reference is not None and reference.best is not None and s.best is not None:
            assert s.best.test_auc is not None and reference.best.test_auc is not None
            lift = s.best.test_auc - reference.best.test_auc
            if s is not reference and s.repeats and reference.repeats:
                comparison = compare(s.repeats, reference.repeats, run_dir, resamples=resamples)
                lift = comparison.lift if comparison else lift
        ranked.append(
            dataclasses.replace(s, lift=lift, reference=s is reference, comparison=comparison)
        )
    ranked.sort(key=lambda s: (s.best is None, -_score(s.best) if s.best else 0.0))
    return ranked


@dataclass(frozen=True)
class ArmSummary:
    """One arm of a study: its scores over the seeds that completed, its size and its cost.

    Attributes:
        arm: the arm's name.
        seeds: the seeds of its complete trials (those averaged), sorted.
        test_auc, test_logloss: mean ± std over those trials (None: no complete trial).
        embedding_params, embedding_bytes: the embeddings' size (the same for every seed).
        train_seconds: mean training time of the complete trials.
        pruned, failed: trials stopped by the time budget, or failed (not averaged).
        settings: what the arm sets (``dotted.key = value``), from its study file.
    """

    arm: str
    seeds: tuple[int, ...]
    test_auc: MeanStd | None
    test_logloss: MeanStd | None
    embedding_params: int | None
    embedding_bytes: int | None
    train_seconds: float | None
    pruned: int = 0
    failed: int = 0
    settings: tuple[str, ...] = ()


@dataclass(frozen=True)
class StudySummary:
    """A factor study as its leaderboard section shows it.

    Attributes:
        study: the study's name.
        preset: the model the base configuration is of.
        base_source: where the base came from.
        description: the study file's description ("" when the file is not found now).
        factor: the keys its arms vary, comma-separated ("" when the file is not found now).
        arms: the arms, best mean test AUC first (arms with no complete trial last).
        hidden: trials of the study in the table with another base or an older version of
            an arm (not shown).
        shared: what the study file's ``[all]`` sets for every arm (``dotted.key = value``).
        curves: each arm's learning curves, in the order of ``arms``; empty when the section
            shows none (the study file has no ``curves = true``; with the file not found, when
            no trial scored validation several times per epoch).
        curves_plot: the plot of the curves, relative to the leaderboard ("" for none; set by
            `harness.leaderboard.publish`, which writes it).
        compression: what its arms kept of the vector features' gain when they compressed them
            (`harness.leaderboard.compression`); None when no arm compressed any.
        compression_plot: the plot of quality against size, relative to the leaderboard ("" for
            none; written by `harness.leaderboard.publish`).
        sizes: each arm scored with its ID embeddings cut to its Matryoshka sizes
            (`harness.leaderboard.sizes`); () when no arm recorded any.
    """

    study: str
    preset: str
    base_source: str
    description: str
    factor: str
    arms: tuple[ArmSummary, ...]
    hidden: int = 0
    shared: tuple[str, ...] = ()
    curves: tuple[ArmCurves, ...] = ()
    curves_plot: str = ""
    compression: CompressionView | None = None
    compression_plot: str = ""
    sizes: tuple[SizeRow, ...] = ()


def summarize_studies(
    rows: Sequence[TrialResult], files: Mapping[str, StudyFile] | None = None
) -> list[StudySummary]:
    """One summary per factor study in ``rows`` (one dataset's rows), in name order.

    A study run again with another base (a better search trial, another preset) or an edited
    arm adds rows of other search spaces: the section shows the latest base (the base of the
    most recently started trial) and, per arm, its latest version; the others are counted in
    ``hidden``. Interrupted trials are not counted. A study whose file says ``curves = true``
    (or, with its file not found, whose trials scored validation several times per epoch) gets
    its arms' learning curves over the same trials (`harness.leaderboard.curves`); a study
    whose arms compressed vector features gets their compression view
    (`harness.leaderboard.compression`).

    Args:
        rows: trial rows of one dataset.
        files: study name -> its file, for the description, factor and arm settings.
    """
    files = files or {}
    out = []
    for name in sorted({r.factor_study for r in rows if r.factor_study}):
        mine = [r for r in rows if r.factor_study == name and r.status != "interrupted"]
        latest = max(mine, key=lambda r: r.started_at, default=None)
        if latest is None:
            continue
        group = [r for r in mine if (r.model, r.base_source) == (latest.model, latest.base_source)]
        study_file = files.get(name)
        order = [a.name for a in study_file.arms] if study_file else []
        settings = {a.name: a.settings for a in study_file.arms} if study_file else {}
        show_curves = study_file.curves if study_file else has_curves(group)
        arms, curves, shown, shown_rows = [], {}, 0, []
        # File order (ties in the ranking below keep it), then arms no longer in the file.
        for arm in sorted({r.arm for r in group}, key=lambda a: _position(a, order)):
            of_arm = [r for r in group if r.arm == arm]
            newest = max(of_arm, key=lambda r: r.started_at)
            version = [r for r in of_arm if r.space_fingerprint == newest.space_fingerprint]
            shown += len(version)
            shown_rows += version
            arms.append(_arm_summary(arm, version, settings.get(arm, ())))
            if show_curves:
                curves[arm] = arm_curves(arm, version)
        arms.sort(key=lambda a: -a.test_auc.mean if a.test_auc else float("inf"))
        out.append(
            StudySummary(
                study=name,
                preset=latest.model,
                base_source=latest.base_source,
                description=study_file.description if study_file else "",
                factor=study_file.factor_text if study_file else "",
                arms=tuple(arms),
                hidden=len(mine) - shown,
                shared=study_file.shared_settings if study_file else (),
                curves=tuple(curves[a.arm] for a in arms if a.arm in curves),
                compression=compression_view(shown_rows),
                sizes=size_rows(shown_rows, [a.arm for a in arms]),
            )
        )
    return out


def _position(arm: str, order: Sequence[str]) -> tuple[int, str]:
    return (order.index(arm), "") if arm in order else (len(order), arm)


def _arm_summary(arm: str, rows: Sequence[TrialResult], settings: tuple[str, ...]) -> ArmSummary:
    done = [r for r in rows if r.status == "complete" and r.test_auc is not None]
    params = [r.embedding_params for r in done if r.embedding_params is not None]
    sizes = [r.embedding_bytes for r in done if r.embedding_bytes is not None]
    seconds = [r.train_seconds for r in done if r.train_seconds is not None]
    return ArmSummary(
        arm=arm,
        seeds=tuple(sorted(r.seed for r in done)),
        test_auc=mean_std([r.test_auc for r in done if r.test_auc is not None]),
        test_logloss=mean_std([r.test_logloss for r in done if r.test_logloss is not None]),
        embedding_params=statistics.median_low(params) if params else None,
        embedding_bytes=statistics.median_low(sizes) if sizes else None,
        train_seconds=statistics.fmean(seconds) if seconds else None,
        pruned=sum(r.status == "pruned" for r in rows),
        failed=sum(r.status == "failed" for r in rows),
        settings=settings,
    )
