"""The plot of the search: the numbers it draws, and the PNG it writes."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import matplotlib.image
import pytest

from harness.leaderboard.plots import (
    SearchCurve,
    plot_search,
    search_curves,
    search_figure,
    y_limits,
)
from harness.results.table import TrialResult

_ids = itertools.count()


def _row(model: str, minute: int, status: str, auc: float | None, **changes: Any) -> TrialResult:
    n = next(_ids)
    return TrialResult(
        suite="criteo",
        dataset="criteo",
        protocol="x4",
        family="neural",
        study=f"criteo/{model}@abc",
        trial_id=f"t{n}",
        study_trial=n,
        params="{}",
        seed=n,
        status=status,
        error="out of memory" if status == "failed" else "",
        valid_auc=auc,
        model=model,
        started_at=f"2026-01-01T10:{minute:02d}:00",
        **changes,
    )


def _running_max(rows: list[TrialResult]) -> list[float | None]:
    best: float | None = None
    out = []
    for r in rows:
        if r.status in ("complete", "pruned") and r.valid_auc is not None:
            best = r.valid_auc if best is None else max(best, r.valid_auc)
        out.append(best)
    return out


# In start order (the table's order is shuffled below).
SEARCH = [
    _row("dcnv2", 1, "failed", None),
    _row("dcnv2", 2, "complete", 0.78),
    _row("dcnv2", 3, "pruned", 0.79),
    _row("dcnv2", 4, "complete", 0.50),  # diverged
    _row("dcnv2", 5, "complete", 0.80),
    _row(
        "dcnv2",
        6,
        "failed",
        0.99,
    ),  # scored before failing: never a best
    _row("dcnv2", 7, "complete", 0.795),
]
LIGHTGBM = [_row("lightgbm", m, "complete", auc) for m, auc in ((1, 0.77), (2, 0.785), (3, 0.781))]
OTHERS = [
    _row("dcnv2", 8, "complete", 0.9, factor_study="hashing", arm="h1"),
    _row("dcnv2", 9, "complete", 0.9, repeat_of="criteo/dcnv2@abc#4"),
    _row("dcnv2", 10, "interrupted", 0.9),
    _row("deepfm", 1, "complete", 0.9),  # a model not asked for
]


def _table() -> list[TrialResult]:
    rows = [*SEARCH, *LIGHTGBM, *OTHERS]
    return rows[::2] + rows[1::2]


def test_curves_are_each_models_search_trials_in_start_order_with_the_running_best() -> None:
    curves = search_curves(_table(), ["lightgbm", "dcnv2", "catboost"])
    assert list(curves) == ["lightgbm", "dcnv2", "catboost"]
    dcnv2 = curves["dcnv2"]
    assert [p.trial for p in dcnv2.points] == list(range(1, len(SEARCH) + 1))
    assert [p.status for p in dcnv2.points] == [r.status for r in SEARCH]
    assert [p.valid_auc for p in dcnv2.points] == [r.valid_auc for r in SEARCH]
    assert [p.best_so_far for p in dcnv2.points] == _running_max(SEARCH)
    assert dcnv2.best == 0.80
    assert [p.best_so_far for p in curves["lightgbm"].points] == [0.77, 0.785, 0.785]
    assert curves["catboost"] == SearchCurve("catboost", ())


def test_a_nan_score_is_no_score() -> None:
    (curve,) = search_curves([_row("m", 1, "complete", math.nan)], ["m"]).values()
    assert curve.points[0].valid_auc is None and curve.best is None and curve.scored == ()


def test_one_terrible_trial_does_not_set_the_axis() -> None:
    low, high = y_limits(list(search_curves(_table(), ["lightgbm", "dcnv2"]).values()))
    assert 0.7 < low < 0.77 and 0.80 < high < 0.81


def test_the_drawn_best_so_far_lines_are_the_curves(tmp_path: Path) -> None:
    curves = search_curves(_table(), ["lightgbm", "dcnv2"])
    fig = search_figure(list(curves.values()), "criteo")
    lines = {line.get_gid(): line for line in fig.axes[0].get_lines()}
    for model, curve in curves.items():
        steps = [p for p in curve.points if p.best_so_far is not None]
        line = lines[f"best:{model}"]
        assert list(line.get_xdata()) == [p.trial for p in steps]
        assert list(line.get_ydata()) == [p.best_so_far for p in steps]
    assert list(lines["best:dcnv2"].get_ydata()) == [r for r in _running_max(SEARCH) if r]


def test_plot_search_writes_a_png_that_decodes(tmp_path: Path) -> None:
    path = tmp_path / "boards" / "criteo-search.png"
    written = plot_search(_table(), ["lightgbm", "dcnv2"], path, "criteo, x4")
    assert written == path and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 300 and image.shape[1] > 600
    assert image.std() > 0.05  # not a blank canvas
    assert sorted(p.name for p in path.parent.iterdir()) == ["criteo-search.png"]


@pytest.mark.parametrize(
    "rows",
    [
        [],
        [_row("dcnv2", 1, "failed", None), _row("dcnv2", 2, "pruned", None)],
        [_row("dcnv2", 1, "complete", 0.8, factor_study="hashing", arm="h1")],
        [_row("dcnv2", 1, "complete", 0.8, repeat_of="criteo/dcnv2@abc#1")],
        [_row("deepfm", 1, "complete", 0.8)],
    ],
)
def test_nothing_to_plot_writes_nothing(tmp_path: Path, rows: list[TrialResult]) -> None:
    assert plot_search(rows, ["dcnv2"], tmp_path / "p.png", "t") is None
    assert list(tmp_path.iterdir()) == []
