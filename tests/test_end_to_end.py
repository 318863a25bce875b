"""`harness run --suite criteo` end to end: data to leaderboard, study and results table.

Slow: each test starts a local Ray cluster and tunes the two GBDTs and two neural presets (DeepFM
and the others run end to end in tests/test_suites_end_to_end.py). The GBDT spaces are small
copies of the shipped ones (fewer rounds); the neural ones are the shipped preset files with
fewer epochs and one batch size, so the presets themselves are exercised. Resuming a run (the
cache reused, trials added to the same studies) is tested in tests/test_run_lifecycle.py.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path

import numpy as np
import optuna
import pytest
from sklearn.metrics import roc_auc_score

from harness.cli import main
from harness.repeats import TEST_LABELS, repeat_key
from harness.results.table import best_trial, is_search_trial, read_results

pytestmark = pytest.mark.slow

MODELS = ("lightgbm", "catboost", "dcnv2", "autoint")
GBDT_SPACES = {
    "lightgbm": """
family = "lightgbm"
learning_rate = { float = [0.05, 0.2], log = true }
num_leaves = { int = [15, 63] }
categorical = { choice = ["numeric", "native"] }
n_estimators = 300
early_stopping_rounds = 30
rounds_per_epoch = 50
""",
    "catboost": """
