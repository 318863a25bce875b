"""Where a suite's raw data comes from: ``--data``, else ``$HARNESS_DATA_DIR``, else the cache.

When none holds the dataset, the caller falls back to a synthetic dataset and says so.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.paths import downloads_dir

__all__ = ["CANDIDATE_NAMES", "DataSource", "resolve_data"]

# File names looked for inside a folder, in order: the Kaggle/dac training file, plain or gzipped.
CANDIDATE_NAMES: dict[str, tuple[str, ...]] = {
    "criteo": ("train.txt", "train.txt.gz", "dac/train.txt", "dac/train.txt.gz"),
}


@dataclass(frozen=True)
class DataSource:
    """The raw file a run reads, or None when no real data was found."""

    path: Path | None
    origin: str  # "--data", "HARNESS_DATA_DIR", "cache" or "none"

    @property
    def found(self) -> bool:
        return self.path is not None


def _find_in(folder: Path, dataset: str) -> Path | None:
    for sub in (folder / dataset, folder):
        for name in CANDIDATE_NAMES[dataset]:
            if (sub / name).is_file():
                return sub / name
    return None


def resolve_data(
    dataset: str, data: str | None, env: Mapping[str, str] | None = None
) -> DataSource:
    """Finds the raw training file of ``dataset``.

    Args:
        dataset: a dataset name with known file names (``criteo``).
        data: the ``--data`` argument: a file, or a folder holding one of the known file names.
            When given it must exist: a typo never silently turns into a synthetic run.
        env: environment (default ``os.environ``), read for ``HARNESS_DATA_DIR``.

    Returns:
        The file and where it was found, or ``DataSource(None, "none")``.
    """
    if dataset not in CANDIDATE_NAMES:
        raise HarnessError(
            f"no known files for dataset {dataset!r}; valid: {', '.join(sorted(CANDIDATE_NAMES))}"
        )
    env = os.environ if env is None else env
    names = " or ".join(CANDIDATE_NAMES[dataset])
    if data is not None:
        path = Path(data).expanduser()
        if path.is_file():
            return DataSource(path, "--data")
        if path.is_dir():
            if found := _find_in(path, dataset):
                return DataSource(found, "--data")
            raise HarnessError(f"--data {data}: folder holds no {names}; pass the file itself")
        raise HarnessError(f"--data {data}: no such file or folder")
    folder = env.get("HARNESS_DATA_DIR")
    if folder and (found := _find_in(Path(folder).expanduser(), dataset)):
        return DataSource(found, "HARNESS_DATA_DIR")
    if found := _find_in(downloads_dir(), dataset):
        return DataSource(found, "cache")
    return DataSource(None, "none")
