"""`harness run --study` end to end: every shipped study after a search, on synthetic data and on
../shared/data/criteo where present.

Slow: each `harness run` starts a local Ray cluster. Kept small: 2,000 synthetic rows, a tiny
DCN-v2 preset (one epoch where a study's `[all]` sets no more, batches of 256), one search
trial of it and one of LightGBM (the distillation arm's teacher), every arm of every shipped
study with two seeds in one invocation (one Ray run, trial processes reused). The studies are
the shipped files as they are; on the real Criteo rows, all but the one-epoch study.
"""

from __future__ import annotations

import re
import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.leaderboard.curves import points_per_epoch
from harness.leaderboard.publish import curves_path
from harness.results.table import TrialResult, read_results
from harness.studies.files import StudyFile, load_study
from tests.tiny_presets import TINY_DCNV2

pytestmark = pytest.mark.slow

SHIPPED = Path(__file__).resolve().parent.parent / "search_spaces" / "studies"
CRITEO_STUDIES = ("numeric-encodings", "embedding-sizes", "hashing", "one-epoch", "matryoshka-ids")


@pytest.fixture
def spaces(tmp_path: Path) -> tuple[Path, list[StudyFile]]:
    folder = tmp_path / "spaces"
    (folder / "studies").mkdir(parents=True)
    (folder / "dcnv2.toml").write_text(TINY_DCNV2)
    # The shipped LightGBM as it is: the teacher of the one-epoch study's distillation arm.
    shutil.copy(SHIPPED.parent / "lightgbm.toml", folder / "lightgbm.toml")
    studies = []
    shipped = sorted(SHIPPED.glob("*.toml"))
    # The compression study needs vector features (Criteo has none): it has its own end-to-end
    # test on the reviews card (tests/test_compression_end_to_end.py).
    assert {p.stem for p in shipped} == {*CRITEO_STUDIES, "compression"}
    for path in shipped:  # the shipped files as they are
        if path.stem in CRITEO_STUDIES:
            shutil.copy(path, folder / "studies" / path.name)
            studies.append(load_study(folder / "studies" / path.name))
    return folder, studies


def _value_at(config: dict[str, Any], setting: str) -> tuple[Any, Any]:
    """``(value in the row's config, value the arm sets)`` of ``dotted.key = value``."""
    key, _, text = setting.partition(" = ")
    node: Any = config
    for part in key.split("."):
        node = node[part]
    return node, tomllib.loads(f"v = {text}")["v"]


def _check_study(study: StudyFile, rows: list[TrialResult], board: Path, base: str) -> None:
    mine = [r for r in rows if r.factor_study == study.name]
    assert len(mine) == 2 * len(study.arms), study.name
    text = board.read_text()
    section = text[text.index(f"## Study: {study.name}\n") :]
    section = section[: section.index("\n## ", 1) if "\n## " in section[1:] else len(section)]
    assert "| preset | `dcnv2` |" in section and base in section
    assert f"| factor | `{study.factor_text}`" in section
    assert "| seeds | 0, 1 |" in section
    for arm in study.arms:
        trials = [r for r in mine if r.arm == arm.name]
        assert sorted(r.seed for r in trials) == [0, 1], (study.name, arm.name)
        assert all(r.status == "complete" and r.model == "dcnv2" for r in trials), trials
        assert all(r.embedding_params and r.embedding_bytes for r in trials)
        assert len({r.space_fingerprint for r in trials}) == 1
        # The row's resolved config is the base with [all], then the arm.
        for setting in (*study.shared_settings, *arm.settings):
            got, expected = _value_at(trials[0].config_dict, setting)
            assert got == expected, (study.name, arm.name, setting)
        line = next(line for line in section.splitlines() if line.startswith(f"| {arm.name} |"))
        assert "± " in line and " | 2 | " in line
    if study.curves:  # several epochs, scored within each; the table and the plot beside
        evals = study.shared.get("train", {}).get("evals_per_epoch", 1)
        assert all(points_per_epoch(r) == evals for r in mine)
        curves = section[section.index("### Learning curves") :]
        for arm in study.arms:
            line = next(line for line in curves.splitlines() if line.startswith(f"| {arm.name} |"))
            assert line.endswith(" | 2 |") and line.count("±") == 5, line
        png = curves_path(board, study.name)
        assert png.read_bytes()[:4] == b"\x89PNG" and f"]({png.name})" in curves
    if study.factor_text == "train.matryoshka":  # every arm scored with its tables cut
        cut = section[section.index("### ID embeddings cut to a prefix") :]
        for arm in study.arms:
            for size in ("4", "8", "16 (whole)"):
                line = f"| {arm.name} | {size} | "
                assert any(
                    row.startswith(line) and row.endswith(" | 2 |") for row in cut.splitlines()
                )


