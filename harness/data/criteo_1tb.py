"""Criteo 1TB click logs: a folder of day files ``day_0`` .. ``day_23``, prepared as one dataset.

The day files have the Kaggle file's 40-column format (``datasets/criteo-1tb.toml`` inherits the
criteo card), plain or gzip; they are read in day order as if concatenated, so the
``sequential`` protocol trains on the first days and tests on the last. Any run of consecutive
days from ``day_0`` is accepted (a subset of the days is a smaller benchmark, not an error); a gap
is an error, since a missing day in the middle is almost always an unfinished download.
"""

from __future__ import annotations

import re
from pathlib import Path

from harness.data.card import load_card
from harness.data.preprocess import PreprocessConfig, Sources, as_paths, prepare_dataset
from harness.data.schema import EncodedDataset
from harness.data.sources import numbered_files
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
    for path in sorted(Path(folder).iterdir()):
        match = _DAY.fullmatch(path.name)
        if match is not None and path.is_file() and int(match.group(1)) >= DAYS:
            raise HarnessError(
                f"{path}: Criteo 1TB has days 0 .. {DAYS - 1}, not {int(match.group(1))}"
            )
    return numbered_files(folder, "day_")


def prepare_criteo_1tb(
    source: Sources,
    config: PreprocessConfig,
    *,
    cache_root: Path,
    progress: bool = True,
    synthetic: bool = False,
) -> EncodedDataset:
    """Prepare a folder of day files (or the given files) in this process.

    Raises:
        HarnessError: a folder without day files, or anything preprocessing raises.
    """
    paths = as_paths(source)
    if len(paths) == 1 and paths[0].is_dir():
        found = day_files(paths[0])
        if not found:
            raise HarnessError(f"{paths[0]}: no day files {DAY_FILE_PATTERN} in the folder")
        paths = found
    return prepare_dataset(
        load_card("criteo-1tb"),
        paths,
        config,
        cache_root=cache_root,
        progress=progress,
        synthetic=synthetic,
    )
