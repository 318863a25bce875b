"""Trial results: one flat row per trial, appended atomically to a parquet table."""

from harness.results.table import (
    RESULT_SCHEMA,
    STATUSES,
    TrialResult,
    append_results,
    package_versions,
    read_results,
    read_results_frame,
)

__all__ = [
    "RESULT_SCHEMA",
    "STATUSES",
    "TrialResult",
    "append_results",
    "package_versions",
    "read_results",
    "read_results_frame",
]
