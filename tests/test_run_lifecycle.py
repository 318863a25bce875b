"""Runs that lose nothing: kill -9 then --resume, one Ctrl-C, two runs on one folder at once.

Slow: each test starts real ``harness run`` processes (a local Ray each) on a small synthetic
Criteo and signals them as a user or a machine would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import optuna
import pytest

from harness.results.table import TrialResult, read_results

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

LABEL = "criteo-synthetic"
SPACES = {
    "lightgbm": """
family = "lightgbm"
learning_rate = { float = [0.02, 0.2], log = true }
num_leaves = { int = [7, 63] }
n_estimators = 400
early_stopping_rounds = 400
rounds_per_epoch = 20
""",
    "catboost": """
family = "catboost"
learning_rate = { float = [0.02, 0.2], log = true }
depth = { int = [3, 6] }
iterations = 400
early_stopping_rounds = 400
rounds_per_epoch = 20
""",
}
STATES = {"complete": "COMPLETE", "pruned": "PRUNED", "failed": "FAIL", "interrupted": "FAIL"}


@pytest.fixture
def spaces(tmp_path: Path) -> Path:
    folder = tmp_path / "spaces"
    folder.mkdir()
    for name, text in SPACES.items():
        (folder / f"{name}.toml").write_text(text)
    return folder


def _start(out: Path, spaces: Path, home: Path, *extra: str) -> subprocess.Popen[str]:
    """``harness run`` in its own process group (as a shell runs a foreground job)."""
    # No repeat stage: these tests count the search's trials.
    argv = [
        sys.executable,
        "-m",
        "harness.cli",
        "run",
        "--suite",
        "criteo",
        "--quiet",
        "--seeds",
        "0",
    ]
    argv += ["--synthetic-rows", "6000", "--out", str(out), "--search-spaces", str(spaces)]
    env = {**os.environ, "HARNESS_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    env.pop("HARNESS_DATA_DIR", None)
    return subprocess.Popen(
        [*argv, *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _rows(out: Path) -> list[TrialResult]:
    path = out / "runs" / LABEL / "results.parquet"
    return read_results(path) if path.exists() else []


def _wait_for_rows(
    proc: subprocess.Popen[str], out: Path, n: int, timeout: float = 240, status: str = ""
) -> None:
    """Until ``n`` rows are written (with ``status``, when given)."""
    end = time.monotonic() + timeout
    while len([r for r in _rows(out) if r.status == status or not status]) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < end, f"fewer than {n} rows after {timeout} s"
        time.sleep(0.3)


def _group_gone(pgid: int, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def _study_agrees_with_table(out: Path) -> list[TrialResult]:
    """Every Optuna trial has exactly one row with the matching state; none is RUNNING."""
    rows = _rows(out)
    keyed = Counter((r.study, r.study_trial) for r in rows)
    assert max(keyed.values()) == 1, "a trial has two rows"
    storage = f"sqlite:///{out / 'runs' / LABEL / 'studies.sqlite3'}"
    trials = 0
    for summary in optuna.get_all_study_summaries(storage):
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        for t in study.trials:
            trials += 1
            (row,) = [r for r in rows if (r.study, r.study_trial) == (summary.study_name, t.number)]
            assert t.state.name == STATES[row.status], (row.status, t.state)
            assert t.user_attrs["harness_status"] == row.status
            assert json.loads(row.params) == t.params
            if row.status == "complete":
                assert t.value == pytest.approx(row.valid_auc)
            if row.status == "pruned":
                assert t.intermediate_values, "a pruned trial keeps its per-epoch values"
    assert trials == len(rows)
    return rows


def test_kill_9_then_resume_keeps_every_trial_and_runs_none_twice(
    tmp_path: Path, spaces: Path
) -> None:
    out, home = tmp_path / "out", tmp_path / "home"
    args = ("--models", "lightgbm", "--trials", "6", "--time-budget", "600")
    proc = _start(out, spaces, home, *args)
    _wait_for_rows(proc, out, 2)
    cache = {p.name: p.stat().st_mtime_ns for p in (home / "cache").iterdir()}
    before = {(r.study, r.study_trial): r for r in _rows(out)}
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    # Ray's processes (agents with open ports included) end with the driver.
    assert _group_gone(proc.pid, 20), "Ray processes outlived the killed run"

    again = _start(out, spaces, home, *args)
    _, err = again.communicate(timeout=120)
    assert again.returncode == 2
    assert err.strip().count("\n") == 0 and "Traceback" not in err
    assert "--resume" in err and "--fresh" in err and "earlier run" in err

    resumed = _start(out, spaces, home, *args, "--resume")
    _, err = resumed.communicate(timeout=400)
    assert resumed.returncode == 0, err
    # The data were encoded once: the resumed run mapped the same cache folder.
    assert {p.name: p.stat().st_mtime_ns for p in (home / "cache").iterdir()} == cache
    rows = _study_agrees_with_table(out)
    after = {(r.study, r.study_trial): r for r in rows}
    assert all(after[k] == r for k, r in before.items()), "a finished trial was changed"
    ended = [r for r in rows if r.status != "interrupted"]
    assert len(ended) == 6, Counter(r.status for r in rows)
    # The search went on instead of replaying its first suggestions.
    assert len({r.params for r in rows}) == len(rows)
    board = (out / "leaderboards" / f"{LABEL}.md").read_text()
    assert "over 2 invocations (resumed)" in board and "6 of 6" in board
    state = json.loads((out / "runs" / LABEL / "run.json").read_text())
    assert [i["outcome"] for i in state["invocations"]] == ["running", "finished"]


def test_one_ctrl_c_stops_the_whole_run_and_writes_the_leaderboard(
    tmp_path: Path, spaces: Path
) -> None:
    out, home = tmp_path / "out", tmp_path / "home"
    proc = _start(
        out, spaces, home, "--models", "lightgbm,catboost", "--trials", "60", "--time-budget", "600"
    )
    # A complete trial first (ASHA may prune the first ones): the board then ranks it.
    _wait_for_rows(proc, out, 1, status="complete")
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
    sent = time.monotonic()
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - sent < 20, "one Ctrl-C must stop the run within seconds"
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    rows = _study_agrees_with_table(out)
    assert {r.model for r in rows} == {"lightgbm"}, "the next model must not start"
    assert any(r.status == "interrupted" for r in rows)
    board = (out / "leaderboards" / f"{LABEL}.md").read_text()
    assert "**Interrupted.**" in board
    assert any(line.startswith("| 1 | lightgbm |") for line in board.splitlines())


def test_two_runs_on_one_folder_one_refuses_and_shares_hold(tmp_path: Path, spaces: Path) -> None:
    out, home = tmp_path / "out", tmp_path / "home"
    args = ("--models", "lightgbm,catboost", "--trials", "200", "--time-budget", "20")
    first, second = (_start(out, spaces, home, *args) for _ in range(2))
    results = [p.communicate(timeout=300) for p in (first, second)]
    codes = sorted(p.returncode for p in (first, second))
    assert codes == [0, 2], results
    refusal = results[[first.returncode, second.returncode].index(2)][1]
    assert "Traceback" not in refusal and refusal.strip().count("\n") == 0
    assert "another harness run" in refusal or "earlier run" in refusal
    _study_agrees_with_table(out)
    # Each model kept to its share: 10 s each (what the first leaves goes to the second).
    spent = json.loads((out / "runs" / LABEL / "run.json").read_text())["spent_s"]
    assert spent["lightgbm"] <= 10 + 3, spent
    assert sum(spent.values()) <= 20 + 3, spent
    assert spent["catboost"] >= 6, spent
