"""Leaderboard: best configuration per model, lift over the best GBDT, markdown a person reads."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from harness.leaderboard.console import leaderboard_table
from harness.leaderboard.markdown import (
    RunInfo,
    format_params,
    format_seconds,
    render,
    write_atomic,
)
from harness.leaderboard.summary import summarize
from harness.results.table import TrialResult
from tests.leaderboard.boards import run_info

KINDS = {
    "lightgbm": ("gbdt", "fp-lgb"),
    "catboost": ("gbdt", "fp-cb"),
    "dcnv2": ("neural", "fp-dcn"),
    "deepfm": ("neural", "fp-dfm"),
}
_FAMILY = {"lightgbm": "lightgbm", "catboost": "catboost", "dcnv2": "neural", "deepfm": "neural"}


def _row(
    model: str, status: str, valid: float | None, test: float | None, **kw: object
) -> TrialResult:
    kw.setdefault("space_fingerprint", KINDS[model][1])
    return TrialResult(
        suite="criteo",
        dataset="criteo@abc",
        protocol="sequential",
        family=_FAMILY[model],
        model=model,
        study=f"criteo/{model}",
        trial_id=f"{model}-{valid}-{status}",
        study_trial=0,
        params=json.dumps(kw.pop("params", {"learning_rate": 0.05})),
        seed=0,
        status=status,
        error="boom" if status == "failed" else "",
        valid_auc=valid,
        valid_logloss=0.45 if valid is not None else None,
        test_auc=test,
        test_logloss=0.46 if test is not None else None,
        n_params=1234,
        train_seconds=12.0,
        wall_seconds=20.0,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def rows() -> list[TrialResult]:
    return [
        _row("lightgbm", "complete", 0.780, 0.770),
        _row("lightgbm", "complete", 0.790, 0.775),
        _row("lightgbm", "pruned", 0.800, None),  # never saw test: cannot be best
        _row("catboost", "complete", 0.785, 0.780),
        _row("dcnv2", "complete", 0.801, 0.790, params={"model.backbone.mlp.dims": "[512, 256]"}),
        _row("dcnv2", "failed", None, None),
    ]


def test_best_is_by_valid_auc_among_completed(rows: list[TrialResult]) -> None:
    by_family = {s.model: s for s in summarize(rows, KINDS)}
    assert by_family["lightgbm"].best is not None
    assert by_family["lightgbm"].best.valid_auc == 0.790
    assert (by_family["lightgbm"].complete, by_family["lightgbm"].pruned) == (2, 1)
    assert (by_family["dcnv2"].complete, by_family["dcnv2"].failed) == (1, 1)
    assert by_family["deepfm"].best is None and by_family["deepfm"].trials == 0


def test_a_stopped_trial_with_a_test_score_can_lead(rows: list[TrialResult]) -> None:
    # A DCN-v2 trial cut by the time limit after its best epoch was scored on test.
    cut = _row("dcnv2", "pruned", 0.805, 0.792)
    by_family = {s.model: s for s in summarize([*rows, cut], KINDS)}
    assert by_family["dcnv2"].best is cut
    assert (by_family["dcnv2"].complete, by_family["dcnv2"].pruned) == (1, 1)


def test_lift_is_against_best_gbdt_by_validation(rows: list[TrialResult]) -> None:
    by_family = {s.model: s for s in summarize(rows, KINDS)}
    # lightgbm (valid 0.790) beats catboost (0.785) by validation, though catboost tests higher.
    assert by_family["lightgbm"].reference
    assert not by_family["catboost"].reference
    assert by_family["dcnv2"].lift == pytest.approx(0.790 - 0.775)
    assert by_family["catboost"].lift == pytest.approx(0.780 - 0.775)
    assert by_family["deepfm"].lift is None


def test_rank_order_puts_models_without_results_last(rows: list[TrialResult]) -> None:
    assert [s.model for s in summarize(rows, KINDS)] == ["dcnv2", "lightgbm", "catboost", "deepfm"]


def test_no_gbdt_means_no_lift(rows: list[TrialResult]) -> None:
    only_nn = summarize([r for r in rows if r.model == "dcnv2"], {"dcnv2": KINDS["dcnv2"]})
    assert only_nn[0].lift is None and not only_nn[0].reference


def _info(synthetic: bool) -> RunInfo:
    title = "criteo (synthetic)" if synthetic else "criteo"
    return run_info(title=title, synthetic=synthetic, skipped_rows=3)


def test_markdown_rows_and_header(rows: list[TrialResult]) -> None:
    text = render(_info(False), summarize(rows, KINDS))
    assert text.startswith("# Leaderboard: criteo\n")
    assert "Synthetic data" not in text
    assert "| rows | train 8,000 · valid 1,000 · test 1,000 · skipped bad rows 3 |" in text
    table = [line for line in text.splitlines() if line.startswith("| ") and "AUC" not in line]
    dcn = next(line for line in table if "| dcnv2 |" in line)
    # No repeat stage in these rows: the single-seed search scores, a one-seed lift, no test.
    assert dcn.startswith("| 1 | dcnv2 | 0.8010 | 0.7900 | — | — | 0 | +0.0150 (1 seed) | — | — |")
    assert dcn.endswith("| 12 s | — | — | 1.2k | 4.8 KiB |")  # fp32 weights: 1234 x 4 bytes
    search = next(line for line in table if line.startswith("| dcnv2 |"))
    assert search.startswith("| dcnv2 | 2 (1/0/1) | ")
    assert "backbone.mlp.dims=[512, 256]" in search  # the "model." prefix is dropped
    assert "| lightgbm | 0.7900 | 0.7750 | — | — | 0 | reference | — | — | reference |" in text
    assert "| — | deepfm |" in text and "| deepfm | 0 (0/0/0) | " in text
    assert "differences below about 0.005" in text


def test_synthetic_is_named_in_title_and_warning(rows: list[TrialResult]) -> None:
    text = render(_info(True), summarize(rows, KINDS))
    assert text.startswith("# Leaderboard: criteo (synthetic)\n")
    assert "**Synthetic data.**" in text
    assert "harness dashboard --suite criteo --synthetic" in text


def test_rich_table_has_a_row_per_model(rows: list[TrialResult]) -> None:
    table = leaderboard_table("t", summarize(rows, KINDS))
    assert table.row_count == 4


def test_trials_of_an_older_space_are_counted_not_ranked(rows: list[TrialResult]) -> None:
    old = _row("dcnv2", "complete", 0.9, 0.9, space_fingerprint="fp-old")
    by_model = {s.model: s for s in summarize([*rows, old], KINDS)}
    assert by_model["dcnv2"].best is not None and by_model["dcnv2"].best.valid_auc == 0.801
    assert by_model["dcnv2"].older == 1 and by_model["dcnv2"].trials == 2
    text = render(_info(False), summarize([*rows, old], KINDS))
    assert "- dcnv2: 1 trials of an earlier version of its search space are not ranked" in text


def test_rows_from_before_models_read_as_their_family() -> None:
    legacy = TrialResult(
        suite="criteo", dataset="d", protocol="x1", family="lightgbm", study="criteo/lightgbm",
        trial_id="1", study_trial=0, params="{}", seed=0, status="complete",
    )  # fmt: skip
    assert legacy.model == "lightgbm"


def test_multi_task_rows_get_a_per_task_column(rows: list[TrialResult]) -> None:
    tasks = json.dumps(
        {
            "like": {"valid_auc": 0.8, "valid_logloss": 0.4, "test_auc": 0.79, "test_logloss": 0.4},
            "love": {
                "valid_auc": 0.7,
                "valid_logloss": 0.5,
                "test_auc": 0.7123,
                "test_logloss": 0.5,
            },
        }
    )
    multi = _row("deepfm", "complete", 0.802, 0.79, task_metrics=tasks)
    text = render(_info(False), summarize([*rows, multi], KINDS))
    header = next(line for line in text.splitlines() if line.startswith("| rank |"))
    assert "test AUC per task" in header
    line = next(line for line in text.splitlines() if "| deepfm |" in line)
    assert "like 0.7900 · love 0.7123" in line
    rule = text.splitlines()[text.splitlines().index(header) + 1]
    assert rule.count("|") == header.count("|")
    assert "test AUC per task" not in render(_info(False), summarize(rows, KINDS))


def test_grouped_rows_get_gauc_and_ndcg_columns(rows: list[TrialResult]) -> None:
    ranked = _row("deepfm", "complete", 0.802, 0.79, test_gauc=0.7311, test_ndcg10=0.6422)
    text = render(_info(False), summarize([*rows, ranked], KINDS))
    header = next(line for line in text.splitlines() if line.startswith("| rank |"))
    assert "| test GAUC | test NDCG@10 |" in header
    line = next(line for line in text.splitlines() if "| deepfm |" in line)
    assert "| 0.7311 | 0.6422 |" in line
    rule = text.splitlines()[text.splitlines().index(header) + 1]
    assert rule.count("|") == header.count("|") == line.count("|")


def test_model_descriptions_are_listed(rows: list[TrialResult]) -> None:
    info = replace(_info(False), models=(("dcnv2", "neural", "cross network then MLP"),))
    assert "- `dcnv2` (neural): cross network then MLP" in render(info, summarize(rows, KINDS))


def test_formatting() -> None:
    assert format_seconds(42) == "42 s"
    assert format_seconds(125) == "2 min 05 s"
    assert format_seconds(7260) == "2 h 01 min"
    assert format_params(None) == "—"
    assert format_params(950) == "950"
    assert format_params(3_675_184) == "3.7M"


def test_write_atomic_replaces_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "leaderboards" / "criteo.md"
    write_atomic(target, "old")
    write_atomic(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in target.parent.iterdir()] == ["criteo.md"]


def test_a_model_cut_short_by_the_budget_is_flagged_in_the_table(rows: list[TrialResult]) -> None:
    stopped = _row("deepfm", "pruned", 0.79, 0.78, epochs=1)
    stopped = replace(stopped, notes="stopped by its share of the time budget")
    summaries = summarize([*rows, stopped], KINDS, asked=4)
    text = render(_info(False), summaries)
    deepfm = next(line for line in text.splitlines() if line.startswith("| deepfm (cut short) |"))
    assert "| 1 of 4 (0/1/0) |" in deepfm
    assert "- deepfm: no trial finished" in text
    # A finished search is not flagged, and its trial count says how many were asked.
    assert "| catboost | " in text and "| 1 of 4 (1/0/0) |" in text
    best_stopped = replace(
        _row("catboost", "pruned", 0.99, 0.98, epochs=3),
        notes="stopped by its share of the time budget",
    )
    (cat,) = [s for s in summarize([*rows, best_stopped], KINDS) if s.model == "catboost"]
    assert cat.cut_short == "its best trial was stopped by the time budget at epoch 3"


def test_failure_reasons_and_interrupted_trials_are_shown(rows: list[TrialResult]) -> None:
    failed = replace(_row("dcnv2", "failed", None, None), error="DivergedError: loss | NaN")
    halted = _row("dcnv2", "interrupted", 0.7, None)
    text = render(_info(False), summarize([*rows, failed, halted], KINDS))
    assert "Failed trials" in text
    assert "- dcnv2: 1 × boom" in text and "- dcnv2: 1 × DivergedError: loss \\| NaN" in text
    # Interrupted trials are counted beside the ended ones, never ranked.
    assert "| 3 (1/0/2, 1 interrupted) |" in text


def test_interrupted_and_resumed_runs_say_so_in_the_header(rows: list[TrialResult]) -> None:
    info = replace(
        _info(False),
        interrupted=True,
        invocations=3,
        wall_seconds=125.0,
        command="harness run --suite criteo --resume",
    )
    text = render(info, summarize(rows, KINDS))
    assert "> **Interrupted.**" in text and "`--resume`" in text
    assert "tuning took 2 min 05 s over 3 invocations (resumed)" in text
    assert "| command | `harness run --suite criteo --resume` |" in text
    assert "**Interrupted.**" not in render(_info(False), summarize(rows, KINDS))


def test_every_command_that_made_the_board_is_in_its_header(rows: list[TrialResult]) -> None:
    search = "harness run --suite criteo --trials 4"
    study = "harness run --suite criteo --study one-epoch --seeds 2"
    info = replace(_info(False), command=study, commands=(search, study))
    text = render(info, summarize(rows, KINDS))
    assert f"| commands (in order) | `{search}`, then `{study}` |" in text
    assert RunInfo.from_json(info.to_json()).commands == (search, study)


def test_paths_on_the_board_name_no_machine_folder(
    rows: list[TrialResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.paths import shipped_folder

    monkeypatch.setenv("HARNESS_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    info = replace(
        _info(True),
        source=str(tmp_path / "home" / "downloads" / "synthetic" / "criteo-9-seed0" / "train.txt"),
        card=str(shipped_folder("datasets") / "criteo.toml"),
        results_path=str(tmp_path / "runs" / "x" / "results.parquet"),
        storage_url=f"sqlite:///{tmp_path / 'runs' / 'x' / 'studies.sqlite3'}",
    )
    text = render(info, summarize(rows, KINDS))
    assert "| data | $HARNESS_HOME/downloads/synthetic/criteo-9-seed0/train.txt |" in text
    assert "`<harness>/datasets/criteo.toml`" in text
    assert "`./runs/x/results.parquet`" in text and "`sqlite:///./runs/x/studies.sqlite3`" in text
    assert str(tmp_path) not in text


def test_written_files_follow_the_umask(tmp_path: Path) -> None:
    import os

    from harness.results.table import append_results

    old = os.umask(0o022)
    try:
        board = write_atomic(tmp_path / "board.md", "x")
        append_results(tmp_path / "results.parquet", [_row("lightgbm", "complete", 0.7, 0.7)])
        os.umask(0o002)
        shared = write_atomic(tmp_path / "shared.md", "x")
    finally:
        os.umask(old)
    assert board.stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "results.parquet").stat().st_mode & 0o777 == 0o644
    assert shared.stat().st_mode & 0o777 == 0o664
