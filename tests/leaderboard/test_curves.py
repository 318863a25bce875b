"""A study's learning curves: the summary per arm over seeds, its section on the page, its plot
beside the page, and its rebuild by ``harness leaderboard``."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import matplotlib.image
import pytest
from rich.console import Console

from harness.leaderboard.console import curves_table
from harness.leaderboard.curves import (
    BandPoint,
    CurvePoint,
    arm_curves,
    curve_points,
    has_curves,
    points_per_epoch,
)
from harness.leaderboard.markdown import CURVES_READING, curves_section, study_section
from harness.leaderboard.plots import curves_figure, plot_curves
from harness.leaderboard.publish import Board, curves_path, publish
from harness.leaderboard.rebuild import rebuild
from harness.leaderboard.stats import MeanStd
from harness.leaderboard.summary import summarize_studies
from harness.results.table import TrialResult, append_results
from harness.studies.files import Arm, StudyFile
from tests.leaderboard.boards import run_info

BASE = "dcnv2's defaults (dcnv2@abcdef12: ...): no complete neural trial in this run folder yet"
# Two epochs, two scores each (0.5, 1.0 | 1.5, 2.0), per seed of the arm "plain".
PLAIN = {
    0: [0.70, 0.78, 0.77, 0.75],  # best at 1.0 (0.78), end 0.75, drop 0.03
    1: [0.72, 0.76, 0.79, 0.74],  # best at 1.5 (0.79), end 0.74, drop 0.05
    2: [0.71, 0.77, 0.77, 0.77],  # a tie: the earliest, 1.0 (0.77); end 0.77, drop 0
}


def _curve(aucs: list[float | None], per_epoch: int = 2) -> str:
    """The ``curve`` JSON of a fit scored ``per_epoch`` times per epoch (the last at its end)."""
    points = []
    for epoch in range(1, len(aucs) // per_epoch + 1):
        mine = aucs[(epoch - 1) * per_epoch : epoch * per_epoch]
        point: dict[str, Any] = {"epoch": epoch, "valid_auc": mine[-1], "train_loss": 0.4}
        if per_epoch > 1:
            point["evals"] = [[epoch - 1 + (i + 1) / per_epoch, a] for i, a in enumerate(mine)]
        points.append(point)
    return json.dumps(points)


def _row(arm: str, seed: int, aucs: list[float | None], **kw: Any) -> TrialResult:
    values: dict[str, Any] = {
        "suite": "criteo",
        "dataset": "criteo@abc",
        "protocol": "sequential",
        "family": "neural",
        "model": "dcnv2",
        "space_fingerprint": f"fp-{arm}",
        "study": f"criteo/one-epoch:{arm}/dcnv2@fp",
        "trial_id": f"{arm}-{seed}-{kw.get('status', 'complete')}",
        "study_trial": seed,
        "params": "{}",
        "seed": seed,
        "status": "complete",
        "valid_auc": max((a for a in aucs if a is not None), default=None),
        "test_auc": 0.76 + 0.01 * seed,
        "test_logloss": 0.45,
        "train_seconds": 5.0,
        "factor_study": "one-epoch",
        "arm": arm,
        "base_source": BASE,
        "started_at": f"2026-01-01T00:00:{seed:02d}",
        "curve": _curve(aucs, kw.pop("per_epoch", 2)),
        **kw,
    }
    if values["status"] == "failed":
        values["error"] = "boom"
    return TrialResult(**values)


ROWS = [
    *(_row("plain", seed, aucs) for seed, aucs in PLAIN.items()),
    _row("plain", 3, [0.9, 0.9], status="pruned"),  # stopped early: not a whole curve
    _row("plain", 4, [], status="failed"),
    _row("freeze", 0, [0.72, 0.78, 0.785, 0.79], test_auc=0.80),
    _row("freeze", 1, [0.73, 0.79, 0.795, 0.80], test_auc=0.81),
]
FILE = StudyFile(
    name="one-epoch",
    path="search_spaces/studies/one-epoch.toml",
    description="The one-epoch phenomenon",
    factor=("train.embeddings",),
    arms=(
        Arm("plain", {}, ()),
        Arm("freeze", {}, ('train.embeddings.schedule.kind = "freeze"',)),
    ),
    shared_settings=("train.max_epochs = 2", "train.evals_per_epoch = 2"),
    curves=True,
)


def test_a_curve_is_every_score_in_order_at_the_epochs_trained() -> None:
    row = _row("plain", 0, [0.70, None, 0.77, float("nan")])
    assert curve_points(row) == (CurvePoint(0.5, 0.70), CurvePoint(1.5, 0.77))
    assert points_per_epoch(row) == 2
    once = _row("plain", 0, [0.70, 0.75, 0.74], per_epoch=1)  # no evals: the epoch ends
    assert curve_points(once) == (
        CurvePoint(1.0, 0.70),
        CurvePoint(2.0, 0.75),
        CurvePoint(3.0, 0.74),
    )
    assert points_per_epoch(once) == 1
    assert has_curves([once, row]) and not has_curves([once])


def test_each_arm_has_its_best_point_end_and_drop_over_the_complete_seeds() -> None:
    c = arm_curves("plain", [r for r in ROWS if r.arm == "plain"])
    assert c.arm == "plain" and c.seeds == (0, 1, 2) and c.per_epoch == 2
    assert c.best_at == MeanStd(pytest.approx(7 / 6), pytest.approx(math.sqrt(1 / 12)), 3)
    assert c.best_auc == MeanStd(pytest.approx(0.78), pytest.approx(0.01), 3)
    assert c.end_auc == MeanStd(pytest.approx(2.26 / 3), pytest.approx(math.sqrt(7e-4 / 3)), 3)
    assert c.drop == MeanStd(pytest.approx(0.08 / 3), pytest.approx(math.sqrt(1.9e-3 / 3)), 3)
    assert c.test_auc == MeanStd(pytest.approx(0.77), pytest.approx(0.01), 3)
    assert [p.at for p in c.band] == [0.5, 1.0, 1.5, 2.0]
    assert c.band[1] == BandPoint(1.0, pytest.approx(0.77), 0.76, 0.78, 3)
    assert c.band[3] == BandPoint(2.0, pytest.approx(2.26 / 3), 0.74, 0.77, 3)


def test_an_arm_without_a_complete_curve_has_no_figures() -> None:
    c = arm_curves("x", [_row("x", 0, [0.7, 0.8], status="pruned"), _row("x", 1, [])])
    assert c.seeds == () and c.best_at is None and c.drop is None and c.band == ()


def test_the_study_file_asks_for_curves_else_the_rows_say_so() -> None:
    (s,) = summarize_studies(ROWS, {"one-epoch": FILE})
    assert [a.arm for a in s.arms] == ["freeze", "plain"]  # best mean test AUC first
    assert [c.arm for c in s.curves] == ["freeze", "plain"]  # in the same order
    assert s.shared == FILE.shared_settings
    (off,) = summarize_studies(ROWS, {"one-epoch": dataclasses.replace(FILE, curves=False)})
    assert off.curves == ()
    (unknown,) = summarize_studies(ROWS)  # the file is not found: the rows have evals
    assert [c.arm for c in unknown.curves] == ["freeze", "plain"]
    once = [_row("plain", 0, [0.7, 0.8], per_epoch=1)]
    assert summarize_studies(once)[0].curves == ()


def test_the_section_has_the_curves_table_how_to_read_it_and_the_plot() -> None:
    (s,) = summarize_studies(ROWS, {"one-epoch": FILE})
    lines = curves_section(s)
    assert lines[0] == "### Learning curves"
    head = lines.index(next(line for line in lines if line.startswith("| arm |")))
    assert lines[head] == (
        "| arm | best at (epochs) | best valid AUC | valid AUC at the end | drop (best − end) "
        "| test AUC | seeds |"
    )
    assert lines[head + 3] == (
        "| plain | 1.17 ± 0.29 | 0.7800 ± 0.0100 | 0.7533 ± 0.0153 | 0.0267 ± 0.0252 | "
        "0.7700 ± 0.0100 | 3 |"
    )
    assert lines[head + 2].startswith("| freeze | 2.00 ± 0.00 | 0.7950 ± 0.0071 |")
    reading = lines[head + 5]
    assert reading.startswith(CURVES_READING)
    assert "validation AUC was scored 2 times per epoch (`train.evals_per_epoch`)" in reading
    assert not any(line.startswith("![") for line in lines)  # no plot written yet
    linked = curves_section(dataclasses.replace(s, curves_plot="b-one-epoch-curves.png"))
    assert linked[-1] == "![validation AUC during training, per arm](b-one-epoch-curves.png)"
    text = "\n".join(study_section(s))
    assert "| every arm | `train.max_epochs = 2`, `train.evals_per_epoch = 2` (the study" in text
    # After the arms' table and its reading, before what each arm sets.
    assert text.index("| arm | test AUC") < text.index("### Learning curves")
    assert text.index("### Learning curves") < text.index("What each arm sets:")


def test_the_plot_draws_each_arms_mean_curve_and_the_epoch_ends(tmp_path: Path) -> None:
    (s,) = summarize_studies(ROWS, {"one-epoch": FILE})
    fig = curves_figure(s.curves, "criteo: one-epoch")
    lines = {line.get_gid(): line for line in fig.axes[0].get_lines()}
    assert {"epoch:1", "epoch:2", "curve:plain", "curve:freeze"} <= set(lines)
    plain = next(c for c in s.curves if c.arm == "plain")
    assert list(lines["curve:plain"].get_xdata()) == [0.5, 1.0, 1.5, 2.0]
    assert list(lines["curve:plain"].get_ydata()) == [p.mean for p in plain.band]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["freeze", "plain"]


def test_plot_curves_writes_a_png_that_decodes(tmp_path: Path) -> None:
    (s,) = summarize_studies(ROWS, {"one-epoch": FILE})
    path = tmp_path / "boards" / "criteo-one-epoch-curves.png"
    assert plot_curves(s.curves, path, "criteo: one-epoch") == path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 300 and image.shape[1] > 600
    assert image.std() > 0.05  # not a blank canvas
    assert plot_curves((arm_curves("x", []),), tmp_path / "none.png", "t") is None
    assert not (tmp_path / "none.png").exists()


def test_publish_writes_the_plot_beside_the_board_and_links_it(tmp_path: Path) -> None:
    board = tmp_path / "leaderboards" / "criteo.md"
    _, (s,) = publish(
        Board(info=run_info(), rows=ROWS, models={}, study_files={"one-epoch": FILE}),
        board,
        tmp_path / "leaderboards" / "criteo-search.png",
    )
    png = curves_path(board, "one-epoch")
    assert png == tmp_path / "leaderboards" / "criteo-one-epoch-curves.png"
    assert png.read_bytes()[:4] == b"\x89PNG" and s.curves_plot == "criteo-one-epoch-curves.png"
    text = board.read_text()
    assert "### Learning curves" in text and "| plain | 1.17 ± 0.29 |" in text
    assert "![validation AUC during training, per arm](criteo-one-epoch-curves.png)" in text


def test_harness_leaderboard_rebuilds_the_curves(tmp_path: Path) -> None:
    folder = tmp_path / "runs" / "criteo"
    folder.mkdir(parents=True)
    append_results(folder / "results.parquet", ROWS)
    (folder / "info.json").write_text(run_info().to_json())
    board = tmp_path / "leaderboards" / "criteo.md"
    rebuild([folder], board, search_spaces=tmp_path / "no-such-folder")
    assert (tmp_path / "leaderboards" / "criteo-one-epoch-curves.png").read_bytes()[:4] == (
        b"\x89PNG"
    )
    assert "](criteo-one-epoch-curves.png)" in board.read_text()


def test_the_console_prints_the_curves_table() -> None:
    (s,) = summarize_studies(ROWS, {"one-epoch": FILE})
    console = Console(width=220, record=True)
    console.print(curves_table(s))
    text = console.export_text()
    assert "Study one-epoch: learning curves" in text
    assert "1.17 ± 0.29" in text and "0.0267 ± 0.0252" in text
