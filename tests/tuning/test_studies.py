"""Optuna states match the results table; a killed run's RUNNING trials are closed with a row."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
from optuna.trial import TrialState

from harness.fitting import EpochMetrics, FitResult
from harness.metrics import Metrics
from harness.results.table import TrialResult
from harness.tuning.reports import EpochReport, FinalReport, Placement, report_of
from harness.tuning.rows import RowContext
from harness.tuning.space import SearchSpace
from harness.tuning.studies import StudyBook, close_stale_trials, open_storage


def _ctx(space: SearchSpace) -> RowContext:
    return RowContext(
        suite="unit",
        dataset="planted",
        protocol="random",
        family="lightgbm",
        model=space.name,
        fingerprint=space.fingerprint,
        study=f"unit/{space.name}",
        seed=0,
    )


def test_each_outcome_gets_its_optuna_state(lightgbm_space: SearchSpace, tmp_path: Path) -> None:
    storage = open_storage(tmp_path / "s.sqlite3")
    book = StudyBook(storage, lightgbm_space, _ctx(lightgbm_space), seed=0)
    for ray_id in "abcd":
        _, params = book.ask(ray_id)
        assert set(params) == {"learning_rate", "num_leaves", "categorical"}
        book.report(ray_id, 1, 0.6)
        book.report(ray_id, 2, 0.65)
    book.tell("a", "complete", 0.65)
    book.tell("b", "pruned", None, "stopped early by the ASHA scheduler")
    book.tell("c", "failed", None, "RuntimeError: boom")
    book.tell("d", "interrupted", None, "stopped by Ctrl-C")
    study = optuna.load_study(study_name="unit/lightgbm", storage=storage)
    states = [t.state for t in study.trials]
    assert states == [TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.FAIL]
    assert study.trials[0].value == 0.65
    assert study.trials[1].intermediate_values == {1: 0.6, 2: 0.65}
    assert [t.user_attrs["harness_status"] for t in study.trials] == [
        "complete", "pruned", "failed", "interrupted"]  # fmt: skip
    assert study.trials[2].user_attrs["harness_reason"] == "RuntimeError: boom"
    assert book.open_ids() == []


def test_a_second_book_samples_new_points(lightgbm_space: SearchSpace, tmp_path: Path) -> None:
    storage = open_storage(tmp_path / "s.sqlite3")
    first = StudyBook(storage, lightgbm_space, _ctx(lightgbm_space), seed=0)
    points = [first.ask(str(i))[1] for i in range(3)]
    for i in range(3):
        first.tell(str(i), "complete", 0.6 + i / 100)
    second = StudyBook(storage, lightgbm_space, _ctx(lightgbm_space), seed=0)
    number, params = second.ask("x")
    assert number == 3 and params not in points  # not a replay of the first suggestions


def test_running_trials_of_a_killed_run_are_closed_with_rows(
    lightgbm_space: SearchSpace, tmp_path: Path
) -> None:
    storage = open_storage(tmp_path / "s.sqlite3")
    book = StudyBook(storage, lightgbm_space, _ctx(lightgbm_space), seed=0)
    book.ask("done")
    book.tell("done", "complete", 0.7)
    _, params = book.ask("killed")
    book.report("killed", 1, 0.61)
    book.report("killed", 2, 0.64)
    written: list[TrialResult] = []
    # A fresh storage object, as the next process would open it.
    assert close_stale_trials(open_storage(tmp_path / "s.sqlite3"), written.extend) == 1
    (row,) = written
    assert row.status == "interrupted" and row.study_trial == 1 and row.trial_id == "killed"
    assert json.loads(row.params) == params and row.model == "lightgbm"
    assert row.valid_auc == 0.64 and row.best_epoch == 2 and row.test_auc is None
    assert json.loads(row.config)["num_leaves"] == params["num_leaves"]
    study = optuna.load_study(study_name="unit/lightgbm", storage=storage)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE, TrialState.FAIL]
    assert close_stale_trials(storage, written.extend) == 0  # nothing left running


def test_a_trial_killed_before_it_was_labelled_gets_a_row_from_its_study(
    lightgbm_space: SearchSpace, tmp_path: Path
) -> None:
    """kill -9 between Optuna's ask and the labels: the bare trial still gets its row."""
    storage = open_storage(tmp_path / "s.sqlite3")
    book = StudyBook(storage, lightgbm_space, _ctx(lightgbm_space), seed=0)
    book.ask("done")
    book.tell("done", "complete", 0.7)
    bare = book.study.ask()  # no user attribute yet
    written: list[TrialResult] = []
    assert close_stale_trials(open_storage(tmp_path / "s.sqlite3"), written.extend) == 1
    (row,) = written
    assert row.status == "interrupted" and row.study_trial == bare.number
    assert row.model == "lightgbm" and row.study == "unit/lightgbm" and row.trial_id == ""


