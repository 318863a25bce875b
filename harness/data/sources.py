"""Where a dataset's raw files come from: ``--data``, else ``$HARNESS_DATA_DIR``, else the cache.

A card names its main file's candidate names (``files``), or a prefix of numbered shard files
(``numbered = "day_"``: ``day_0`` .. ``day_N``, Criteo 1TB), and the side tables it joins. The
side tables are looked for beside the main file; a main file without them is an error, never
a silent fallback. When nothing holds the dataset, the caller falls back to a synthetic
stand-in and says so. Pre-split data (``--data train --valid v
--test t``) is three main files with their splits.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.data.card import DatasetCard, load_card
from harness.data.preprocess import DataFiles
from harness.errors import HarnessError
from harness.paths import downloads_dir

__all__ = ["DataSource", "numbered_files", "resolve_data"]


@dataclass(frozen=True)
class DataSource:
    """The raw data a run reads, or nothing found.

    Attributes:
        path: the main file, or for numbered shards the folder holding them (None: not found).
        origin: ``"--data"``, ``"HARNESS_DATA_DIR"``, ``"cache"`` or ``"none"``.
        files: the files to read (main shards in order, side tables, pre-split codes).
    """

    path: Path | None
    origin: str
    files: DataFiles | None = None

    @property
    def found(self) -> bool:
        return self.path is not None


def numbered_files(folder: Path, prefix: str) -> tuple[Path, ...]:
    """``<prefix>0`` .. ``<prefix>N`` (plain or ``.gz``) in ``folder``, in number order; ().

    Raises:
        HarnessError: a number present both plain and gzipped, or a gap in the numbers (the
            message names the missing file: a gap is almost always an unfinished download).
    """
    pattern = re.compile(re.escape(prefix) + r"(\d+)(\.gz)?")
    found: dict[int, Path] = {}
    for path in sorted(Path(folder).iterdir()):
        match = pattern.fullmatch(path.name)
        if match is None or not path.is_file():
            continue
        number = int(match.group(1))
        if number in found:
            raise HarnessError(
                f"{folder}: {prefix}{number} is there twice ({found[number].name} and "
                f"{path.name}); keep one of them"
            )
        found[number] = path
    if not found:
        return ()
    missing = sorted(set(range(max(found) + 1)) - set(found))
    if missing:
        raise HarnessError(
            f"{folder}: {prefix}{missing[0]} is missing but {prefix}{max(found)} is there; "
            f"finish the download (files must run from {prefix}0 without gaps)"
        )
    return tuple(found[n] for n in sorted(found))


def _expected(card: DatasetCard) -> str:
    if card.numbered is not None:
        return f"numbered files {card.numbered}0, {card.numbered}1, .. (plain or .gz)"
    return " or ".join(card.files)


def _sides(card: DatasetCard, folder: Path) -> tuple[Path, ...]:
    """The card's side tables in ``folder``.

    Raises:
        HarnessError: one is missing (a half-copied dataset must not silently become a
            synthetic run).
    """
    sides = []
    for join in card.joins:
        found = next((folder / n for n in join.files if (folder / n).is_file()), None)
        if found is None:
            raise _side_error(card, folder)
        sides.append(found)
    return tuple(sides)


def _main_in(folder: Path, card: DatasetCard) -> DataFiles | None:
    """The card's files in ``folder``; None when its main file is not there.

    Raises:
        HarnessError: the main file is there but a side table is not (a half-copied dataset
            must not silently become a synthetic run).
    """
    if not folder.is_dir():
        return None
    if card.numbered is not None:
        shards = numbered_files(folder, card.numbered)
        if not shards:
            return None
        return DataFiles(shards, sides=_sides(card, folder))
    for name in card.files:
        if (folder / name).is_file():
            return DataFiles((folder / name,), sides=_sides(card, (folder / name).parent))
    return None


def _find_in(folder: Path, card: DatasetCard, origin: str) -> DataSource | None:
    for sub in (folder / card.name, folder):
        files = _main_in(sub, card)
        if files is not None:
            path = sub if card.numbered is not None else files.main[0]
            return DataSource(path, origin, files)
    return None


def _side_error(card: DatasetCard, folder: Path) -> HarnessError:
    missing = [j for j in card.joins if not any((folder / n).is_file() for n in j.files)]
    return HarnessError(
        f"{folder}: the {card.name} card joins {' or '.join(missing[0].files)} (on "
        f"{missing[0].on}), which is not in the folder; put it beside the main file"
    )


def resolve_data(
    dataset: str | DatasetCard,
    data: str | None,
    env: Mapping[str, str] | None = None,
    *,
    valid: str | None = None,
    test: str | None = None,
) -> DataSource:
    """Finds the raw data of a dataset.

    Args:
        dataset: a card, or a card's name.
        data: the ``--data`` argument: a file, or a folder holding one of the card's files (or
            a ``<name>/`` folder one level down). When given it must exist: a typo never
            silently turns into a synthetic run.
        env: environment (default ``os.environ``), read for ``HARNESS_DATA_DIR``.
        valid, test: pre-split files (``--valid``, ``--test``); they need ``data`` too.

    Returns:
        The data and where it was found, or ``DataSource(None, "none")``.

    Raises:
        HarnessError: a path that does not exist, a folder without the card's files, a side
            table missing beside the main file, or only some of the pre-split files.
    """
    card = dataset if isinstance(dataset, DatasetCard) else load_card(dataset)
    env = os.environ if env is None else env
    if (valid is None) != (test is None) or (valid is not None and data is None):
        raise HarnessError("pre-split data needs all three: --data TRAIN --valid VALID --test TEST")
    if data is not None:
        path = Path(data).expanduser()
        if valid is not None and test is not None:
            return _presplit(card, path, Path(valid).expanduser(), Path(test).expanduser())
        if path.is_file():
            return DataSource(path, "--data", DataFiles((path,), sides=_sides(card, path.parent)))
        if path.is_dir():
            if found := _find_in(path, card, "--data"):
                return found
            raise HarnessError(
                f"--data {data}: folder holds no {_expected(card)}; pass the file itself"
            )
        raise HarnessError(f"--data {data}: no such file or folder")
    folder = env.get("HARNESS_DATA_DIR")
    if folder and (found := _find_in(Path(folder).expanduser(), card, "HARNESS_DATA_DIR")):
        return found
    if found := _find_in(downloads_dir(), card, "cache"):
        return found
    return DataSource(None, "none")


def _presplit(card: DatasetCard, train: Path, valid: Path, test: Path) -> DataSource:
    for flag, path in (("--data", train), ("--valid", valid), ("--test", test)):
        if not path.is_file():
            raise HarnessError(f"{flag} {path}: no such file (pre-split data is three files)")
    sides = _sides(card, train.parent)
    return DataSource(train, "--data", DataFiles((train, valid, test), (0, 1, 2), sides))
