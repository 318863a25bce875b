"""One leaderboard from one dataset's trial rows: the summaries, the plots beside it, the page.

Both writers use it: ``harness run`` after every model (`harness.pipeline.write_leaderboard`)
and ``harness leaderboard`` when it rebuilds a board from results tables
(`harness.leaderboard.rebuild`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.leaderboard.markdown import RunInfo, render, write_atomic
from harness.leaderboard.plots import plot_compression, plot_curves, plot_search
from harness.leaderboard.summary import ModelSummary, StudySummary, summarize, summarize_studies
from harness.results.table import TrialResult
from harness.studies.files import StudyFile

__all__ = ["Board", "compression_path", "curves_path", "publish"]


@dataclass(frozen=True)
class Board:
    """What one leaderboard is made of.

    Attributes:
        info: the header's facts.
        rows: every trial on the board's data (one data identity).
        models: model -> (``"gbdt"`` or ``"neural"``, its current search-space fingerprint).
        wall_seconds: model -> tuning wall time.
        asked: trials per model asked (0: not known).
        run_dir: the folder holding the repeats' test labels and predictions (None: no
            bootstrap).
        study_files: study name -> its file (descriptions and arm settings).
    """

    info: RunInfo
    rows: Sequence[TrialResult]
    models: Mapping[str, tuple[str, str]]
    wall_seconds: Mapping[str, float] = field(default_factory=dict)
    asked: int = 0
    run_dir: Path | None = None
    study_files: Mapping[str, StudyFile] = field(default_factory=dict)


def curves_path(leaderboard: Path, study: str) -> Path:
    """Where a study's learning curves are drawn: ``<board stem>-<study>-curves.png`` beside the
    leaderboard (as its search is ``<board stem>-search.png``)."""
    return leaderboard.with_name(f"{leaderboard.stem}-{study}-curves.png")


def compression_path(leaderboard: Path, study: str) -> Path:
    """Where a compression study's quality against size is drawn:
    ``<board stem>-<study>-compression.png`` beside the leaderboard."""
    return leaderboard.with_name(f"{leaderboard.stem}-{study}-compression.png")


def publish(
    board: Board, leaderboard: Path, plot: Path
) -> tuple[list[ModelSummary], list[StudySummary]]:
    """Writes the markdown at ``leaderboard``, the plot of the search at ``plot`` (beside it;
    none when no trial has a validation AUC yet) and, for each study whose section shows
    learning curves, their plot at `curves_path` (a compression study's quality against size at
    `compression_path`); returns what the page shows."""
    summaries = summarize(
        board.rows, board.models, board.wall_seconds, asked=board.asked, run_dir=board.run_dir
    )
    studies = [
        _with_plots(s, leaderboard, board.info.title)
        for s in summarize_studies(board.rows, board.study_files)
    ]
    current = [
        r
        for r in board.rows
        if r.model in board.models
        and (not board.models[r.model][1] or r.space_fingerprint == board.models[r.model][1])
    ]
    png = plot_search(current, [s.model for s in summaries], plot, title=board.info.title)
    link = "" if png is None else _relative(png, leaderboard.parent)
    info = dataclasses.replace(board.info, plot=link)
    write_atomic(leaderboard, render(info, summaries, studies))
    return summaries, studies


def _with_plots(study: StudySummary, leaderboard: Path, title: str) -> StudySummary:
    """The study with its pictures drawn beside the leaderboard and linked: the learning curves
    when its section shows them, the quality against size when it compressed vectors."""
    curves_link = compression_link = ""
    if study.curves:
        png = plot_curves(
            study.curves,
            curves_path(leaderboard, study.study),
            title=f"{title}: study {study.study}, validation AUC during training",
        )
        if png is not None:
            curves_link = _relative(png, leaderboard.parent)
    if study.compression is not None:
        png = plot_compression(
            study.compression,
            compression_path(leaderboard, study.study),
            title=f"{title}: study {study.study}, test AUC against the vectors' size",
        )
        if png is not None:
            compression_link = _relative(png, leaderboard.parent)
    return dataclasses.replace(study, curves_plot=curves_link, compression_plot=compression_link)


def _relative(path: Path, folder: Path) -> str:
    try:
        return str(path.resolve().relative_to(folder.resolve()))
    except ValueError:
        return str(path.resolve())
