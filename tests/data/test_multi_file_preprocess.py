"""prepare_criteo over several files: the same as their concatenation, keyed on every file."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from harness.data.preprocess import PreprocessConfig, prepare_criteo
from harness.data.schema import EncodedDataset
from harness.errors import HarnessError

DayWriter = Callable[..., list[Path]]  # the conftest fixtures' types
CacheContents = Callable[[str | None], dict[str, bytes]]

ROWS = [700, 1200, 500, 900]


def _prepare(paths: Path | list[Path], cache: Path, **config: object) -> EncodedDataset:
    return prepare_criteo(
        paths,
        PreprocessConfig(**config),  # type: ignore[arg-type]
        cache_root=cache,
        progress=False,
    )


@pytest.mark.parametrize(("protocol", "gz"), [("sequential", False), ("x4", True), ("x1", False)])
def test_days_equal_their_concatenation(
    write_days: DayWriter,
    cache_contents: CacheContents,
    tmp_path: Path,
    protocol: str,
    gz: bool,
) -> None:
    days = write_days(ROWS, gz=range(len(ROWS)) if gz else ())
    joined = tmp_path / ("joined.gz" if gz else "joined.txt")  # gzip members concatenate too
    joined.write_bytes(b"".join(p.read_bytes() for p in days))
    # Small blocks, so blocks and file boundaries fall in different places in the two inputs.
    many = _prepare(days, tmp_path / "c1", protocol=protocol, seed=3, block_bytes=60_000)
    one = _prepare(joined, tmp_path / "c2", protocol=protocol, seed=3, block_bytes=100_000)
    assert many.train.n_rows + many.valid.n_rows + many.test.n_rows == sum(ROWS)
    assert cache_contents(many.cache_dir) == cache_contents(one.cache_dir)
    assert many.schema == one.schema
    assert len(cache_contents(many.cache_dir)) == 9 + 2 * 26 + 1  # arrays, counts+vocab, schema

    assert many.cache_dir is not None
    meta = json.loads((Path(many.cache_dir) / "meta.json").read_text())
    assert meta["sources"] == [str(p.resolve()) for p in days]
    assert meta["shards"] == len(ROWS) and meta["total_rows"] == sum(ROWS)
    assert meta["source_bytes"] == sum(p.stat().st_size for p in days)
    assert many.source.endswith(f"{{day_0{'.gz' if gz else ''} .. {days[-1].name}}} (4 files)")


def test_mixed_plain_and_gzip_days(write_days: DayWriter, tmp_path: Path) -> None:
    days = write_days([400, 600, 500], gz={1})
    plain = tmp_path / "plain"
    plain.mkdir()
    copies = []
    for day in days:
        copy = plain / day.name.removesuffix(".gz")
        data = day.read_bytes()
        copy.write_bytes(gzip.decompress(data) if day.suffix == ".gz" else data)
        copies.append(copy)
    a = _prepare(days, tmp_path / "c1", protocol="x4")
    b = _prepare(copies, tmp_path / "c2", protocol="x4")
    for split in ("train", "valid", "test"):
        np.testing.assert_array_equal(a.split(split).x_cat, b.split(split).x_cat)
        np.testing.assert_array_equal(a.split(split).x_num, b.split(split).x_num)


def test_one_path_or_a_list_of_one_share_the_cache(write_days: DayWriter, tmp_path: Path) -> None:
    (day,) = write_days([600])
    assert _prepare(day, tmp_path).cache_dir == _prepare([day], tmp_path).cache_dir


def test_cache_key_covers_every_file_and_the_order(write_days: DayWriter, tmp_path: Path) -> None:
    days = write_days([500, 600, 700])
    key = _prepare(days, tmp_path).cache_dir
    assert _prepare(days[::-1], tmp_path).cache_dir != key
    assert _prepare(days[:2], tmp_path).cache_dir != key
    days[2].write_bytes(days[2].read_bytes() + days[2].read_bytes().split(b"\n", 1)[0] + b"\n")
    changed = _prepare(days, tmp_path)
    assert changed.cache_dir != key
    assert changed.train.n_rows + changed.valid.n_rows + changed.test.n_rows == 1801


def test_bad_row_names_its_own_file_and_line(write_days: DayWriter, tmp_path: Path) -> None:
    days = write_days([300, 400, 500, 300])
    lines = days[2].read_bytes().split(b"\n")
    fields = lines[6].split(b"\t")
    fields[5] = b"abc"  # I5 of the 7th line of the third day
    lines[6] = b"\t".join(fields)
    days[2].write_bytes(b"\n".join(lines))
    with pytest.raises(HarnessError, match=r"^day_2 line 7: column I5 is 'abc'"):
        _prepare(days, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []
    skipped = _prepare(days, tmp_path / "cache", bad_rows="skip")
    assert skipped.skipped_rows == 1
    assert skipped.train.n_rows + skipped.valid.n_rows + skipped.test.n_rows == 1499


def test_missing_day_is_reported_before_reading(write_days: DayWriter, tmp_path: Path) -> None:
    days = write_days([300, 400])
    with pytest.raises(HarnessError, match="day_7: file not found"):
        _prepare([*days, days[0].parent / "day_7"], tmp_path / "cache")
    with pytest.raises(HarnessError, match="no raw files given"):
        _prepare([], tmp_path / "cache")


def test_too_few_rows_names_the_files(write_days: DayWriter, tmp_path: Path) -> None:
    days = write_days([3, 1])
    with pytest.raises(HarnessError, match=r"^day_0 \.\. day_1 \(2 files\): 4 rows split by"):
        _prepare(days, tmp_path / "cache")
