"""Where harness keeps what it downloads and caches, and where a run writes its outputs."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "cache_root",
    "downloads_dir",
    "first_in",
    "harness_home",
    "lookup_folders",
    "names_in",
    "shipped_folder",
]


def harness_home() -> Path:
    """``$HARNESS_HOME``, else ``$XDG_CACHE_HOME/harness``, else ``~/.cache/harness``."""
    if home := os.environ.get("HARNESS_HOME"):
        return Path(home).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "harness"


def cache_root() -> Path:
    """Encoded datasets (memory-mapped arrays), keyed by file identity and protocol."""
    return harness_home() / "cache"


def downloads_dir() -> Path:
    """Raw files fetched by ``harness data fetch`` and generated synthetic files."""
    return harness_home() / "downloads"


def shipped_folder(name: str) -> Path:
    """A folder of files shipped beside the package (``search_spaces``, ``datasets``)."""
    return Path(__file__).resolve().parent.parent / name


def lookup_folders(name: str, explicit: Path | None = None) -> list[Path]:
    """Where files are looked for, first match wins: ``explicit`` alone when given, else the
    working directory's ``./<name>`` (your own files) and then the shipped one, so a local
    folder adds to the shipped files instead of hiding them."""
    if explicit is not None:
        return [explicit]
    folders = []
    local = Path(name)
    if local.is_dir() and local.resolve() != shipped_folder(name):
        folders.append(local)
    folders.append(shipped_folder(name))
    return folders


def names_in(folders: Sequence[Path]) -> tuple[str, ...]:
    """The stems of every ``*.toml`` file in the folders, sorted and without repeats."""
    return tuple(sorted({p.stem for folder in folders for p in folder.glob("*.toml")}))


def first_in(name: str, folders: Sequence[Path], *, skip: Path | None = None) -> Path | None:
    """The first ``<name>.toml`` in the folders, other than ``skip`` (a local file that takes a
    shipped file's name and inherits from it)."""
    for folder in folders:
        path = folder / f"{name}.toml"
        if path.is_file() and (skip is None or path.resolve() != skip.resolve()):
            return path
    return None
