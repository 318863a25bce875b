"""``harness leaderboard``: a board rebuilt from results tables, several run folders merged."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.cli import main
from harness.errors import HarnessError
from harness.leaderboard.markdown import RunInfo
from harness.leaderboard.rebuild import rebuild
from harness.repeats import TEST_LABELS, repeat_key
from harness.results.table import TrialResult, append_results
from harness.run_folder import RunState
from tests.leaderboard.boards import run_info

_FAMILY = {"lightgbm": "lightgbm", "dcnv2": "neural"}


def _row(model: str, valid: float, test: float, n: int, **kw: object) -> TrialResult:
    return TrialResult(
        suite="criteo",
        dataset=str(kw.pop("dataset", "criteo@abc")),
        protocol="sequential",
        family=_FAMILY[model],
        model=model,
        space_fingerprint=f"fp-{model}",
        study=f"criteo/{model}@fp",
        trial_id=f"{model}-{n}-{kw.get('seed', 0)}",
        study_trial=n,
        params=json.dumps({"learning_rate": valid}),
        seed=int(kw.pop("seed", 0)),  # type: ignore[call-overload]
        status="complete",
        valid_auc=valid,
        test_auc=test,
        test_logloss=0.46,
        n_params=100,
        train_seconds=3.0,
        started_at=f"2026-12-04T10:{n:02d}:00",
        curve=json.dumps([{"epoch": 1, "valid_auc": valid}]),
        **kw,  # type: ignore[arg-type]
    )


def _info() -> RunInfo:
    return run_info(rows=(800, 100, 100), trials_per_model=2)


def _folder(path: Path, rows: list[TrialResult], spent: dict[str, float]) -> Path:
    path.mkdir(parents=True)
    append_results(path / "results.parquet", rows)
    (path / "info.json").write_text(_info().to_json())
    state = RunState("criteo@abc", 600.0, 2, spent_s=spent).started("harness run --suite criteo")
    state.save(path / "run.json")
    return path


def test_two_machines_merge_into_one_board(tmp_path: Path) -> None:
    a = _folder(
        tmp_path / "a" / "criteo",
        [_row("lightgbm", 0.78, 0.77, 0), _row("dcnv2", 0.79, 0.78, 1)],
        {"lightgbm": 60.0, "dcnv2": 100.0},
    )
    best = _row("dcnv2", 0.81, 0.80, 2)
    b = _folder(
        tmp_path / "b" / "criteo",
        [_row("lightgbm", 0.77, 0.76, 3), best],
        {"lightgbm": 30.0, "dcnv2": 50.0},
    )
    board = tmp_path / "leaderboards" / "criteo.md"
    built = rebuild([a, b], board)
    text = board.read_text()
    assert built.trials == 4 and built.folders == (a, b)
    by_model = {s.model: s for s in built.summaries}
    assert by_model["dcnv2"].best == best and by_model["dcnv2"].trials == 2
    assert by_model["lightgbm"].reference and by_model["lightgbm"].trials == 2
    assert by_model["dcnv2"].wall_seconds == 150.0  # both machines' tuning time
    assert "| merged from |" in text and str(a) in text and str(b) in text
    assert "| 1 | dcnv2 | 0.8100 | 0.8000 |" in text
    assert (tmp_path / "leaderboards" / "criteo-search.png").read_bytes()[:4] == b"\x89PNG"
    assert "![validation AUC of every trial, per model](criteo-search.png)" in text


def test_a_study_run_on_the_folder_is_not_a_resumed_search(tmp_path: Path) -> None:
    a = _folder(tmp_path / "a" / "criteo", [_row("lightgbm", 0.78, 0.77, 0)], {"lightgbm": 60.0})
    state = RunState.load(a / "run.json")
    assert state is not None
    state.started("harness run --suite criteo --study hashing", study=True).save(a / "run.json")
    board = tmp_path / "leaderboards" / "criteo.md"
    rebuild([a], board)
    text = board.read_text()
    assert "tuning took 1 min 00 s |" in text and "(resumed)" not in text
    state.started("harness run --suite criteo --resume").save(a / "run.json")
    rebuild([a], board)
    assert "tuning took 1 min 00 s over 2 invocations (resumed) |" in board.read_text()


@pytest.mark.parametrize("relative", [False, True])
def test_repeats_in_a_folder_keep_their_predictions_for_the_bootstrap(
    tmp_path: Path, relative: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    y = (np.random.default_rng(0).random(2000) < 0.3).astype(np.float32)
    gbdt, dcn = _row("lightgbm", 0.78, 0.70, 0), _row("dcnv2", 0.80, 0.75, 1)
    rows = [gbdt, dcn]
    folder = tmp_path / "runs" / "criteo"
    (folder / "predictions").mkdir(parents=True)
    np.save(folder / "predictions" / TEST_LABELS, y)
    rng = np.random.default_rng(1)
    for seed in (1, 2, 3):
        for best, strength in ((gbdt, 0.5), (dcn, 1.5)):
            name = f"predictions/{best.model}-{seed}.npy"
            np.save(folder / name, (strength * y + rng.normal(size=len(y))).astype(np.float32))
            rows.append(
                _row(
                    best.model,
                    0.8,
                    0.7 + 0.05 * (best is dcn) + 0.001 * seed,
                    10 + seed,
                    seed=seed,
                    repeat_of=repeat_key(best),
                    predictions=name,
                )
            )
    path = tmp_path / "runs" / "criteo"
    append_results(path / "results.parquet", rows)
    (path / "info.json").write_text(_info().to_json())
    if relative:  # `harness leaderboard --runs runs/criteo` from the folder above
        monkeypatch.chdir(tmp_path)
        path = Path("runs") / "criteo"
    built = rebuild([path], tmp_path / "board.md")
    (dcn_summary,) = [s for s in built.summaries if s.model == "dcnv2"]
    assert dcn_summary.comparison is not None
    assert dcn_summary.comparison.interval is not None  # the kept predictions were found
    assert dcn_summary.comparison.interval.low > 0 and dcn_summary.comparison.significant


def test_different_data_are_never_pooled(tmp_path: Path) -> None:
    a = _folder(tmp_path / "a", [_row("lightgbm", 0.78, 0.77, 0)], {})
    b = _folder(tmp_path / "b", [_row("lightgbm", 0.7, 0.7, 1, dataset="criteo@other")], {})
    with pytest.raises(HarnessError, match=r"on 2 different data .*--dataset ID"):
        rebuild([a, b], tmp_path / "board.md")
    built = rebuild([a, b], tmp_path / "board.md", dataset="criteo@other")
    assert built.trials == 1 and built.folders == (b,)
    with pytest.raises(HarnessError, match="--dataset nope: not in these runs"):
        rebuild([a, b], tmp_path / "board.md", dataset="nope")


def test_a_folder_without_its_facts_is_one_line(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "a", [_row("lightgbm", 0.78, 0.77, 0)], {})
    (folder / "info.json").unlink()
    with pytest.raises(HarnessError, match=r"no info.json .* with --resume once"):
        rebuild([folder], tmp_path / "board.md")
    with pytest.raises(HarnessError, match="not a run folder"):
        rebuild([tmp_path], tmp_path / "board.md")


def test_the_command_rebuilds_the_suites_board_in_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _folder(tmp_path / "runs" / "criteo", [_row("lightgbm", 0.78, 0.77, 0)], {"lightgbm": 5.0})
    assert main(["leaderboard", "--suite", "criteo", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "leaderboards" / "criteo.md").read_text().startswith("# Leaderboard")
    assert "1 trials from 1 run folder(s)" in " ".join(capsys.readouterr().out.split())
    assert main(["leaderboard", "--suite", "avazu", "--out", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err
