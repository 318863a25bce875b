"""`harness data prepare criteo-1tb --workers N / --address`: the distributed path from the CLI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from harness.cli import main
from harness.data.preprocess import PreprocessConfig, prepare_criteo

ray = pytest.importorskip("ray")

DayWriter = Callable[..., list[Path]]  # the conftest fixtures' types
CacheContents = Callable[[str | None], dict[str, bytes]]


@pytest.mark.slow
def test_prepare_with_workers(
    harness_home: Path,
    write_days: DayWriter,
    cache_contents: CacheContents,
    capsys: pytest.CaptureFixture[str],
) -> None:
    days = write_days([700, 900, 500], gz={0})
    assert not ray.is_initialized()
    code = main(["data", "prepare", "criteo-1tb", "--data", str(days[0].parent), "--workers", "2"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("criteo-1tb: train 1680, valid 210, test 210; 13 numeric, 26 categorical")
    assert not ray.is_initialized()  # the local cluster it started is shut down

    (cache,) = (harness_home / "cache").iterdir()
    single = prepare_criteo(
        days, PreprocessConfig(), cache_root=harness_home / "single", name="criteo-1tb"
    )
    assert cache.name == Path(str(single.cache_dir)).name
    assert cache_contents(str(cache)) == cache_contents(single.cache_dir)


def test_address_and_workers_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["data", "prepare", "criteo-1tb", "--address", "auto", "--workers", "2"])
    assert exit_.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
