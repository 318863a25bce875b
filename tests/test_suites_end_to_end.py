"""Every suite end to end on its synthetic stand-in and on ../shared/data where present; a user's
own table through `harness data init` and `--card`; pre-split files.

Slow: each run starts a local Ray cluster. The runs are kept small (a couple of models, one or
two trials, the shipped neural presets shortened to one epoch) so that together they take a few
minutes on two cores.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from harness.cli import main
from harness.results.table import TrialResult, read_results
from tests.shared import SHARED_DATA

pytestmark = pytest.mark.slow

GBDT = {
    "lightgbm": 'family = "lightgbm"\nlearning_rate = { float = [0.05, 0.2], log = true }\n'
    "num_leaves = { int = [7, 31] }\nn_estimators = 150\nearly_stopping_rounds = 20\n"
    "rounds_per_epoch = 25\n",
    "lightgbm-rank": 'family = "lightgbm"\nobjective = "lambdarank"\n'
    "learning_rate = { float = [0.05, 0.2], log = true }\nn_estimators = 150\n"
    "early_stopping_rounds = 20\nrounds_per_epoch = 25\n",
    "catboost": 'family = "catboost"\nlearning_rate = { float = [0.05, 0.2], log = true }\n'
    "depth = { int = [3, 5] }\niterations = 80\nearly_stopping_rounds = 20\n"
    "rounds_per_epoch = 20\n",
}
SHORTER = {
    "max_epochs = 4": "max_epochs = 1",
    "batch_size = { choice = [1024, 4096] }": "batch_size = 256",
}
# The real tables are cut to their first rows (time order for MovieLens, whole query groups but
# perhaps the last for KDD Cup): the path is the same, at a fraction of the training.
REAL_ROWS = 20_000
SUITES = {
    # suite: (models, real file under ../shared/data)
    "avazu": (("lightgbm", "deepfm"), "avazu/train_head9k.csv.gz"),
    "movielens": (
        ("lightgbm", "mmoe", "shared-bottom"),
        "movielens100k/ratings_first80pct.parquet",
    ),
    "kdd2004": (("lightgbm-rank", "mlp"), "kddcup2004_bio/bio_train_80pct_groups.parquet"),
    "adult": (("catboost", "dcnv2"), "adult/adult.parquet"),
}


@pytest.fixture
def spaces(tmp_path: Path, repo_root: Path) -> Path:
    """Small GBDT spaces and the shipped neural presets with one epoch and small batches."""
    folder = tmp_path / "spaces"
    folder.mkdir()
    for model, text in GBDT.items():
        (folder / f"{model}.toml").write_text(text)
    for path in (repo_root / "search_spaces").glob("*.toml"):
        if path.stem in GBDT:
            continue
        text = path.read_text()
        if 'family = "neural"' in text:
            for old, new in SHORTER.items():
                text = text.replace(old, new)
            (folder / path.name).write_text(text)
    return folder


def _run(out: Path, spaces: Path, *argv: str) -> list[TrialResult]:
    args = ["run", *argv, "--trials", "1", "--seeds", "0", "--time-budget", "300", "--quiet"]
    assert main([*args, "--out", str(out), "--search-spaces", str(spaces)]) == 0
    (results,) = (out / "runs").glob("*/results.parquet")
    return read_results(results)


def _head(path: Path, folder: Path) -> Path:
    """A parquet file cut to its first `REAL_ROWS` rows in ``folder``, beside links to the files
    next to it (a card's joined side tables); other files as they are."""
    if (
        path.suffix != ".parquet"
        or pl.scan_parquet(path).select(pl.len()).collect().item() <= REAL_ROWS
    ):
        return path
    folder.mkdir()
    for sibling in path.parent.iterdir():
        if sibling != path:
            (folder / sibling.name).symlink_to(sibling)
    pl.read_parquet(path).head(REAL_ROWS).write_parquet(folder / path.name)
    return folder / path.name


def _board(out: Path) -> str:
    (board,) = (out / "leaderboards").glob("*.md")
    return board.read_text()


def _check(suite: str, rows: list[TrialResult], board: str) -> None:
    models = SUITES[suite][0]
    assert {r.model for r in rows} == set(models)
    for model in models:
        line = next(line for line in board.splitlines() if f"| {model} |" in line)
        best = max((r for r in rows if r.model == model), key=lambda r: r.valid_auc or 0.0)
        assert best.test_auc is not None and best.test_auc > 0.5, (suite, model)
        assert f"{best.test_auc:.4f}" in line
    if suite == "movielens":
        # Two tasks: each trial reports both; the board has a per-task column.
        assert "| tasks | like, love (ranked by the first)" in board
        assert "test AUC per task" in board
        for r in rows:
            if r.status == "complete":
                assert set(json.loads(r.task_metrics)) == {"like", "love"}
    if suite in ("movielens", "kdd2004"):
        assert "test GAUC" in board and "test NDCG@10" in board
        assert any(r.test_gauc is not None and r.test_ndcg10 is not None for r in rows)
    if suite == "kdd2004":
        rank = next(r for r in rows if r.model == "lightgbm-rank")
        assert "no logloss" in rank.notes


# MovieLens's stand-in (two tasks, joined side tables, groups) always runs; the others run where
# their real file is absent: with it, `test_suite_on_real_rows` runs the same models and checks
# (their stand-ins' data are checked against the cards in tests/data/test_cards.py).
ALWAYS_SYNTHETIC = "movielens"


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_suite_on_its_synthetic_stand_in(
    suite: str, tmp_path: Path, harness_home: Path, spaces: Path
) -> None:
    if suite != ALWAYS_SYNTHETIC and (SHARED_DATA / SUITES[suite][1]).is_file():
        pytest.skip(f"the real {suite} rows run instead (test_suite_on_real_rows)")
    models = ",".join(SUITES[suite][0])
    rows = _run(tmp_path, spaces, "--suite", suite, "--models", models, "--synthetic-rows", "3000")
    board = _board(tmp_path)
    assert board.startswith(f"# Leaderboard: {suite} (synthetic)")
    _check(suite, rows, board)


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_suite_on_real_rows(
    suite: str,
    tmp_path: Path,
    harness_home: Path,
    spaces: Path,
    shared_file: Callable[[str], Path],
) -> None:
    data = _head(shared_file(SUITES[suite][1]), tmp_path / "data")
    models = ",".join(SUITES[suite][0])
    rows = _run(tmp_path, spaces, "--suite", suite, "--models", models, "--data", str(data))
    board = _board(tmp_path)
    assert board.startswith(f"# Leaderboard: {suite}\n") and "Synthetic" not in board
    _check(suite, rows, board)


def test_a_users_own_parquet_through_data_init_and_card(
    tmp_path: Path, harness_home: Path, spaces: Path
) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    n = 4000
    shop = rng.integers(0, 30, n)
    frame = pl.DataFrame(
        {
            "user_id": rng.integers(0, 500, n),
            "shop": [f"s{v}" for v in shop],
            "price": rng.lognormal(3, 1, n),
            "clicked": (rng.random(n) < 0.2 + 0.4 * (shop % 2)).astype(np.int64),
        }
    )
    data = tmp_path / "my_clicks.parquet"
    frame.write_parquet(data)
    card = tmp_path / "my_clicks.toml"
    assert main(["data", "init", str(data), "--label", "clicked", "--out", str(card)]) == 0
    out = tmp_path / "out"
    rows = _run(out, spaces, "--data", str(data), "--card", str(card), "--models", "lightgbm,mlp")
    assert {r.model for r in rows} == {"lightgbm", "mlp"}
    board = _board(out)
    assert board.startswith("# Leaderboard: my-clicks\n")
    assert "| dataset card |" in board
    best = max(rows, key=lambda r: r.valid_auc or 0.0)
    assert best.test_auc is not None and best.test_auc > 0.6  # the shop's parity is the signal


def test_pre_split_files_reach_their_splits(
    tmp_path: Path, harness_home: Path, spaces: Path, repo_root: Path
) -> None:
    from harness.data.card import load_card
    from harness.data.synthetic_table import write_synthetic_table

    files = write_synthetic_table(load_card("avazu"), tmp_path / "raw", 3000)
    frame = pl.read_csv(files.main[0], infer_schema_length=0)
    parts = {"train": frame[:2400], "valid": frame[2400:2700], "test": frame[2700:]}
    paths = {}
    for name, part in parts.items():
        paths[name] = tmp_path / f"{name}.csv"
        part.write_csv(paths[name])
    out = tmp_path / "out"
    argv = ["--suite", "avazu", "--models", "lightgbm", "--data", str(paths["train"])]
    rows = _run(out, spaces, *argv, "--valid", str(paths["valid"]), "--test", str(paths["test"]))
    assert rows and rows[0].protocol == "files"
    assert "| rows | train 2,400 · valid 300 · test 300 |" in _board(out)
