"""The run folder: one run at a time, the record of invocations, what --resume reads."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.environment import Environment
from harness.errors import HarnessError
from harness.run_folder import RunLock, RunPaths, RunState, check_writable, move_aside


def test_a_second_holder_of_the_lock_refuses_in_one_line(tmp_path: Path) -> None:
    paths = RunPaths.of(tmp_path, "criteo", synthetic=True)
    with RunLock(paths):
        with pytest.raises(HarnessError, match="another harness run") as e:
            RunLock(paths).__enter__()
        assert "pid " in str(e.value) and "--out" in str(e.value) and "\n" not in str(e.value)
    with RunLock(paths):  # released on leaving the block
        pass


def test_the_state_records_invocations_and_spent_time(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    state = RunState("criteo-abc", 600.0, 12).started("harness run --suite criteo")
    state = state.spent("lightgbm", 10.0).spent("lightgbm", 5.0).spent("dcnv2", 1.5)
    state.save(path)
    loaded = RunState.load(path)
    assert loaded == state and loaded is not None
    assert loaded.spent_total == 16.5 and loaded.spent_s["lightgbm"] == 15.0
    assert loaded.invocations[-1].outcome == "running"
    ended = loaded.ended("interrupted").started("harness run --suite criteo --resume")
    assert [i.outcome for i in ended.invocations] == ["interrupted", "running"]
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(HarnessError, match="--fresh"):
        RunState.load(tmp_path / "bad.json")


def test_a_study_invocation_is_not_a_resumed_search(tmp_path: Path) -> None:
    env = Environment(cpu="c", cpu_count=2, memory_gib=1.0)
    state = RunState("criteo-abc", 600.0, 4).started("harness run --suite criteo", env)
    state = state.ended("finished").started("harness run --study hashing", env, study=True)
    state.save(tmp_path / "run.json")
    loaded = RunState.load(tmp_path / "run.json")
    assert loaded is not None and [i.study for i in loaded.invocations] == [False, True]
    assert loaded.search_invocations == 1
    resumed = loaded.ended("finished").started("harness run --suite criteo --resume", env)
    assert resumed.search_invocations == 2
    # A run.json from before the field: the command line tells a study's invocation.
    record = json.loads((tmp_path / "run.json").read_text())
    for invocation in record["invocations"]:
        del invocation["study"]
    (tmp_path / "run.json").write_text(json.dumps(record))
    older = RunState.load(tmp_path / "run.json")
    assert older is not None and [i.study for i in older.invocations] == [False, True]


def test_fresh_moves_the_earlier_run_aside(tmp_path: Path) -> None:
    paths = RunPaths.of(tmp_path, "criteo", synthetic=False)
    paths.run_dir.mkdir(parents=True)
    paths.results.write_bytes(b"x")
    assert paths.has_results()
    moved = move_aside(paths)
    assert (moved / "results.parquet").read_bytes() == b"x"
    assert moved.parent == paths.run_dir.parent and not paths.has_results()


def test_check_writable_names_the_folder(tmp_path: Path) -> None:
    check_writable(tmp_path / "new" / "deeper")
    assert (tmp_path / "new" / "deeper").is_dir()
    (tmp_path / "file").write_text("")
    with pytest.raises(HarnessError, match=r"cannot write to .*file/sub"):
        check_writable(tmp_path / "file" / "sub")


def test_fresh_twice_in_one_second_keeps_both_and_their_boards(tmp_path: Path) -> None:
    paths = RunPaths.of(tmp_path, "criteo", synthetic=False)
    moved = []
    for text in ("first", "second"):
        paths.run_dir.mkdir(parents=True)
        paths.results.write_text(text)
        paths.leaderboard.parent.mkdir(parents=True, exist_ok=True)
        paths.leaderboard.write_text(f"board {text}")
        moved.append(move_aside(paths))
    assert moved[0] != moved[1]
    assert [(m / "results.parquet").read_text() for m in moved] == ["first", "second"]
    assert [(m / "criteo.md").read_text() for m in moved] == ["board first", "board second"]
    assert not paths.leaderboard.exists()


def test_a_run_state_written_before_studies_loads(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"dataset_id": "d", "time_budget_s": 60.0, "trials_per_model": 2}))
    state = RunState.load(path)
    assert state is not None and state.study_spent_s == {}
    later = state.study_spent("hashing", 3.0).study_spent("hashing", 2.0)
    assert later.study_spent_s == {"hashing": 5.0} and later.spent_total == 0.0


def test_each_invocation_records_its_environment(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    given = Environment(cpu="test CPU", cpu_count=3, gpus=("GPU A", "GPU A"), commit="abc1234")
    state = RunState("d", 60.0, 2).started("harness run", environment=given)
    state = state.ended("interrupted").started("harness run --resume")  # captured here
    state.save(path)
    loaded = RunState.load(path)
    assert loaded == state and loaded is not None
    first, second = (i.environment for i in loaded.invocations)
    assert first == given and first.gpus == ("GPU A", "GPU A")  # tuples again after JSON
    assert second is not None and second.cpu_count == os.cpu_count()


def test_a_run_state_written_before_environments_loads(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    invocation: dict[str, object] = {"command": "run", "started_at": "2026-01-01 00:00:00 UTC"}
    record = {"dataset_id": "d", "time_budget_s": 60.0, "trials_per_model": 2}
    path.write_text(json.dumps({**record, "invocations": [invocation]}))
    state = RunState.load(path)
    assert state is not None and state.invocations[0].environment is None
    assert state.invocations[0].outcome == "running"
    invocation["environment"] = {"cpu_count": "many"}
    path.write_text(json.dumps({**record, "invocations": [invocation]}))
    with pytest.raises(HarnessError, match=r"not a harness run state.*cpu_count"):
        RunState.load(path)
