"""The results table: parquet round trip, appends, atomic writes, row validation."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import polars as pl
import pytest

from harness.results import (
    RESULT_SCHEMA,
    TrialResult,
    append_results,
    package_versions,
    read_results,
    read_results_frame,
)


def row(n: int, status: str = "complete", **changes: object) -> TrialResult:
    values: dict[str, object] = {
        "suite": "criteo",
        "dataset": "criteo-1m",
        "protocol": "random",
        "family": "lightgbm",
        "study": "criteo/lightgbm",
        "trial_id": f"t{n}",
        "study_trial": n,
        "params": json.dumps({"num_leaves": 31 + n, "mlp_dims": "[512, 256]"}),
        "seed": 0,
        "status": status,
        "valid_auc": 0.79 + n / 1000,
        "valid_logloss": 0.45,
        "test_auc": 0.78 if status == "complete" else None,
        "test_logloss": 0.46 if status == "complete" else None,
        "best_epoch": 120,
        "epochs": 220,
        "curve": json.dumps([{"epoch": 50, "valid_auc": 0.7, "valid_logloss": 0.5}]),
        "n_params": 1234,
        "samples_per_s": 1e6,
        "train_seconds": 3.5,
        "wall_seconds": 4.0,
        "started_at": "2026-01-01T00:00:00+00:00",
        **package_versions(),
    }
    values.update(changes)
    return TrialResult(**values)  # type: ignore[arg-type]


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "out" / "results.parquet"
    rows = [
        row(0),
        row(1, status="pruned", n_params=None, train_seconds=None),
        row(2, status="failed", error="RuntimeError: boom", valid_auc=None, study_trial=None),
    ]
    assert append_results(path, rows) == 3
    assert read_results(path) == rows
    frame = read_results_frame(path)
    assert frame.schema == pl.Schema(RESULT_SCHEMA)
    assert frame["status"].to_list() == ["complete", "pruned", "failed"]
    assert read_results(path)[0].params_dict["num_leaves"] == 31
    assert read_results(path)[0].curve_list[0]["epoch"] == 50


def test_appends_keep_earlier_rows(tmp_path: Path) -> None:
    path = tmp_path / "results.parquet"
    append_results(path, [row(0)])
    append_results(path, [row(1), row(2)])
    assert [r.trial_id for r in read_results(path)] == ["t0", "t1", "t2"]
    # No temporary files are left next to the table.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.parquet", "results.parquet.lock"]


def test_interrupted_write_keeps_the_old_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "results.parquet"
    append_results(path, [row(0)])
    before = path.read_bytes()

    def crash(*_args: object) -> None:
        raise KeyboardInterrupt  # interrupted between writing the new file and replacing

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        append_results(path, [row(1)])
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [r.trial_id for r in read_results(path)] == ["t0"]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_nan_auc_survives(tmp_path: Path) -> None:
    path = tmp_path / "r.parquet"
    append_results(path, [row(0, valid_auc=math.nan)])
    got = read_results(path)[0].valid_auc
    assert got is not None and math.isnan(got)


def test_table_written_before_a_new_column_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "old.parquet"
    frame = pl.DataFrame([row(0).__dict__], schema=RESULT_SCHEMA).drop("notes", "cpus")
    frame.write_parquet(path)
    append_results(path, [row(1, notes="x")])
    rows = read_results(path)
    assert [r.notes for r in rows] == ["", "x"]
    assert rows[0].cpus == 1.0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"status": "done"}, "status"),
        ({"status": "failed"}, "error"),
        ({"valid_auc": 1.5}, "valid_auc"),
        ({"params": "{not json"}, "params"),
    ],
)
def test_row_validation_names_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        row(0, **changes)


def test_a_table_without_embedding_sizes_or_study_columns_reads_them_as_none(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.parquet"
    new = ("embedding_params", "embedding_bytes", "factor_study", "arm", "base_source")
    pl.DataFrame([row(0).__dict__], schema=RESULT_SCHEMA).drop(*new).write_parquet(path)
    tagged = row(1, embedding_params=800, embedding_bytes=3200, factor_study="s", arm="a",
                 base_source="defaults")  # fmt: skip
    append_results(path, [tagged])
    old, got = read_results(path)
    assert (old.embedding_params, old.embedding_bytes) == (None, None)
    assert (old.factor_study, old.arm, old.base_source) == ("", "", "")
    assert got == tagged


def test_a_study_row_needs_its_arm() -> None:
    with pytest.raises(ValueError, match="study and an arm"):
        row(0, factor_study="s")
