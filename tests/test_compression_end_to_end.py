"""`harness run --suite reviews --study compression` end to end: review texts encoded offline by
the packaged sentence-transformer, the vectors compressed per arm, the section and its plot.

Slow: each run starts a local Ray cluster and encodes texts. Kept small: a tiny DCN-v2 preset
(batches of 256, three epochs), a subset of the shipped study's arms (their definitions copied
from the shipped file as they are), two seeds; the synthetic stand-in (planted text signal) and,
where ../shared is present, the first 800 rows of the real reviews table.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from harness.cli import main
from harness.content.prepare import ContentReport
from harness.leaderboard.publish import compression_path
from harness.results.table import TrialResult, read_results
from tests.tiny_presets import TINY_DCNV2

pytestmark = pytest.mark.slow

SHIPPED = Path(__file__).resolve().parent.parent / "search_spaces" / "studies" / "compression.toml"
ARMS = (
    "no-text",
    "full",
    "pca-8",
    "random-8",
    "matryoshka-8",
    "matryoshka-24",
    "matryoshka-label-8",
)
# On the real rows, the references and one compressor at each size (encoding real reviews and
# training on them is the slow part).
REAL_ARMS = ("no-text", "full", "pca-8", "matryoshka-24")


def _spaces(folder: Path, arms: tuple[str, ...] = ARMS) -> Path:
    """A tiny DCN-v2 and the shipped study with only ``arms`` (blocks copied as they are)."""
    (folder / "studies").mkdir(parents=True)
    # Three epochs: one is too few for the text's signal on a thousand rows.
    (folder / "dcnv2.toml").write_text(
        TINY_DCNV2.replace("max_epochs = 1", "max_epochs = 3\npatience = 3")
    )
    blocks = SHIPPED.read_text().split("\n\n")
    kept = []
    for block in blocks:
        arm = re.match(r"\[arms\.([a-z0-9-]+)\.", block.strip())
        if arm is None or arm.group(1) in arms:
            kept.append(block)
    (folder / "studies" / "compression.toml").write_text("\n\n".join(kept))
    return folder


def _run(out: Path, spaces: Path, label: str, *data: str) -> list[TrialResult]:
    argv = ["run", "--suite", "reviews", "--study", "compression", "--seeds", "2", "--quiet"]
    argv += ["--time-budget", "600", "--out", str(out), "--search-spaces", str(spaces), *data]
    assert main(argv) == 0
    return read_results(out / "runs" / label / "results.parquet")


def _check(rows: list[TrialResult], board: Path, arms: tuple[str, ...] = ARMS) -> dict[str, float]:
    """Every arm ran twice and saw what it asked for; the section and plot are there. Returns
    the mean test AUC per arm."""
    assert sorted(r.arm for r in rows) == sorted(arms * 2)
    means = {}
    for arm in arms:
        mine = [r for r in rows if r.arm == arm]
        assert all(r.status == "complete" for r in mine), mine
        reports = [ContentReport.from_json(r.content) for r in mine]
        assert all(rep is not None and rep.width == 384 for rep in reports)
        report = reports[0]
        assert report is not None
        if arm == "no-text":
            assert (report.used, report.size) == (False, 0)
        elif arm == "full":
            assert (report.compressor, report.size, report.recall_at_10) == ("none", 384, 1.0)
        else:
            kind, size = arm.rsplit("-", 1)
            assert (report.compressor, report.size) == (kind, int(size))
            assert report.recall_at_10 is not None and 0.0 < report.recall_at_10 < 1.0
        means[arm] = sum(r.test_auc or 0.0 for r in mine) / len(mine)
    text = board.read_text()
    assert ", `Review Text`: 384-d vector (text encoded by all-MiniLM-L6-v2) |" in text
    section = text[text.index("### Compression of the vector features") :]
    assert "| compressor | 8 (48x smaller) | 24 (16x smaller) |" in section
    assert re.search(r"\| pca \| 8 \| 48x \| 0\.\d{4} ± 0\.\d{4} \| ", section)
    png = compression_path(board, "compression")
    assert png.read_bytes()[:4] == b"\x89PNG" and f"]({png.name})" in section
    return means


def test_compression_study_on_the_synthetic_stand_in(tmp_path: Path, harness_home: Path) -> None:
    spaces = _spaces(tmp_path / "spaces")
    rows = _run(tmp_path / "out", spaces, "reviews-synthetic", "--synthetic-rows", "1500")
    means = _check(rows, tmp_path / "out" / "leaderboards" / "reviews-synthetic.md")
    # The stand-in plants signal in the text: the ranker with the vectors beats the one without.
    assert means["full"] > means["no-text"] + 0.02, means


def test_compression_study_on_real_reviews(
    tmp_path: Path, harness_home: Path, shared_file: Callable[[str], Path]
) -> None:
    table = pl.read_parquet(shared_file("womens_clothing_reviews/reviews.parquet"))
    data = tmp_path / "reviews.parquet"
    table.head(800).write_parquet(data)
    spaces = _spaces(tmp_path / "spaces", REAL_ARMS)
    rows = _run(tmp_path / "out", spaces, "reviews", "--data", str(data))
    means = _check(rows, tmp_path / "out" / "leaderboards" / "reviews.md", REAL_ARMS)
    # The review text carries most of the signal (+0.31 AUC on the whole table): even 640
    # training rows show it (80 test rows: only a large margin is asserted).
    assert means["full"] > means["no-text"] + 0.05, means
