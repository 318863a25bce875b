"""The Matryoshka sizes of a study's arms: per arm and size, the test AUC over seeds and the ID
tables' bytes, from the rows' per-size reports."""

from __future__ import annotations

import json
from typing import Any

import pytest

from harness.leaderboard.markdown import sizes_section
from harness.leaderboard.sizes import size_rows
from harness.leaderboard.summary import summarize_studies
from harness.results.table import TrialResult


def _row(arm: str, seed: int, sizes: dict[int, float], **kw: Any) -> TrialResult:
    report = {
        str(k): {"valid_auc": auc, "test_auc": auc, "table_bytes": 1000 * k}
        for k, auc in sizes.items()
    }
    values: dict[str, Any] = {
        "suite": "criteo",
        "dataset": "criteo@abc",
        "protocol": "x4",
        "family": "neural",
        "model": "dcnv2",
        "space_fingerprint": f"fp-{arm}",
        "study": f"criteo/matryoshka-ids:{arm}/dcnv2@fp",
        "trial_id": f"{arm}-{seed}",
        "study_trial": seed,
        "params": "{}",
        "seed": seed,
        "status": "complete",
        "valid_auc": sizes[16],
        "test_auc": sizes[16],
        "factor_study": "matryoshka-ids",
        "arm": arm,
        "base_source": "base",
        "started_at": f"2026-01-01T00:00:{seed:02d}",
        "matryoshka": json.dumps(report),
        **kw,
    }
    return TrialResult(**values)


ROWS = [
    _row("plain-cut", 0, {4: 0.70, 8: 0.75, 16: 0.80}),
    _row("plain-cut", 1, {4: 0.72, 8: 0.77, 16: 0.80}),
    _row("nested", 0, {4: 0.78, 8: 0.79, 16: 0.80}),
    _row("nested", 1, {4: 0.60, 8: 0.60, 16: 0.60}, status="pruned"),
]


def test_rows_per_arm_and_size_over_completed_seeds() -> None:
    rows = size_rows(ROWS, ["plain-cut", "nested"])
    got = [(r.arm, r.size, r.full, r.seeds, r.table_bytes) for r in rows]
    assert got == [
        ("plain-cut", 4, False, 2, 4000),
        ("plain-cut", 8, False, 2, 8000),
        ("plain-cut", 16, True, 2, 16000),
        ("nested", 4, False, 1, 4000),
        ("nested", 8, False, 1, 8000),
        ("nested", 16, True, 1, 16000),
    ]
    assert rows[0].test_auc is not None and rows[0].test_auc.mean == pytest.approx(0.71)
    assert size_rows(ROWS, ["other"]) == ()


def test_the_study_section_shows_the_sizes_table() -> None:
    (study,) = summarize_studies(ROWS)
    text = "\n".join(sizes_section(study.sizes))
    assert "| plain-cut | 4 | 0.7100 ± 0.0141 | 3.9 KiB | 2 |" in text
    assert "| nested | 16 (whole) | 0.8000 ± — | 15.6 KiB | 1 |" in text
