"""Ray's local processes end with the run, however the run ends (``kill -9`` included).

A killed driver leaves the local Ray's dashboard and runtime-env agents running (with an open
port) for minutes. ``start_reaper`` starts a small watcher in its own session holding the read
end of a pipe whose write end only the driver has: when the driver exits, however it exits, the
pipe closes and the watcher kills the processes it was given (the GCS, the raylet and the
raylet's children), each checked by its start time so that a reused pid is never touched.

Run as ``python -m harness.distributed.reaper PID:START ...`` by ``start_reaper`` only.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["children_of", "start_reaper", "start_time"]


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (None: no such process)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces: fields after it follow the last ")".
    return int(stat.rsplit(")", 1)[1].split()[19])


def children_of(pids: Iterable[int]) -> list[int]:
    """The direct children of the given processes (Linux ``/proc``)."""
    parents = set(pids)
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int(entry.joinpath("stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid in parents:
            out.append(int(entry.name))
    return out


def start_reaper(pids: Sequence[int]) -> subprocess.Popen[bytes] | None:
    """Starts the watcher for ``pids`` (None where there is no ``/proc``: nothing to do)."""
    marks = [f"{pid}:{start}" for pid in pids if (start := start_time(pid)) is not None]
    if not marks:
        return None
    return subprocess.Popen(
        [sys.executable, "-m", "harness.distributed.reaper", *marks],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C to the run's process group does not reach it
    )


def _main(marks: Sequence[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.stdin.buffer.read()  # returns when the driver's end closes: it exited or shut Ray down
    time.sleep(1.0)  # a clean shutdown stops them itself; this is for the rest
    for mark in marks:
        pid, start = (int(x) for x in mark.split(":"))
        if start_time(pid) == start:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


if __name__ == "__main__":
    _main(sys.argv[1:])