def test_every_shipped_study_after_a_search(
    tmp_path: Path,
    harness_home: Path,
    spaces: tuple[Path, list[StudyFile]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder, studies = spaces
    out = tmp_path / "out"
    common = ["run", "--suite", "criteo", "--synthetic-rows", "2000", "--quiet"]
    common += ["--out", str(out), "--search-spaces", str(folder)]
    # A GBDT as well: the one-epoch study's distillation arm learns from it.
    search = [*common, "--models", "lightgbm,dcnv2", "--trials", "1", "--seeds", "0"]
    assert main([*search, "--time-budget", "180"]) == 0
    (searched,) = [
        r
        for r in read_results(out / "runs" / "criteo-synthetic" / "results.parquet")
        if r.model == "dcnv2"
    ]

    # A study on a folder with a search is an addition: neither --resume nor --fresh.
    names = ",".join(s.name for s in studies)
    study_run = [*common, "--study", names, "--seeds", "2", "--time-budget", "600"]
    assert main(study_run) == 0
    printed = capsys.readouterr().out
    rows = read_results(out / "runs" / "criteo-synthetic" / "results.parquet")
    board = out / "leaderboards" / "criteo-synthetic.md"
    base = f"the best dcnv2 trial by validation AUC in this run folder ({searched.valid_auc:.4f}"
    assert " ".join(base.split()[:4]) in " ".join(printed.split())
    for study in studies:
        _check_study(study, rows, board, base)
        assert f"Study {study.name}: dcnv2" in printed
    # The distillation arm's teacher: the search's LightGBM trial, refitted once.
    assert "teacher best-gbdt" in printed
    distilled = [r for r in rows if r.arm == "distill-gbdt"]
    assert distilled and all("distilled from best-gbdt" in r.notes for r in distilled)
    # The search's table still ranks the search's one trial, not the studies' trials.
    lines = board.read_text().splitlines()
    line = next(line for line in lines if re.match(r"\| \d \| dcnv2 \|", line))
    assert f"| {searched.valid_auc:.4f} | {searched.test_auc:.4f} |" in line
    search = next(line for line in lines if line.startswith("| dcnv2 | 1 of 1"))
    assert search.startswith("| dcnv2 | 1 of 1 (1/0/0) |")

    # Run again: every arm and seed is recorded, nothing runs (and no Ray starts).
    assert main(study_run) == 0
    assert "every seed already recorded" in capsys.readouterr().out
    assert len(read_results(out / "runs" / "criteo-synthetic" / "results.parquet")) == len(rows)

    # A third seed within a budget too small for a trial: none starts, the line says why.
    tiny = [*common, "--study", "one-epoch", "--seeds", "3", "--time-budget", "2"]
    assert main(tiny) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "the time budget of 2 s leaves under 5 s: no study trial ran" in said
    assert len(read_results(out / "runs" / "criteo-synthetic" / "results.parquet")) == len(rows)


def test_every_shipped_study_on_real_criteo_rows(
    tmp_path: Path,
    harness_home: Path,
    spaces: tuple[Path, list[StudyFile]],
    shared_file: Callable[[str], Path],
) -> None:
    data = shared_file("criteo/train_head10k.txt.gz")
    folder, shipped = spaces
    # The one-epoch study (four epochs per arm, a GBDT teacher) runs on synthetic rows above.
    studies = [s for s in shipped if not s.curves]
    out = tmp_path / "out"
    names = ",".join(s.name for s in studies)
    argv = ["run", "--suite", "criteo", "--data", str(data), "--study", names]
    argv += ["--seeds", "2", "--time-budget", "900", "--quiet"]
    assert main([*argv, "--out", str(out), "--search-spaces", str(folder)]) == 0
    rows = read_results(out / "runs" / "criteo" / "results.parquet")
    board = out / "leaderboards" / "criteo.md"
    assert "Synthetic" not in board.read_text()
    for study in studies:
        _check_study(study, rows, board, "dcnv2's defaults (dcnv2@")
