"""The leaderboard as a rich table, printed at the end of a run."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from harness.leaderboard.markdown import format_params, format_seconds
from harness.leaderboard.summary import ModelSummary

__all__ = ["leaderboard_table"]


def _f(v: float | None, fmt: str = ".4f") -> str:
    return "—" if v is None or v != v else format(v, fmt)


def leaderboard_table(title: str, rows: Sequence[ModelSummary]) -> Table:
    table = Table(title=title, title_justify="left")
    for name, justify in (
        ("model", "left"),
        ("valid AUC", "right"),
        ("test AUC", "right"),
        ("test logloss", "right"),
        ("lift vs GBDT", "right"),
        ("trials", "right"),
        ("wall", "right"),
        ("params", "right"),
    ):
        # Model names stay whole; numbers may wrap on a narrow terminal.
        table.add_column(name, justify=justify, no_wrap=name == "model")  # type: ignore[arg-type]
    for s in rows:
        b = s.best
        table.add_row(
            s.model,
            _f(b.valid_auc if b else None),
            _f(b.test_auc if b else None),
            _f(b.test_logloss if b else None),
            _f(s.lift, "+.4f"),
            f"{s.complete}/{s.pruned}/{s.failed}",
            format_seconds(s.wall_seconds),
            format_params(b.n_params if b else None),
        )
    return table
