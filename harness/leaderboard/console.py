"""The leaderboard as rich tables, printed at the end of a run: the models, each study, and
a study's learning curves."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from harness.leaderboard.markdown import (
    CURVES_READING,
    READING_A_STUDY,
    format_bytes,
    format_mean_std,
    format_params,
    format_seconds,
    significance_text,
)
from harness.leaderboard.summary import ModelSummary, StudySummary

__all__ = ["curves_table", "leaderboard_table", "study_table"]


def _f(v: float | None, fmt: str = ".4f") -> str:
    return "—" if v is None or v != v else format(v, fmt)


def leaderboard_table(title: str, rows: Sequence[ModelSummary]) -> Table:
    """The models as the leaderboard ranks them: test AUC over the repeat seeds where they ran
    (else the search's single seed), the lift over the best GBDT and whether it is significant."""
    table = Table(title=title, title_justify="left")
    for name, justify in (
        ("model", "left"),
        ("valid AUC", "right"),
        ("test AUC", "right"),
        ("seeds", "right"),
        ("lift vs GBDT", "right"),
        ("significant", "left"),
        ("trials", "right"),
        ("wall", "right"),
        ("params", "right"),
    ):
        # Model names stay whole; numbers may wrap on a narrow terminal.
        table.add_column(name, justify=justify, no_wrap=name == "model")  # type: ignore[arg-type]
    for s in rows:
        b, r = s.best, s.repeats
        repeated = r is not None and r.test_auc is not None
        table.add_row(
            s.model,
            _f(b.valid_auc if b else None),
            format_mean_std(r.test_auc if r else None)
            if repeated
            else _f(b.test_auc if b else None),
            str(len(r.seeds)) if r is not None and repeated else "1",
            "reference" if s.reference else _f(s.lift, "+.4f"),
            significance_text(s),
            f"{s.complete}/{s.pruned}/{s.failed}",
            format_seconds(s.wall_seconds),
            format_params(b.n_params if b else None),
        )
    return table


def study_table(s: StudySummary) -> Table:
    """A study's arms as its leaderboard section shows them (best mean test AUC first)."""
    table = Table(
        title=f"Study {s.study}: {s.preset}, {s.factor or 'one factor'} varied",
        title_justify="left",
        caption=f"base: {s.base_source}. {READING_A_STUDY}",
        caption_justify="left",
    )
    for name in (
        "arm",
        "test AUC",
        "test logloss",
        "seeds",
        "emb. params",
        "emb. bytes",
        "train s",
    ):
        table.add_column(name, justify="left" if name == "arm" else "right", no_wrap=name == "arm")
    for a in s.arms:
        extra = a.pruned + a.failed
        table.add_row(
            a.arm,
            format_mean_std(a.test_auc),
            format_mean_std(a.test_logloss),
            f"{len(a.seeds)}" + (f" (+{extra} cut)" if extra else ""),
            format_params(a.embedding_params),
            format_bytes(a.embedding_bytes),
            "—" if a.train_seconds is None else f"{a.train_seconds:.1f}",
        )
    return table


def curves_table(s: StudySummary) -> Table:
    """A study's learning curves as its section shows them (empty when it shows none)."""
    table = Table(
        title=f"Study {s.study}: learning curves",
        title_justify="left",
        caption=CURVES_READING,
        caption_justify="left",
    )
    for name in ("arm", "best at", "best valid AUC", "valid AUC at end", "drop", "test AUC"):
        table.add_column(name, justify="left" if name == "arm" else "right", no_wrap=name == "arm")
    table.add_column("seeds", justify="right")
    for c in s.curves:
        table.add_row(
            c.arm,
            format_mean_std(c.best_at, 2),
            format_mean_std(c.best_auc),
            format_mean_std(c.end_auc),
            format_mean_std(c.drop),
            format_mean_std(c.test_auc),
            str(len(c.seeds)),
        )
    return table
