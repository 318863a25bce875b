"""Where raw data comes from: --data, else HARNESS_DATA_DIR, else the cache, else nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.data.sources import resolve_data
from harness.errors import HarnessError


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_HOME", str(tmp_path / "home"))


def test_data_file_wins_over_everything(tmp_path: Path) -> None:
    f = tmp_path / "mine.txt"
    f.write_text("x")
    env_dir = tmp_path / "env"
    (env_dir / "criteo").mkdir(parents=True)
    (env_dir / "criteo" / "train.txt").write_text("x")
    src = resolve_data("criteo", str(f), {"HARNESS_DATA_DIR": str(env_dir)})
    assert (src.path, src.origin) == (f, "--data")


def test_data_folder_is_searched(tmp_path: Path) -> None:
    (tmp_path / "dac").mkdir()
    (tmp_path / "dac" / "train.txt.gz").write_text("x")
    assert resolve_data("criteo", str(tmp_path), {}).path == tmp_path / "dac" / "train.txt.gz"


def test_missing_data_path_is_an_error_not_a_synthetic_run(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="no such file or folder"):
        resolve_data("criteo", str(tmp_path / "typo.txt"), {})
    with pytest.raises(HarnessError, match=r"folder holds no train\.txt"):
        resolve_data("criteo", str(tmp_path), {})


def test_env_then_cache_then_none(tmp_path: Path) -> None:
    env_dir = tmp_path / "env"
    (env_dir / "criteo").mkdir(parents=True)
    (env_dir / "criteo" / "train.txt").write_text("x")
    assert resolve_data("criteo", None, {"HARNESS_DATA_DIR": str(env_dir)}).origin == (
        "HARNESS_DATA_DIR"
    )
    assert resolve_data("criteo", None, {}).origin == "none"
    cached = tmp_path / "home" / "downloads" / "criteo"
    cached.mkdir(parents=True)
    (cached / "train.txt").write_text("x")
    src = resolve_data("criteo", None, {"HARNESS_DATA_DIR": str(tmp_path / "empty")})
    assert (src.path, src.origin) == (cached / "train.txt", "cache")


def test_unknown_dataset_names_valid_ones() -> None:
    with pytest.raises(
        HarnessError, match=r"unknown dataset 'critoe'; cards in .*: adult, avazu, criteo"
    ):
        resolve_data("critoe", None, {})


def test_side_tables_are_found_beside_the_main_file_or_are_an_error(tmp_path: Path) -> None:
    # movielens joins users.parquet and items.parquet on the ratings file.
    folder = tmp_path / "env" / "movielens"
    folder.mkdir(parents=True)
    (folder / "ratings.parquet").write_text("x")
    (folder / "users.parquet").write_text("x")
    env = {"HARNESS_DATA_DIR": str(tmp_path / "env")}
    expected = (
        f"{folder}: the movielens card joins items.parquet (on movie_id), which is not in the "
        "folder; put it beside the main file"
    )
    # Wherever it was found, a half-copied dataset never becomes a silent synthetic run.
    for data, where in ((None, env), (str(folder), {}), (str(folder / "ratings.parquet"), {})):
        with pytest.raises(HarnessError) as info:
            resolve_data("movielens", data, where)
        assert str(info.value) == expected
    cached = tmp_path / "home" / "downloads" / "movielens"
    cached.mkdir(parents=True)
    (cached / "ratings.parquet").write_text("x")
    with pytest.raises(HarnessError, match=r"joins users\.parquet \(on user_id\)"):
        resolve_data("movielens", None, {})
    (folder / "items.parquet").write_text("x")
    source = resolve_data("movielens", None, env)
    assert source.files is not None
    assert source.files.sides == (folder / "users.parquet", folder / "items.parquet")
