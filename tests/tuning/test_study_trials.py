"""What a study's trial carries to its row: its own seed, its study and arm, the embeddings' size
(also when it is stopped early or left running by a killed run)."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
from optuna.trial import TrialState

from harness.fitting import EpochMetrics, FitResult
from harness.metrics import Metrics
from harness.results.table import TrialResult
from harness.tuning.reports import EpochReport, FinalReport, Placement, report_of
from harness.tuning.rows import RowContext, StudyArm, TrialOutcome, make_row
from harness.tuning.space import SearchSpace
from harness.tuning.studies import (
    StudyBook,
    StudyBooks,
    close_stale_trials,
    open_storage,
    study_name,
)

M = Metrics(auc=0.75, logloss=0.5)


def _ctx(space: SearchSpace, arm: StudyArm | None = None) -> RowContext:
    return RowContext(
        suite="unit",
        dataset="planted",
        protocol="random",
        family=space.family,
        model=space.name,
        fingerprint=space.fingerprint,
        study=study_name("unit", space, arm),
        seed=7,
        factor_study=arm.study if arm else "",
        arm=arm.arm if arm else "",
        base_source=arm.base_source if arm else "",
    )


def test_reports_carry_the_embedding_sizes() -> None:
    epoch = EpochMetrics(1, M, test=M, n_params=10, embedding_params=6, embedding_bytes=24)
    report = EpochReport.of(epoch, Placement())
    assert report_of(report.to_result()) == report
    assert (report.embedding_params, report.embedding_bytes) == (6, 24)
    fit = FitResult(M, M, 1, (epoch,), 10, 1.0, embedding_params=6, embedding_bytes=24)
    final = FinalReport.of(fit, ("label",), Placement())
    assert report_of(final.to_result()) == final
    assert (final.embedding_params, final.embedding_bytes) == (6, 24)


def test_a_rows_seed_and_sizes(lightgbm_space: SearchSpace) -> None:
    arm = StudyArm("sizes", "small", "defaults")
    ctx = _ctx(lightgbm_space, arm)
    curve = [{"epoch": 1, "valid_auc": 0.7, "seconds": 1.0}]
    stopped = make_row(
        ctx,
        TrialOutcome(
            "pruned",
            "a",
            0,
            {},
            "{}",
            curve=curve,
            n_params=10,
            embedding_params=6,
            embedding_bytes=24,
            seed=2,
        ),
    )
    assert (stopped.seed, stopped.embedding_params, stopped.embedding_bytes) == (2, 6, 24)
    assert (stopped.factor_study, stopped.arm) == ("sizes", "small")
    assert stopped.base_source == "defaults"
    failed = make_row(
        ctx, TrialOutcome("failed", "b", 1, {}, "{}", error="boom", embedding_params=6)
    )
    assert failed.embedding_params is None and failed.seed == 7  # no seed of its own: ctx's


def test_each_trial_goes_to_its_arms_study_with_its_seed(
    lightgbm_space: SearchSpace, tmp_path: Path
) -> None:
    storage = open_storage(tmp_path / "s.sqlite3")
    arms = [StudyArm("s", "a"), StudyArm("s", "b")]
    books = StudyBooks(
        [StudyBook(storage, lightgbm_space, _ctx(lightgbm_space, a), 0) for a in arms]
    )
    books.ask("r0", 0, seed=0)
    books.ask("r1", 1, seed=1)
    assert (books.ctx("r1").arm, books.seed("r1"), books.seed("r0")) == ("b", 1, 0)
    assert books.open_ids() == ["r0", "r1"]
    books.tell("r0", "complete", 0.7)
    assert books.open_ids() == ["r1"]
    names = {s.study_name for s in optuna.get_all_study_summaries(storage)}
    assert names == {f"unit/s:{a.arm}/lightgbm@{lightgbm_space.fingerprint[:8]}" for a in arms}

    # A killed run left r1 running: the next run closes it with its seed, study and arm.
    written: list[TrialResult] = []
    assert close_stale_trials(open_storage(tmp_path / "s.sqlite3"), written.extend) == 1
    (row,) = written
    assert (row.status, row.seed, row.factor_study, row.arm) == ("interrupted", 1, "s", "b")
    study = optuna.load_study(study_name=row.study, storage=storage)
    assert [t.state for t in study.trials] == [TrialState.FAIL]
    assert json.loads(study.trials[0].user_attrs["row_context"])["arm"] == "b"
