"""Criteo 1TB click logs: a folder of day files ``day_0`` .. ``day_23``, prepared as one dataset.

The day files have the Kaggle file's 40-column format (`harness.data.criteo`), plain or gzip;
they are read in day order as if concatenated, so the ``sequential`` protocol trains on the first
days and tests on the last. Any run of consecutive days from ``day_0`` is accepted (a subset of
the days is a smaller benchmark, not an error); a gap is an error, since a missing day in the
middle is almost always an unfinished download. See ``datasets/criteo-1tb.md``.
"""

from __future__ import annotations

import re
from pathlib import Path

from harness.data.preprocess import PreprocessConfig, Sources, as_paths, prepare_criteo
from harness.data.schema import EncodedDataset
from harness.errors import HarnessError

__all__ = ["DAYS", "DAY_FILE_PATTERN", "day_files", "prepare_criteo_1tb"]

DAYS = 24
DAY_FILE_PATTERN = "day_0 .. day_23 (plain or .gz)"
_DAY = re.compile(r"day_(\d+)(\.gz)?")


def day_files(folder: Path) -> tuple[Path, ...]:
    """The day files in ``folder``, in day order (``day_2`` before ``day_10``); () if none.

    Raises:
        HarnessError: a day present both plain and gzipped, a day number beyond 23, or a gap
            in the days (the message names the missing day).
    """
    days: dict[int, Path] = {}
    for path in sorted(Path(folder).iterdir()):
        match = _DAY.fullmatch(path.name)
        if match is None or not path.is_file():
            continue
        day = int(match.group(1))
        if day in days:
            raise HarnessError(
                f"{folder}: day {day} is there twice ({days[day].name} and {path.name}); "
                "keep one of them"
            )
        if day >= DAYS:
            raise HarnessError(f"{path}: Criteo 1TB has days 0 .. {DAYS - 1}, not {day}")
        days[day] = path
    if not days:
        return ()
    missing = sorted(set(range(max(days) + 1)) - set(days))
    if missing:
        raise HarnessError(
            f"{folder}: day_{missing[0]} is missing but day_{max(days)} is there; "
            "finish the download (days must run from day_0 without gaps)"
        )
    return tuple(days[d] for d in sorted(days))


def prepare_criteo_1tb(
    source: Sources,
    config: PreprocessConfig,
    *,
    cache_root: Path,
    progress: bool = True,
    name: str = "criteo-1tb",
    synthetic: bool = False,
) -> EncodedDataset:
    """Prepare a folder of day files (or the given files) in this process.

    Args:
        source: a folder holding ``day_0`` .. ``day_N`` (see `day_files`), or the raw files.
        config, cache_root, progress, name, synthetic: as for `prepare_criteo`.

    Raises:
        HarnessError: a folder without day files, or anything `prepare_criteo` raises.
    """
    paths = as_paths(source)
    if len(paths) == 1 and paths[0].is_dir():
        found = day_files(paths[0])
        if not found:
            raise HarnessError(f"{paths[0]}: no day files {DAY_FILE_PATTERN} in the folder")
        paths = found
    return prepare_criteo(
        paths, config, cache_root=cache_root, progress=progress, name=name, synthetic=synthetic
    )