def test_reports_round_trip_through_a_ray_result() -> None:
    where = Placement("cuda", "0,1", 2.0, "")
    m = EpochMetrics(3, Metrics(0.71, 0.45), 0.5, 1.25, test=Metrics(0.7, 0.46), n_params=9)
    epoch = EpochReport.of(m, where)
    result = epoch.to_result()
    assert result["valid_auc"] == 0.71  # what ASHA reads
    assert report_of(result) == epoch
    fit = FitResult(Metrics(0.71, 0.45), Metrics(0.7, 0.46), 3, (m,), 9, 4.0, out_of_time=True)
    final = FinalReport.of(fit, ("click",), where)
    assert report_of(final.to_result()) == final and final.out_of_time
    assert final.task_metrics == "{}"  # one task: no per-task scores
    assert report_of({"valid_auc": 0.5}) is None


def test_a_row_written_before_the_kill_is_not_written_twice(
    lightgbm_space: SearchSpace, tmp_path: Path
) -> None:
    from harness.tuning.rows import TrialOutcome, make_row

    storage = open_storage(tmp_path / "s.sqlite3")
    book = StudyBook(storage, lightgbm_space, _ctx(lightgbm_space), seed=0)
    number, params = book.ask("a")
    # The row reached the table; the process died before telling the study.
    row = make_row(
        book.ctx,
        TrialOutcome("pruned", "a", number, params, "{}", curve=[{"epoch": 1, "valid_auc": 0.6}]),
    )
    written: list[TrialResult] = []
    recorded = {(row.study, number): row}
    assert close_stale_trials(open_storage(tmp_path / "s.sqlite3"), written.extend, recorded) == 1
    assert written == []
    (trial,) = optuna.load_study(study_name="unit/lightgbm", storage=storage).trials
    assert trial.state == TrialState.PRUNED and trial.user_attrs["harness_status"] == "pruned"


def test_open_trials_at_the_end_are_closed_and_not_counted_as_done(
    lightgbm_space: SearchSpace, tmp_path: Path
) -> None:
    from harness.tuning.recorder import TrialRecorder
    from harness.tuning.stop import StopRequest

    storage = open_storage(tmp_path / "s.sqlite3")
    book = StudyBook(storage, lightgbm_space, _ctx(lightgbm_space), seed=0)
    book.ask("never-started")
    book.ask("cut-off")
    written: list[TrialResult] = []
    recorder = TrialRecorder(book, written.extend, StopRequest(), hard_deadline=None)
    recorder.on_trial_start(0, [], type("T", (), {"trial_id": "cut-off"})())
    recorder.finish(RuntimeError("Ray lost its head node"))
    assert [(r.trial_id, r.status) for r in written] == [
        ("never-started", "interrupted"), ("cut-off", "interrupted")]  # fmt: skip
    assert "RuntimeError: Ray lost its head node" in written[1].notes
    study = optuna.load_study(study_name="unit/lightgbm", storage=storage)
    assert [t.state for t in study.trials] == [TrialState.FAIL, TrialState.FAIL]
    late = StudyBook(storage, lightgbm_space, _ctx(lightgbm_space), seed=0)
    late.ask("pending")
    TrialRecorder(late, written.extend, StopRequest(), hard_deadline=0.0).finish()
    assert written[-1].status == "interrupted" and "had not started" in written[-1].notes
