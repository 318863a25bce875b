"""A leaderboard header's facts for tests: every field filled, any one overridden."""

from __future__ import annotations

import dataclasses
from typing import Any

from harness.leaderboard.markdown import RunInfo

__all__ = ["run_info"]


def run_info(**overrides: Any) -> RunInfo:
    """A criteo run's ``RunInfo`` (8,000 / 1,000 / 1,000 rows, 12 trials, 10 minutes)."""
    info = RunInfo(
        suite="criteo",
        title="criteo",
        synthetic=False,
        source="train.txt",
        protocol="sequential (file order 80/10/10)",
        min_count=2,
        rows=(8000, 1000, 1000),
        skipped_rows=0,
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
    return dataclasses.replace(info, **overrides)
