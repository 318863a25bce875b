"""Where a suite's raw data comes from: ``--data``, else ``$HARNESS_DATA_DIR``, else the cache.

A dataset is one training file (``criteo``: ``train.txt``) or a folder of day files
(``criteo-1tb``: ``day_0`` .. ``day_23``). When none holds the dataset, the caller falls back to a
synthetic dataset and says so.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.data.criteo_1tb import DAY_FILE_PATTERN, day_files
from harness.errors import HarnessError
from harness.paths import downloads_dir

__all__ = ["CANDIDATE_NAMES", "DAY_FILE_DATASETS", "DataSource", "resolve_data"]

# File names looked for inside a folder, in order: the Kaggle/dac training file, plain or gzipped.
CANDIDATE_NAMES: dict[str, tuple[str, ...]] = {
    "criteo": ("train.txt", "train.txt.gz", "dac/train.txt", "dac/train.txt.gz"),
}
# Datasets that are a folder of numbered day files (see `harness.data.criteo_1tb.day_files`).
DAY_FILE_DATASETS: frozenset[str] = frozenset({"criteo-1tb"})


@dataclass(frozen=True)
class DataSource:
    """The raw data a run reads, or None when no real data was found.

    Attributes:
        path: the file, or for a day-file dataset the folder holding the days (None: not found).
        origin: ``"--data"``, ``"HARNESS_DATA_DIR"``, ``"cache"`` or ``"none"``.
        files: the raw files to read, in order: ``(path,)`` for a one-file dataset, the day files
            for a day-file dataset.
    """

    path: Path | None
    origin: str
    files: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        if self.path is not None and not self.files:
            object.__setattr__(self, "files", (self.path,))

    @property
    def found(self) -> bool:
        return self.path is not None


def _find_in(folder: Path, dataset: str, origin: str) -> DataSource | None:
    for sub in (folder / dataset, folder):
        if dataset in DAY_FILE_DATASETS:
            if sub.is_dir() and (days := day_files(sub)):
                return DataSource(sub, origin, days)
            continue
        for name in CANDIDATE_NAMES[dataset]:
            if (sub / name).is_file():
                return DataSource(sub / name, origin)
    return None


def _expected(dataset: str) -> str:
    if dataset in DAY_FILE_DATASETS:
        return f"day files {DAY_FILE_PATTERN}"
    return " or ".join(CANDIDATE_NAMES[dataset])


def resolve_data(
    dataset: str, data: str | None, env: Mapping[str, str] | None = None
) -> DataSource:
    """Finds the raw data of ``dataset``.

    Args:
        dataset: a dataset name with known file names (``criteo``, ``criteo-1tb``).
        data: the ``--data`` argument: a file, or a folder holding one of the known file names
            (for ``criteo-1tb``: the day files, or one ``criteo-1tb/`` folder down). When given it
            must exist: a typo never silently turns into a synthetic run.
        env: environment (default ``os.environ``), read for ``HARNESS_DATA_DIR``.

    Returns:
        The data and where it was found, or ``DataSource(None, "none")``.
    """
    known = sorted({*CANDIDATE_NAMES, *DAY_FILE_DATASETS})
    if dataset not in known:
        raise HarnessError(f"no known files for dataset {dataset!r}; valid: {', '.join(known)}")
    env = os.environ if env is None else env
    if data is not None:
        path = Path(data).expanduser()
        if path.is_file():
            return DataSource(path, "--data")
        if path.is_dir():
            if found := _find_in(path, dataset, "--data"):
                return found
            raise HarnessError(
                f"--data {data}: folder holds no {_expected(dataset)}; pass the file itself"
            )
        raise HarnessError(f"--data {data}: no such file or folder")
    folder = env.get("HARNESS_DATA_DIR")
    if folder and (found := _find_in(Path(folder).expanduser(), dataset, "HARNESS_DATA_DIR")):
        return found
    if found := _find_in(downloads_dir(), dataset, "cache"):
        return found
    return DataSource(None, "none")
