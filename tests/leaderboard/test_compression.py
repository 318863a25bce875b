"""The compression study's view, section and plot, from trial rows that carry content reports:
the share of the vectors' gain kept is computed from the mean test AUCs exactly as the page
says, the table has the published shape, and the plot is written beside the board."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.content.compressors import MatryoshkaConfig
from harness.content.prepare import ContentReport
from harness.leaderboard.compression import MIN_GAIN, compression_view
from harness.leaderboard.markdown import compression_section
from harness.leaderboard.plots import compression_figure, plot_compression
from harness.leaderboard.publish import compression_path
from harness.leaderboard.summary import summarize_studies
from harness.results.table import TrialResult

BASE = "the best dcnv2 trial"


def _row(arm: str, seed: int, auc: float, report: ContentReport | None, **kw: Any) -> TrialResult:
    values: dict[str, Any] = {
        "suite": "reviews",
        "dataset": "reviews@abc",
        "protocol": "x4",
        "family": "neural",
        "model": "dcnv2",
        "space_fingerprint": f"fp-{arm}",
        "study": f"reviews/compression:{arm}/dcnv2@fp",
        "trial_id": f"{arm}-{seed}",
        "study_trial": seed,
        "params": "{}",
        "seed": seed,
        "status": "complete",
        "valid_auc": auc,
        "test_auc": auc,
        "factor_study": "compression",
        "arm": arm,
        "base_source": BASE,
        "started_at": f"2026-01-01T00:00:{seed:02d}",
        "content": "" if report is None else report.to_json(),
        **kw,
    }
    return TrialResult(**values)


def _report(kind: str, size: int, recall: float | None = 0.5, used: bool = True) -> ContentReport:
    return ContentReport(
        used=used,
        compressor=kind,
        width=384,
        size=size if used else 0,
        kept_variance=0.6 if kind == "pca" else None,
        recall_at_10=recall if used else None,
    )


def _rows(full: float = 0.90, without: float = 0.80) -> list[TrialResult]:
    rows = []
    for seed in (0, 1):
        d = 0.002 * seed  # both seeds move together: the means are the values + 0.001
        rows += [
            _row("no-text", seed, without + d, _report("none", 0, used=False)),
            _row("full", seed, full + d, _report("none", 384, recall=1.0)),
            _row("pca-8", seed, 0.86 + d, _report("pca", 8, 0.4)),
            _row("pca-48", seed, 0.88 + d, _report("pca", 48, 0.7)),
            _row("matryoshka-8", seed, 0.89 + d, _report("matryoshka", 8, 0.5)),
        ]
    return rows


def test_kept_share_is_computed_from_the_mean_aucs() -> None:
    view = compression_view(_rows())
    assert view is not None
    assert view.without is not None and view.without.mean == pytest.approx(0.801)
    assert view.full is not None and view.full.size == 384
    assert view.gain == pytest.approx(0.10)
    assert [(p.compressor, p.size) for p in view.points] == [
        ("pca", 8),
        ("pca", 48),
        ("matryoshka", 8),
    ]
    kept = {(p.compressor, p.size): view.kept(p) for p in view.points}
    assert kept[("pca", 8)] == pytest.approx(60.0)
    assert kept[("pca", 48)] == pytest.approx(80.0)
    assert kept[("matryoshka", 8)] == pytest.approx(90.0)
    pca8 = view.at("pca", 8)
    assert pca8 is not None and (pca8.recall_at_10, pca8.seeds, pca8.smaller) == (0.4, (0, 1), 48)


def test_a_matryoshka_objective_is_its_own_row_after_the_registered_kinds() -> None:
    label = MatryoshkaConfig(objective="label").display_name
    assert (label, MatryoshkaConfig().display_name) == ("matryoshka-label", "matryoshka")
    rows = [
        *_rows(),
        *(_row("matryoshka-label-8", s, 0.90 + 0.002 * s, _report(label, 8)) for s in (0, 1)),
    ]
    view = compression_view(rows)
    assert view is not None
    assert view.compressors == ("pca", "matryoshka", "matryoshka-label")
    point = view.at("matryoshka-label", 8)
    assert point is not None and view.kept(point) == pytest.approx(100.0)
    text = "\n".join(compression_section(view, "board.png"))
    assert "| matryoshka | 90% | — |" in text and "| matryoshka-label | 100% | — |" in text


def test_no_compressed_arm_means_no_view() -> None:
    rows = [r for r in _rows() if r.arm in ("no-text", "full")]
    assert compression_view(rows) is None
    assert compression_view([_row("x", 0, 0.8, None)]) is None


def test_failed_and_pruned_trials_are_left_out() -> None:
    rows = [*_rows(), _row("pca-8", 5, 0.5, _report("pca", 8), status="pruned")]
    view = compression_view(rows)
    assert view is not None
    point = view.at("pca", 8)
    assert point is not None and point.seeds == (0, 1)


def test_section_reads_like_the_published_table() -> None:
    view = compression_view(_rows())
    assert view is not None
    lines = compression_section(view, "board-compression-compression.png")
    text = "\n".join(lines)
    assert "| compressor | 8 (48x smaller) | 48 (8x smaller) |" in text
    assert "| pca | 60% | 80% |" in text
    assert "| matryoshka | 90% | — |" in text
    assert "| no vectors | 0 | — | 0.8010 ± 0.0014 | 0% | — | — | 2 |" in text
    assert "| pca | 8 | 48x | 0.8610 ± 0.0014 | 60% | 0.400 | 0.600 | 2 |" in text
    assert "![test AUC against the vectors' size, per compressor]" in text


def test_a_gain_within_noise_shows_no_share() -> None:
    view = compression_view(_rows(full=0.801, without=0.800))
    assert view is not None and view.gain is not None and view.gain < MIN_GAIN
    text = "\n".join(compression_section(view))
    assert "is not shown" in text
    assert all(view.kept(p) is None for p in view.points)


def test_study_summary_carries_the_view_and_the_plot_is_drawn(tmp_path: Path) -> None:
    (study,) = summarize_studies(_rows())
    assert study.compression is not None
    fig = compression_figure(study.compression, "reviews")
    (ax,) = fig.axes
    drawn = {c.get_label(): list(c.lines[0].get_ydata()) for c in ax.containers}
    assert drawn.keys() == {"pca", "matryoshka"}
    assert drawn["pca"] == pytest.approx([0.861, 0.881])
    assert drawn["matryoshka"] == pytest.approx([0.891])
    references = {line.get_label(): line.get_ydata()[0] for line in ax.get_lines()}
    assert references["full size"] == pytest.approx(0.901)
    assert references["no vectors"] == pytest.approx(0.801)
    board = tmp_path / "reviews.md"
    png = plot_compression(study.compression, compression_path(board, "compression"), "t")
    assert png == tmp_path / "reviews-compression-compression.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
