"""One Ctrl-C stops the whole run: the first SIGINT (or SIGTERM) asks it to stop, a second quits.

``StopRequest.listening()`` installs the handlers for a block of work. The first signal sets the
request and prints one line: no trial starts after it, the running trials are stopped through
``StopTrials`` (a Ray Tune stopper), they are recorded as interrupted, the leaderboard of what
finished is written and the run exits 130. A second Ctrl-C raises ``KeyboardInterrupt`` at once.
Ray Tune's own SIGINT handler (which ends only the current model's tuning) is switched off.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

from ray import tune

__all__ = ["StopRequest", "StopTrials"]


class StopRequest:
    """Whether the user asked the run to stop (see the module docstring)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signum: int | None = None

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def request(self, signum: int | None = None) -> None:
        self.signum = self.signum or signum
        self._event.set()

    @contextlib.contextmanager
    def listening(self, announce: Callable[[str], None]) -> Iterator[StopRequest]:
        """Handles SIGINT and SIGTERM in this block (main thread only; elsewhere a no-op)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        saved_env = os.environ.get("TUNE_DISABLE_SIGINT_HANDLER")
        os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"

        def handle(signum: int, _frame: FrameType | None) -> None:
            if self.requested:
                raise KeyboardInterrupt
            self.request(signum)
            announce(
                "stopping: no new trial starts, running trials are stopped and recorded, "
                "the leaderboard of what finished is written (Ctrl-C again quits at once)"
            )

        previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            if saved_env is None:
                os.environ.pop("TUNE_DISABLE_SIGINT_HANDLER", None)
            else:
                os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = saved_env


class StopTrials(tune.Stopper):
    """Ends the Ray Tune experiment (every running trial) once a stop is requested."""

    def __init__(self, stop: StopRequest) -> None:
        self._stop = stop

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return False

    def stop_all(self) -> bool:
        return self._stop.requested

    def __getstate__(self) -> dict[str, Any]:
        # Ray pickles its run config; an event does not pickle (the copy never stops anything).
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._stop = StopRequest()
