"""Criteo 1TB: day files found in a folder in day order, resolved as one source, prepared."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from harness.cli import main
from harness.data.criteo_1tb import day_files, prepare_criteo_1tb
from harness.data.preprocess import PreprocessConfig, prepare_criteo
from harness.data.registry import get_dataset
from harness.data.sources import resolve_data
from harness.errors import HarnessError

DayWriter = Callable[..., list[Path]]  # the conftest fixture's type


def _touch(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text("x")


def test_days_sort_numerically_plain_or_gzipped(tmp_path: Path) -> None:
    names = [f"day_{d}" + (".gz" if d % 3 == 0 else "") for d in range(12)]
    _touch(tmp_path, *names, "README", "day_x", "day_3.gz.part")
    assert [p.name for p in day_files(tmp_path)] == names  # day_2 before day_10


def test_no_days_is_empty(tmp_path: Path) -> None:
    _touch(tmp_path, "train.txt")
    assert day_files(tmp_path) == ()


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["day_0", "day_1", "day_3"], "day_2 is missing but day_3 is there"),
        (["day_1"], "day_0 is missing"),
        (["day_0", "day_0.gz"], r"day_0 is there twice \(day_0 and day_0.gz\)"),
        (["day_0", "day_24"], "has days 0 .. 23, not 24"),
    ],
)
def test_day_mistakes_are_errors(tmp_path: Path, names: list[str], message: str) -> None:
    _touch(tmp_path, *names)
    with pytest.raises(HarnessError, match=message):
        day_files(tmp_path)


def test_resolve_a_folder_of_days(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_HOME", str(tmp_path / "home"))
    _touch(tmp_path / "data" / "criteo-1tb", "day_0.gz", "day_1.gz", "day_2")
    for given in (tmp_path / "data", tmp_path / "data" / "criteo-1tb"):
        source = resolve_data("criteo-1tb", str(given), {})
        assert source.origin == "--data" and source.path == tmp_path / "data" / "criteo-1tb"
        assert source.files is not None
        assert [p.name for p in source.files.main] == ["day_0.gz", "day_1.gz", "day_2"]
    env = resolve_data("criteo-1tb", None, {"HARNESS_DATA_DIR": str(tmp_path / "data")})
    assert env.origin == "HARNESS_DATA_DIR" and env.files and len(env.files.main) == 3
    one = resolve_data("criteo-1tb", str(tmp_path / "data" / "criteo-1tb" / "day_2"), {})
    assert one.files and one.files.main == (tmp_path / "data" / "criteo-1tb" / "day_2",)
    assert resolve_data("criteo-1tb", None, {}).origin == "none"
    with pytest.raises(HarnessError, match=r"folder holds no numbered files day_0, day_1"):
        resolve_data("criteo-1tb", str(tmp_path), {})
    # The one-file dataset still resolves to one file.
    _touch(tmp_path / "kaggle", "train.txt")
    kaggle = resolve_data("criteo", str(tmp_path / "kaggle"), {}).files
    assert kaggle is not None and kaggle.main == (tmp_path / "kaggle" / "train.txt",)


def test_prepare_a_folder_equals_prepare_the_files(write_days: DayWriter, tmp_path: Path) -> None:
    days = write_days([500, 700, 400], gz={2})
    config = PreprocessConfig(protocol="x4")
    from_folder = prepare_criteo_1tb(days[0].parent, config, cache_root=tmp_path, progress=False)
    assert from_folder.name == "criteo-1tb"
    from_files = prepare_criteo(
        days, config, cache_root=tmp_path, progress=False, name="criteo-1tb"
    )
    assert from_folder.cache_dir == from_files.cache_dir
    (tmp_path / "empty").mkdir()
    with pytest.raises(HarnessError, match="empty: no day files day_0"):
        prepare_criteo_1tb(tmp_path / "empty", config, cache_root=tmp_path)


def test_registered_without_a_download(
    harness_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    card = get_dataset("criteo-1tb")
    assert card.download is None and card.docs == "datasets/criteo-1tb.md"
    assert Path(__file__).resolve().parents[2].joinpath(card.docs).is_file()
    assert main(["data", "fetch", "criteo-1tb"]) == 2
    error = " ".join(capsys.readouterr().err.split())
    assert "criteo-1tb cannot be fetched by harness" in error
    assert "criteo/CriteoClickLogs" in error and "--data FOLDER" in error
