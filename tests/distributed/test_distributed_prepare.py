"""prepare_distributed on a local two-CPU Ray cluster == prepare_criteo over the same day files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import harness.distributed.prepare as distributed
from harness.data.card import load_card
from harness.data.preprocess import PreprocessConfig, prepare_criteo
from harness.distributed import prepare_distributed
from harness.errors import HarnessError

CRITEO = load_card("criteo")

DayWriter = Callable[..., list[Path]]  # the conftest fixtures' types
CacheContents = Callable[[str | None], dict[str, bytes]]

ROWS = [900, 1500, 600, 1100, 800]


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["sequential", "x4"])
def test_distributed_equals_single_process(
    local_ray: None,
    write_days: DayWriter,
    cache_contents: CacheContents,
    tmp_path: Path,
    protocol: str,
) -> None:
    days = write_days(ROWS, gz={1, 3})
    # Several blocks per day, so tasks see more than one block each.
    config = PreprocessConfig(protocol=protocol, seed=5, block_bytes=80_000)
    single = prepare_criteo(days, config, cache_root=tmp_path / "single", progress=False)
    spread = prepare_distributed(
        CRITEO, days, config, cache_root=tmp_path / "spread", progress=False
    )

    assert single.cache_dir is not None and spread.cache_dir is not None
    assert Path(single.cache_dir).name == Path(spread.cache_dir).name  # the same cache key
    expected = cache_contents(single.cache_dir)
    got = cache_contents(spread.cache_dir)
    assert sorted(got) == sorted(expected)
    assert {"schema.json", "train/x_num.npy", "cat_counts/C1.npy", "vocab/C26.npy"} <= set(got)
    for name in expected:  # byte for byte: arrays, schema.json, cat_counts, vocab
        assert got[name] == expected[name], name
    assert spread.schema == single.schema
    for split in ("train", "valid", "test"):
        a, b = single.split(split), spread.split(split)
        np.testing.assert_array_equal(np.isnan(a.x_num), np.isnan(b.x_num))
        assert np.isnan(b.x_num).any()  # missing numeric values are really there
    assert sum(spread.split(s).n_rows for s in ("train", "valid", "test")) == sum(ROWS)
    assert not list((tmp_path / "spread").glob(".*partial"))  # the build folder was renamed


@pytest.mark.slow
def test_bad_row_in_a_task_is_the_same_one_line_error(
    local_ray: None, write_days: DayWriter, tmp_path: Path
) -> None:
    days = write_days([400, 500, 600, 300])
    lines = days[2].read_bytes().split(b"\n")
    fields = lines[41].split(b"\t")
    fields[20] = b"xyz"  # C7 on line 42 of the third day
    lines[41] = b"\t".join(fields)
    days[2].write_bytes(b"\n".join(lines))
    config = PreprocessConfig()
    with pytest.raises(HarnessError) as single:
        prepare_criteo(days, config, cache_root=tmp_path / "single", progress=False)
    with pytest.raises(HarnessError) as spread:
        prepare_distributed(CRITEO, days, config, cache_root=tmp_path / "spread", progress=False)
    message = str(spread.value)
    assert message == str(single.value)
    assert message.startswith("day_2 line 42: column C7 is 'xyz', expected 8 hex digits")
    assert "\n" not in message and type(spread.value) is HarnessError  # not Ray's wrapper
    assert list((tmp_path / "spread").iterdir()) == []  # no cache, no build folder


def test_a_cache_hit_starts_no_ray(
    write_days: DayWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    days = write_days([500, 600])
    config = PreprocessConfig(protocol="x4")
    single = prepare_criteo(days, config, cache_root=tmp_path, progress=False)

    def no_ray(*args: object, **kwargs: object) -> None:
        raise AssertionError("Ray was started for a cached dataset")

    monkeypatch.setattr(distributed, "ray_session", no_ray)
    assert (
        prepare_distributed(CRITEO, days, config, cache_root=tmp_path).cache_dir == single.cache_dir
    )
    with pytest.raises(HarnessError, match="cannot be used with address"):
        prepare_distributed(
            CRITEO, days[:1], config, cache_root=tmp_path, address="auto", num_cpus=2
        )
