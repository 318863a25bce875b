"""Where harness keeps what it downloads and caches, and where a run writes its outputs."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_root", "downloads_dir", "harness_home"]


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
