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
    return RunInfo(
        suite="criteo",
        title="criteo (synthetic)" if synthetic else "criteo",
        synthetic=synthetic,
        source="train.txt",
        protocol="sequential (file order 80/10/10)",
        min_count=2,
        rows=(8000, 1000, 1000),
        skipped_rows=3,
        n_num=13,
        n_cat=26,
        vocabulary=123456,
        started_at="2026-11-25 08:00 UTC",
        harness_version="0.1.0",
        resources="local Ray, 2 CPUs, 1 CPU per trial",
        trials_per_model=12,
        time_budget_s=600,
        results_path="runs/criteo/results.parquet",
        storage_url="sqlite:///runs/criteo/studies.sqlite3",
    )


def test_markdown_rows_and_header(rows: list[TrialResult]) -> None:
    text = render(_info(False), summarize(rows, KINDS))
    assert text.startswith("# Leaderboard: criteo\n")
    assert "Synthetic data" not in text
    assert "| rows | train 8,000 · valid 1,000 · test 1,000 · skipped bad rows 3 |" in text
    table = [line for line in text.splitlines() if line.startswith("| ") and "AUC" not in line]
    dcn = next(line for line in table if "| dcnv2 |" in line)
    assert dcn.startswith("| 1 | dcnv2 | 0.8010 | 0.7900 | 0.4600 | +0.0150 | 2 (1/0/1) |")
    assert "backbone.mlp.dims=[512, 256]" in dcn  # the "model." prefix is dropped
    assert "| lightgbm | 0.7900 | 0.7750 | 0.4600 | reference | 3 (2/1/0) |" in text
    assert "| — | deepfm | — | — | — | — | 0 (0/0/0) |" in text


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