family = "catboost"
learning_rate = { float = [0.05, 0.2], log = true }
depth = { int = [4, 6] }
iterations = 100
early_stopping_rounds = 30
rounds_per_epoch = 50
""",
}
# The shipped neural presets, shortened: fewer epochs, one small batch size.
SHORTER = {
    "max_epochs = 4": "max_epochs = 2",
    "batch_size = { choice = [1024, 4096] }": "batch_size = 512",
}


@pytest.fixture
def spaces(tmp_path: Path, repo_root: Path) -> Path:
    folder = tmp_path / "spaces"
    folder.mkdir()
    for model, text in GBDT_SPACES.items():
        (folder / f"{model}.toml").write_text(text)
    for model in MODELS[2:]:
        text = (repo_root / "search_spaces" / f"{model}.toml").read_text()
        for old, new in SHORTER.items():
            assert old in text, (model, old)
            text = text.replace(old, new)
        (folder / f"{model}.toml").write_text(text)
    return folder


def _run(out: Path, spaces: Path, *extra: str) -> None:
    argv = ["run", "--suite", "criteo", "--trials", "2", "--time-budget", "900", "--quiet"]
    argv += ["--models", ",".join(MODELS)]
    assert main([*argv, "--out", str(out), "--search-spaces", str(spaces), *extra]) == 0


def _check_outputs(
    out: Path, label: str, trials_per_model: int, models: tuple[str, ...] = MODELS
) -> dict[str, float]:
    """Leaderboard rows, study trials and results rows agree; returns test AUC per model."""
    board = (out / "leaderboards" / f"{label}.md").read_text()
    rows = read_results(out / "runs" / label / "results.parquet")
    storage = f"sqlite:///{out / 'runs' / label / 'studies.sqlite3'}"
    test_auc: dict[str, float] = {}
    for model in models:
        mine = [r for r in rows if r.model == model and is_search_trial(r)]
        assert len(mine) == trials_per_model, model
        assert len({r.space_fingerprint for r in mine}) == 1
        name = f"{label}/{model}@{mine[0].space_fingerprint[:8]}"
        study = optuna.load_study(study_name=name, storage=storage)
        assert len(study.trials) == trials_per_model
        assert {r.study_trial for r in mine} == {t.number for t in study.trials}
        best = max(
            (r for r in mine if r.status == "complete" and r.test_auc is not None),
            key=lambda r: r.valid_auc or 0.0,
        )
        assert best.test_auc is not None and best.valid_auc is not None
        line = next(line for line in board.splitlines() if f"| {model} |" in line)
        assert f"| {best.valid_auc:.4f} | {best.test_auc:.4f} |" in line
        # The row's resolved config rebuilds to a config the family accepts.
        assert best.config_dict and (best.family == "neural") == ("model" in best.config_dict)
        test_auc[model] = best.test_auc
    return test_auc


def _check_repeats(out: Path, label: str, board: str, seeds: tuple[int, ...]) -> None:
    """Each model's best search trial was trained again with ``seeds``, predictions kept, and
    the board shows their mean ± std and the comparison with the best GBDT."""
    folder = out / "runs" / label
    rows = read_results(folder / "results.parquet")
    labels = np.load(folder / "predictions" / TEST_LABELS)
    for model in MODELS:
        best = best_trial(r for r in rows if r.model == model and is_search_trial(r))
        assert best is not None
        repeats = [r for r in rows if r.repeat_of == repeat_key(best)]
        assert sorted(r.seed for r in repeats) == list(seeds), model
        done = [r for r in repeats if r.status == "complete"]
        assert done, model
        for r in done:
            # The kept predictions are the ones the row's test AUC was scored on.
            scores = np.load(folder / r.predictions)
            assert scores.shape == labels.shape
            assert roc_auc_score(labels, scores) == pytest.approx(r.test_auc, abs=1e-6)
            assert r.predict_samples_per_s is not None and r.predict_samples_per_s > 0
        line = next(line for line in board.splitlines() if f"| {model} |" in line)
        assert f"{statistics.fmean(r.test_auc or 0.0 for r in done):.4f} ± " in line
    assert "| reference |" in board and "paired t-test over those seeds" in board


def test_synthetic_run_without_data(
    tmp_path: Path, harness_home: Path, spaces: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    _run(out, spaces, "--synthetic-rows", "12000", "--seeds", "2")
    printed = capsys.readouterr().out
    assert "SYNTHETIC" in printed
    board = (out / "leaderboards" / "criteo-synthetic.md").read_text()
    assert board.startswith("# Leaderboard: criteo (synthetic)")
    assert "train 9,600 · valid 1,200 · test 1,200" in board
    assert not (out / "leaderboards" / "criteo.md").exists()
    aucs = _check_outputs(out, "criteo-synthetic", 2)
    # The planted signal is learnable: every model beats chance clearly.
    assert all(auc > 0.6 for auc in aucs.values()), aucs
    _check_repeats(out, "criteo-synthetic", board, seeds=(1, 2))


def test_real_criteo_rows(
    tmp_path: Path,
    harness_home: Path,
    spaces: Path,
    shared_file: Callable[[str], Path],
) -> None:
    data = shared_file("criteo/train_head10k.txt.gz")
    out = tmp_path / "out"
    # The synthetic test covers every model; real rows need a GBDT and a neural model.
    models = ("lightgbm", "dcnv2")
    _run(out, spaces, "--data", str(data), "--seeds", "0", "--models", ",".join(models))
    board = (out / "leaderboards" / "criteo.md").read_text()
    assert board.startswith("# Leaderboard: criteo\n")
    assert "Synthetic" not in board
    assert "train 8,000 · valid 1,000 · test 1,000" in board
    aucs = _check_outputs(out, "criteo", 2, models)
    assert aucs["lightgbm"] > 0.70, aucs


def test_criteo_1tb_suite_on_a_ray_cluster(
    tmp_path: Path, harness_home: Path, spaces: Path, write_days: Callable[..., list[Path]]
) -> None:
    """Day files prepared by Ray tasks on the cluster; trials memory-map the shared cache."""
    import ray

    days = write_days(rows=[4000, 4000, 4000], gz={1})
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    try:
        out = tmp_path / "out"
        argv = ["run", "--suite", "criteo-1tb", "--data", str(days[0].parent), "--seeds", "0"]
        argv += ["--models", "lightgbm", "--trials", "2", "--address", "auto", "--quiet"]
        assert main([*argv, "--out", str(out), "--search-spaces", str(spaces)]) == 0
    finally:
        ray.shutdown()
    board = (out / "leaderboards" / "criteo-1tb.md").read_text()
    assert "train 9,600 · valid 1,200 · test 1,200" in board
    (cache,) = (harness_home / "cache").iterdir()
    assert '"runner": "ray: one task per shard' in (cache / "meta.json").read_text()
    rows = read_results(out / "runs" / "criteo-1tb" / "results.parquet")
    assert len(rows) == 2 and any(r.status == "complete" for r in rows)
