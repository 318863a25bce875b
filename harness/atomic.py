"""Files written whole or not at all, with the permissions the user's umask gives.

A temporary file in the target's folder is written, given ``0o666 & ~umask`` (``mkstemp`` alone
would leave ``0o600``) and moved over the target with ``os.replace``: a reader, or a crash,
sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

__all__ = ["default_mode", "replace_atomically", "write_text_atomic"]


def default_mode() -> int:
    """``0o666`` less the process umask: what ``open(path, "w")`` creates.

    Read from ``/proc`` where it can be: setting the umask to read it would, for an instant,
    let another thread create world-writable files.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except OSError:
        pass
    umask = os.umask(0o077)
    os.umask(umask)
    return 0o666 & ~umask


def replace_atomically(path: Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Calls ``write`` on a temporary file beside ``path``, syncs it and moves it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, default_mode())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: Path, text: str) -> Path:
    """Writes ``text`` (UTF-8) to ``path`` atomically."""
    data = text.encode("utf-8")

    def write(f: IO[bytes]) -> None:
        f.write(data)

    return replace_atomically(path, write)
