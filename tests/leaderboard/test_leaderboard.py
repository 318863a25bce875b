"""Leaderboard: best configuration per family, lift over the best GBDT, markdown a person reads."""

from __future__ import annotations

import json
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

KINDS = {"lightgbm": "gbdt", "catboost": "gbdt", "dcnv2": "neural", "deepfm": "neural"}


def _row(
    family: str, status: str, valid: float | None, test: float | None, **kw: object
) -> TrialResult:
    return TrialResult(
        suite="criteo",
        dataset="criteo@abc",
        protocol="sequential",
        family=family,
        study=f"criteo/{family}",
        trial_id=f"{family}-{valid}-{status}",
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
        _row("dcnv2", "complete", 0.801, 0.790, params={"mlp_dims": "[512, 256]"}),
        _row("dcnv2", "failed", None, None),
    ]


def test_best_is_by_valid_auc_among_completed(rows: list[TrialResult]) -> None:
    by_family = {s.family: s for s in summarize(rows, KINDS)}
    assert by_family["lightgbm"].best is not None
    assert by_family["lightgbm"].best.valid_auc == 0.790
    assert (by_family["lightgbm"].complete, by_family["lightgbm"].pruned) == (2, 1)
    assert (by_family["dcnv2"].complete, by_family["dcnv2"].failed) == (1, 1)
    assert by_family["deepfm"].best is None and by_family["deepfm"].trials == 0


def test_a_stopped_trial_with_a_test_score_can_lead(rows: list[TrialResult]) -> None:
    # A DCN-v2 trial cut by the time limit after its best epoch was scored on test.
    cut = _row("dcnv2", "pruned", 0.805, 0.792)
    by_family = {s.family: s for s in summarize([*rows, cut], KINDS)}
    assert by_family["dcnv2"].best is cut
    assert (by_family["dcnv2"].complete, by_family["dcnv2"].pruned) == (1, 1)


def test_lift_is_against_best_gbdt_by_validation(rows: list[TrialResult]) -> None:
    by_family = {s.family: s for s in summarize(rows, KINDS)}
    # lightgbm (valid 0.790) beats catboost (0.785) by validation, though catboost tests higher.
    assert by_family["lightgbm"].reference
    assert not by_family["catboost"].reference
    assert by_family["dcnv2"].lift == pytest.approx(0.790 - 0.775)
    assert by_family["catboost"].lift == pytest.approx(0.780 - 0.775)
    assert by_family["deepfm"].lift is None


def test_rank_order_puts_families_without_results_last(rows: list[TrialResult]) -> None:
    assert [s.family for s in summarize(rows, KINDS)] == ["dcnv2", "lightgbm", "catboost", "deepfm"]


def test_no_gbdt_means_no_lift(rows: list[TrialResult]) -> None:
    only_nn = summarize([r for r in rows if r.family == "dcnv2"], {"dcnv2": "neural"})
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
        trials_per_family=12,
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
    assert "mlp_dims=[512, 256]" in dcn
    assert "| lightgbm | 0.7900 | 0.7750 | 0.4600 | reference | 3 (2/1/0) |" in text
    assert "| — | deepfm | — | — | — | — | 0 (0/0/0) |" in text


def test_synthetic_is_named_in_title_and_warning(rows: list[TrialResult]) -> None:
    text = render(_info(True), summarize(rows, KINDS))
    assert text.startswith("# Leaderboard: criteo (synthetic)\n")
    assert "**Synthetic data.**" in text
    assert "harness dashboard --suite criteo --synthetic" in text


def test_rich_table_has_a_row_per_family(rows: list[TrialResult]) -> None:
    table = leaderboard_table("t", summarize(rows, KINDS))
    assert table.row_count == 4


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
