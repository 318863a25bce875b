"""Optuna studies in a database server (``--optuna-storage``): a real PostgreSQL, bad URLs in one
line with the password masked, and run folders that share one database."""

from __future__ import annotations

import io
import sys
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from rich.console import Console

from harness.cli import main
from harness.data.schema import EncodedDataset
from harness.errors import HarnessError
from harness.leaderboard.markdown import render
from harness.pipeline import RunOptions, close_stale
from harness.results.table import TrialResult, read_results
from harness.run_folder import RunPaths, check_storage_path
from harness.tuning.rows import RowContext
from harness.tuning.space import SearchSpace
from harness.tuning.studies import (
    OWNER_ATTR,
    StudyBook,
    close_stale_trials,
    open_storage,
    run_folder_id,
    study_name,
)
from harness.urls import masked_url
from tests.dashboard_server import free_port, listed_studies
from tests.leaderboard.boards import run_info
from tests.postgres import PostgresServer, create_database


def _ctx(space: SearchSpace, suite: str = "unit") -> RowContext:
    return RowContext(
        suite=suite,
        dataset="planted",
        protocol="random",
        family="lightgbm",
        model=space.name,
        fingerprint=space.fingerprint,
        study=study_name(suite, space),
        seed=0,
    )


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A database of its own on the session's server, for one test."""
    return create_database(postgres_server, f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database several run folders share: a SQLite URL, and a real PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    else:
        yield request.getfixturevalue("postgres_url")


def test_the_password_is_masked_wherever_it_sits() -> None:
    assert (
        masked_url("postgresql://bob:s3cret@db:5432/harness")
        == "postgresql://bob:***@db:5432/harness"
    )
    # An unescaped @ in the password: everything up to the last @ is hidden.
    assert masked_url("postgresql://bob:p@ss@db/h") == "postgresql://bob:***@db/h"
    assert (
        masked_url("postgresql://db/h?user=bob&password=x")
        == "postgresql://db/h?user=bob&password=***"
    )
    assert masked_url("postgresql://bob@db/h") == "postgresql://bob@db/h"
    assert masked_url("bob:s3cret@db/h") == "bob:***@db/h"  # no scheme: a mistake, still hidden


@pytest.mark.parametrize(
    ("url", "says"),
    [
        # Nothing listens on the port: the server refuses the connection.
        ("postgresql://alice:hunter2@127.0.0.1:{port}/harness", "check that the server runs"),
        ("postgresql+psycopg2://alice:hunter2@127.0.0.1:{port}/harness", "Connection refused"),
        ("postgresql://alice:hunter2@127.0.0.1:notaport/harness", "is not a database URL"),
        ("nosuchdb://alice:hunter2@127.0.0.1/harness", "is not a database URL"),
        ("alice:hunter2@127.0.0.1/harness", "is not a database URL"),
    ],
)
def test_an_unusable_storage_url_is_one_line_without_the_password(url: str, says: str) -> None:
    url = url.format(port=free_port())
    with pytest.raises(HarnessError) as raised:
        open_storage(url)
    message = str(raised.value)
    assert "\n" not in message and "hunter2" not in message
    assert says in message
    assert masked_url(url) in message  # names the URL, password masked


def test_a_missing_driver_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("psycopg2", "psycopg"):  # neither importable
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(HarnessError) as raised:
        open_storage("postgresql://alice:hunter2@db.example:5432/harness")
    message = str(raised.value)
    assert "\n" not in message and "hunter2" not in message
    assert "postgresql://alice:***@db.example:5432/harness" in message
    assert "pip install psycopg2-binary" in message


def test_a_missing_database_on_a_real_server_is_one_line(postgres_server: PostgresServer) -> None:
    url = f"postgresql://postgres:hunter2@127.0.0.1:{postgres_server.port}/no_such_database"
    with pytest.raises(HarnessError) as raised:
        open_storage(url)
    message = str(raised.value)
    assert "\n" not in message and "hunter2" not in message
    assert "no_such_database" in message and "does not exist" in message


def test_each_folder_closes_only_its_own_running_trials(
    shared_url: str, lightgbm_space: SearchSpace, tmp_path: Path
) -> None:
    # Two run folders with the same label (so the same studies) on one database, and a trial
    # of an older harness that named no folder.
    here = RunPaths.of(tmp_path / "here", "unit", synthetic=False)
    there = RunPaths.of(tmp_path / "there", "unit", synthetic=False)
    storage = open_storage(shared_url)
    ctx = _ctx(lightgbm_space)
    mine = StudyBook(storage, lightgbm_space, ctx, 0, owner=run_folder_id(here.run_dir))
    theirs = StudyBook(storage, lightgbm_space, ctx, 0, owner=run_folder_id(there.run_dir))
    legacy = StudyBook(storage, lightgbm_space, ctx, 0)
    mine_number, _ = mine.ask("mine")
    theirs_number, _ = theirs.ask("theirs")
    legacy_number, _ = legacy.ask("legacy")
    theirs.report("theirs", 1, 0.7)  # still running: its epochs keep coming

    quiet = Console(file=io.StringIO())
    close_stale(here, quiet, shared_url)  # what `harness run --optuna-storage URL` does

    study = optuna.load_study(study_name=ctx.study, storage=open_storage(shared_url))
    states = {t.number: t.state for t in study.trials}
    assert states[mine_number] == states[legacy_number] == TrialState.FAIL
    assert states[theirs_number] == TrialState.RUNNING
    assert study.trials[mine_number].user_attrs[OWNER_ATTR] == run_folder_id(here.run_dir)
    rows = read_results(here.results)
    assert sorted(r.study_trial for r in rows) == sorted([mine_number, legacy_number])
    assert {r.status for r in rows} == {"interrupted"}
    assert not there.results.exists()

    # The other folder's own next run closes it; nothing is left for this one.
    written: list[TrialResult] = []
    owner = run_folder_id(there.run_dir)
    assert close_stale_trials(open_storage(shared_url), written.extend, owner=owner) == 1
    assert close_stale_trials(open_storage(shared_url), written.extend, owner=owner) == 0


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_tuning_keeps_its_study_in_postgresql(
    postgres_url: str, planted: EncodedDataset, lightgbm_space: SearchSpace, tmp_path: Path
) -> None:
    pytest.importorskip("ray")
    from harness.families.lightgbm import LIGHTGBM
    from harness.tuning.tuner import TuneOptions, tune_model

    run_dir = tmp_path / "runs" / "unit"
    options = TuneOptions(
        suite="unit",
        study_db=run_dir / "studies.sqlite3",
        results_path=run_dir / "results.parquet",
        num_samples=3,
        num_cpus=2,
        show_progress=False,
        storage_url=postgres_url,
        ray_dir=str(tmp_path / "shared" / "ray"),
    )
    rows = tune_model(lightgbm_space, planted, options, family=LIGHTGBM)

    assert len(rows) == 3 and {r.status for r in rows} <= {"complete", "pruned"}
    assert not (run_dir / "studies.sqlite3").exists()  # the studies went to the server
    assert list((tmp_path / "shared" / "ray").iterdir())  # Ray's experiment state, as asked
    study = optuna.load_study(
        study_name=study_name("unit", lightgbm_space), storage=open_storage(postgres_url)
    )
    assert len(study.trials) == 3
    expected = {"complete": TrialState.COMPLETE, "pruned": TrialState.PRUNED}
    for row in rows:
        assert row.study_trial is not None
        trial = study.trials[row.study_trial]
        assert trial.state == expected[row.status]
        assert trial.user_attrs["harness_status"] == row.status
        assert trial.user_attrs[OWNER_ATTR] == run_folder_id(run_dir)
        if row.status == "complete":
            assert trial.value == pytest.approx(row.valid_auc)


def test_an_unwritable_storage_path_is_one_line_and_a_uri_is_left_to_ray(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(HarnessError) as raised:
        check_storage_path(str(tmp_path / "file" / "ray"))
    assert "\n" not in str(raised.value) and "--storage-path" in str(raised.value)
    check_storage_path("s3://bucket/harness")  # nothing to check here
    check_storage_path(str(tmp_path / "new" / "ray"))
    assert (tmp_path / "new" / "ray").is_dir()


def test_ray_gets_an_absolute_folder_or_the_uri_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("ray")
    from harness.tuning.tuner import ray_storage_path

    monkeypatch.chdir(tmp_path)
    assert ray_storage_path(None, tmp_path / "run") == str(tmp_path / "run" / "ray")
    assert ray_storage_path("shared/ray", tmp_path / "run") == str(tmp_path / "shared" / "ray")
    assert ray_storage_path("s3://bucket/ray", tmp_path / "run") == "s3://bucket/ray"


def test_the_leaderboard_names_the_database_and_how_to_open_it() -> None:
    info = run_info(storage_url=masked_url("postgresql://bob:s3cret@db/harness"))
    text = render(info, [])
    assert "s3cret" not in text
    assert "Studies: `postgresql://bob:***@db/harness`" in text
    assert "harness dashboard --optuna-storage postgresql://bob:***@db/harness" in text
    own = render(replace(info, storage_url="sqlite:///runs/criteo/studies.sqlite3"), [])
    assert "harness dashboard --suite criteo`" in own


def test_the_dashboard_refuses_an_unusable_storage_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"postgresql://alice:hunter2@127.0.0.1:{free_port()}/harness"
    assert main(["dashboard", "--optuna-storage", url]) == 2
    err = capsys.readouterr().err
    assert "hunter2" not in err and "alice:***@127.0.0.1" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_the_dashboard_serves_the_studies_in_postgresql(postgres_url: str) -> None:
    study = optuna.create_study(
        study_name="criteo/lightgbm@0123abcd",
        storage=open_storage(postgres_url),
        direction="maximize",
    )
    study.optimize(lambda t: t.suggest_float("learning_rate", 0.01, 0.3), n_trials=2)
    body = listed_studies(["--optuna-storage", postgres_url])
    assert "criteo/lightgbm@0123abcd" in body


def test_a_run_stops_on_an_unusable_database_before_reading_data(
    tmp_path: Path, harness_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"postgresql://alice:hunter2@127.0.0.1:{free_port()}/harness"
    argv = ["run", "--suite", "criteo", "--out", str(tmp_path), "--quiet"]
    assert main([*argv, "--optuna-storage", url]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "hunter2" not in err and "alice:***@127.0.0.1" in err
    (tmp_path / "file").write_text("")
    assert main([*argv, "--storage-path", str(tmp_path / "file" / "ray")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--storage-path" in err
    assert not list((tmp_path / "runs").glob("*/*"))  # nothing was run


def test_the_recorded_command_line_hides_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[RunOptions] = []
    monkeypatch.setattr("harness.pipeline.run_suite", lambda opts, _console: seen.append(opts))
    url = "postgresql://alice:hunter2@db.example/harness"
    assert main(["run", "--suite", "criteo", "--optuna-storage", url]) == 0
    (opts,) = seen
    assert opts.optuna_storage == url  # the run itself connects with the password
    assert "hunter2" not in opts.command and "alice:***@db.example" in opts.command
